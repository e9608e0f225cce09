// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/base/secret.hpp"

namespace portal::crypto {

/// The most bytes HKDF-SHA256 can produce (RFC 5869: 255 * HashLen).
inline constexpr std::size_t kHkdfSha256MaxOutput = 255 * 32;

/// HKDF-Extract (RFC 5869 §2.2) with SHA-256: PRK = HMAC(salt, ikm). An empty salt means
/// 32 zero bytes, as the RFC says.
[[nodiscard]] PORTAL_API base::SecretArray<32> hkdf_sha256_extract(base::ByteSpan salt,
                                                                   base::ByteSpan ikm) noexcept;

/// HKDF-Expand (RFC 5869 §2.3) with SHA-256 into `out` (its whole length).
/// Errors: Errc::OutputTooLong when out.size() > kHkdfSha256MaxOutput (out is untouched).
[[nodiscard]] PORTAL_API base::Result<void> hkdf_sha256_expand(base::ByteSpan prk,
                                                               base::ByteSpan info,
                                                               base::MutableByteSpan out) noexcept;

/// Extract then expand: the full HKDF-SHA256 into `out`.
/// Errors: Errc::OutputTooLong.
[[nodiscard]] PORTAL_API base::Result<void> hkdf_sha256(base::ByteSpan ikm, base::ByteSpan salt,
                                                        base::ByteSpan info,
                                                        base::MutableByteSpan out) noexcept;

}  // namespace portal::crypto
