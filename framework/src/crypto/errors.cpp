// SPDX-License-Identifier: Apache-2.0
#include "portal/crypto/errors.hpp"

#include "detail/error_category.hpp"

namespace portal::crypto {
namespace {

const char* describe(Errc e) noexcept {
  switch (e) {
    case Errc::InvalidKeyLength: return "key has the wrong length";
    case Errc::InvalidSignatureLength: return "signature is not 64 bytes";
    case Errc::BadSignature: return "signature does not verify";
    case Errc::LowOrderPoint: return "X25519 peer key is a low-order point";
    case Errc::OutputTooLong: return "HKDF output longer than 255 * 32 bytes";
  }
  return nullptr;
}

}  // namespace

const boost::system::error_category& crypto_category() noexcept {
  static const detail::EnumCategory<Errc> category("portal.crypto", describe);
  return category;
}

}  // namespace portal::crypto
