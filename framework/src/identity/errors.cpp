// SPDX-License-Identifier: Apache-2.0
#include "portal/identity/errors.hpp"

#include "detail/error_category.hpp"

namespace portal::identity {
namespace {

const char* describe(Errc e) noexcept {
  switch (e) {
    case Errc::InvalidPublicKey: return "identity public key is not 32 bytes";
    case Errc::IdMismatch: return "identity ID does not match its public key";
    case Errc::MalformedIdentity: return "malformed Identity message";
    case Errc::InvalidSeed: return "Ed25519 seed is not 32 bytes";
    case Errc::KeyFileNotFound: return "key file does not exist";
    case Errc::KeyFileUnreadable: return "key file cannot be read";
    case Errc::KeyFileNotRegular: return "key path is not a regular file";
    case Errc::KeyFileTooOpen:
      return "key file is accessible by group or others; it must be mode 0600 or stricter";
    case Errc::KeyFileTooLarge: return "key file is too large to be a private key";
    case Errc::KeyFileNotPem:
      return "key file holds no unencrypted PKCS#8 PEM block (-----BEGIN PRIVATE KEY-----)";
    case Errc::KeyFileNotEd25519: return "key file is not a valid PKCS#8 Ed25519 private key";
    case Errc::KeyFileExists: return "key file already exists";
    case Errc::KeyFileWriteFailed: return "key file could not be written";
  }
  return nullptr;
}

}  // namespace

const boost::system::error_category& identity_category() noexcept {
  static const detail::EnumCategory<Errc> category("portal.identity", describe);
  return category;
}

}  // namespace portal::identity
