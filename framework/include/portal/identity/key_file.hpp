// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/identity/credential.hpp"

namespace portal::identity {

/// Largest key file read: a PEM Ed25519 key is about 120 bytes; anything past this is not one.
inline constexpr std::size_t kMaxKeyFileSize = 16 * 1024;

/// The PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----") form of a credential's seed: the RFC 8410
/// OneAsymmetricKey v1 structure that `openssl genpkey -algorithm ed25519` writes and
/// `openssl pkey` reads.
[[nodiscard]] PORTAL_API std::string to_pkcs8_pem(const Credential& credential);

/// Reads a credential from PKCS#8 PEM text. Accepts the RFC 8410 v1 form and the RFC 5958 v2 form
/// (with the public key attached, checked against the seed); text around the PEM block is
/// ignored. Errors: Errc::KeyFileNotPem, Errc::KeyFileNotEd25519.
[[nodiscard]] PORTAL_API base::Result<Credential> from_pkcs8_pem(std::string_view pem);

/// Loads a key file. Refuses, before reading any key material, a path that is not a regular
/// file, a file that group or others can access in any way (the mode must be 0600 or stricter),
/// and a file larger than kMaxKeyFileSize.
/// Errors: Errc::KeyFileNotFound, Errc::KeyFileUnreadable, Errc::KeyFileNotRegular,
/// Errc::KeyFileTooOpen, Errc::KeyFileTooLarge, and those of from_pkcs8_pem().
[[nodiscard]] PORTAL_API base::Result<Credential> load_key_file(const std::filesystem::path& path);

/// Whether save_key_file() may replace an existing file.
enum class Overwrite { No, Yes };

/// Writes a credential as PKCS#8 PEM, created with mode 0600. The file is written under a
/// temporary name in the same directory, synced, and renamed into place, so a crash never
/// leaves a partial key. Errors: Errc::KeyFileExists (Overwrite::No and the path exists),
/// Errc::KeyFileWriteFailed.
[[nodiscard]] PORTAL_API base::Result<void> save_key_file(const std::filesystem::path& path,
                                                          const Credential& credential,
                                                          Overwrite overwrite = Overwrite::No);

}  // namespace portal::identity
