// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/identity/credential.hpp"

/// \file
/// Key files on disk: the part of an identity that needs a file system, kept out of the cores.
namespace portal::platform {

/// Largest key file read: a PEM Ed25519 key is about 120 bytes; anything past this is not one.
inline constexpr std::size_t kMaxKeyFileSize = 16 * 1024;

/// Loads a key file. Refuses, before reading any key material, a path that is not a regular
/// file, a file that group or others can access in any way (the mode must be 0600 or stricter),
/// and a file larger than kMaxKeyFileSize.
/// Errors (identity::Errc): KeyFileNotFound, KeyFileUnreadable, KeyFileNotRegular,
/// KeyFileTooOpen, KeyFileTooLarge, and those of identity::from_pkcs8_pem().
[[nodiscard]] PORTAL_API base::Result<identity::Credential> load_key_file(
    const std::filesystem::path& path);

/// Whether save_key_file() may replace an existing file.
enum class Overwrite { No, Yes };

/// Writes a credential as PKCS#8 PEM (identity::to_pkcs8_pem), created with mode 0600. The file is
/// written under a temporary name in the same directory, synced, and renamed into place, so a crash
/// never leaves a partial key. Errors: identity::Errc::KeyFileExists (Overwrite::No and the path
/// exists), or the system's reason a step failed (errno in boost::system::generic_category(), as
/// ENOSPC or EACCES: its message says why); identity::Errc::KeyFileWriteFailed only when the
/// system gave none.
[[nodiscard]] PORTAL_API base::Result<void> save_key_file(const std::filesystem::path& path,
                                                          const identity::Credential& credential,
                                                          Overwrite overwrite = Overwrite::No);

}  // namespace portal::platform
