// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/identity/credential.hpp"

namespace portal::identity {

/// The PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----") form of a credential's seed: the RFC 8410
/// OneAsymmetricKey v1 structure that `openssl genpkey -algorithm ed25519` writes and
/// `openssl pkey` reads. Pure text in, text out: reading and writing key files is
/// portal/platform/key_file.hpp.
[[nodiscard]] PORTAL_API std::string to_pkcs8_pem(const Credential& credential);

/// Reads a credential from PKCS#8 PEM text. Accepts the RFC 8410 v1 form and the RFC 5958 v2 form
/// (with the public key attached, checked against the seed); text around the PEM block is
/// ignored. Errors: Errc::KeyFileNotPem, Errc::KeyFileNotEd25519.
[[nodiscard]] PORTAL_API base::Result<Credential> from_pkcs8_pem(std::string_view pem);

}  // namespace portal::identity
