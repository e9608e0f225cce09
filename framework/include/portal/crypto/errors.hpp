// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <type_traits>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::crypto {

/// Errors of the crypto module.
enum class Errc {
  InvalidKeyLength = 1,    ///< a key, seed or scalar has the wrong length
  InvalidSignatureLength,  ///< an Ed25519 signature is not 64 bytes
  BadSignature,            ///< an Ed25519 signature does not verify
  LowOrderPoint,  ///< X25519 produced the all-zero shared secret (peer sent a low-order point)
  OutputTooLong,  ///< HKDF was asked for more than 255 * 32 bytes
};

/// The category of crypto::Errc ("portal.crypto").
PORTAL_API const boost::system::error_category& crypto_category() noexcept;

/// `e` as an error code of this module's category. Found by argument-dependent lookup, it
/// lets an Errc convert to base::ErrorCode and compare with one.
inline base::ErrorCode make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), crypto_category()};
}

}  // namespace portal::crypto

template <>
struct boost::system::is_error_code_enum<portal::crypto::Errc> : std::true_type {};
