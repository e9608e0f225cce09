// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <type_traits>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::identity {

/// Errors of the identity module: identity validation and key files.
enum class Errc {
  InvalidPublicKey = 1,  ///< an Identity's public key is not 32 bytes
  IdMismatch,            ///< an Identity's ID is not the one derived from its public key
  MalformedIdentity,     ///< bytes do not decode as an Identity message
  InvalidSeed,           ///< an Ed25519 seed is not 32 bytes
  KeyFileNotFound,       ///< the key file does not exist
  KeyFileUnreadable,     ///< the key file exists but could not be opened or read
  KeyFileNotRegular,     ///< the key path is not a regular file
  KeyFileTooOpen,        ///< group or others have access to the key file (must be 0600 or stricter)
  KeyFileTooLarge,       ///< the key file is larger than any PEM private key
  KeyFileNotPem,         ///< no "PRIVATE KEY" PEM block, or its base64 is broken
  KeyFileNotEd25519,     ///< the PKCS#8 structure is malformed or holds another algorithm
  KeyFileExists,         ///< refusing to overwrite an existing key file
  KeyFileWriteFailed,    ///< creating or writing the key file failed
};

/// The category of identity::Errc ("portal.identity").
PORTAL_API const boost::system::error_category& identity_category() noexcept;

/// `e` as an error code of this module's category. Found by argument-dependent lookup, it
/// lets an Errc convert to base::ErrorCode and compare with one.
inline base::ErrorCode make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), identity_category()};
}

}  // namespace portal::identity

template <>
struct boost::system::is_error_code_enum<portal::identity::Errc> : std::true_type {};
