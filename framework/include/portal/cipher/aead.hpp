// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <type_traits>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::cipher {

/// Errors of AEAD implementations.
enum class Errc {
  UnknownAlgorithm = 1,  ///< the factory does not implement the requested algorithm
  InvalidKeyLength,      ///< the key is not key_size() bytes
  InvalidNonceLength,    ///< the nonce is not nonce_size() bytes
  BufferSizeMismatch,    ///< the output is not input +/- tag_size() bytes
  BufferOverlap,         ///< input and output overlap without being exactly in place
  AuthenticationFailed,  ///< the tag does not verify: wrong key, nonce or tampered data
};

/// The category of cipher::Errc ("portal.cipher").
PORTAL_API const boost::system::error_category& cipher_category() noexcept;

/// `e` as an error code of this module's category. Found by argument-dependent lookup, it
/// lets an Errc convert to base::ErrorCode and compare with one.
inline base::ErrorCode make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), cipher_category()};
}

/// An authenticated cipher bound to one key (RFC 5116 style: nonce, associated data, plaintext
/// -> ciphertext || tag). Not thread-safe: use one object per direction or per thread.
///
/// Buffers: input and output are either the same memory (in place: output starts at input) or do
/// not overlap at all; any other overlap is Errc::BufferOverlap.
class PORTAL_API Aead {
 public:
  Aead() = default;
  Aead(const Aead&) = delete;
  Aead& operator=(const Aead&) = delete;
  virtual ~Aead();

  /// The algorithm's name as the plugin provides it, e.g. "chacha20-poly1305"; the string lives as
  /// long as the plugin is loaded.
  [[nodiscard]] virtual std::string_view algorithm() const noexcept = 0;
  /// Key length in bytes that AeadFactory::create() requires (32 for ChaCha20-Poly1305).
  [[nodiscard]] virtual std::size_t key_size() const noexcept = 0;
  /// Nonce length in bytes that seal() and open() require (12 for ChaCha20-Poly1305). The caller
  /// must never repeat a nonce under one key.
  [[nodiscard]] virtual std::size_t nonce_size() const noexcept = 0;
  /// Authentication tag length in bytes: what seal() adds and open() removes (16 for
  /// ChaCha20-Poly1305).
  [[nodiscard]] virtual std::size_t tag_size() const noexcept = 0;

  /// Encrypts `plaintext` and writes ciphertext || tag to `out`, which must be
  /// plaintext.size() + tag_size() bytes. Errors: Errc::InvalidNonceLength,
  /// Errc::BufferSizeMismatch, Errc::BufferOverlap.
  [[nodiscard]] virtual base::Result<void> seal(base::ByteSpan nonce, base::ByteSpan aad,
                                                base::ByteSpan plaintext,
                                                base::MutableByteSpan out) noexcept = 0;

  /// Verifies and decrypts `sealed` (ciphertext || tag) into `out`, which must be
  /// sealed.size() - tag_size() bytes. On failure `out` is zeroed: unauthenticated plaintext is
  /// never released. Errors: Errc::AuthenticationFailed, Errc::InvalidNonceLength,
  /// Errc::BufferSizeMismatch, Errc::BufferOverlap.
  [[nodiscard]] virtual base::Result<void> open(base::ByteSpan nonce, base::ByteSpan aad,
                                                base::ByteSpan sealed,
                                                base::MutableByteSpan out) noexcept = 0;
};

/// Checks the buffer rules shared by every implementation: sizes and overlap. For seal,
/// `in` is the plaintext and out.size() must be in.size() + tag; for open the reverse.
PORTAL_API base::Result<void> check_buffers(base::ByteSpan in, base::MutableByteSpan out,
                                            std::size_t expected_out) noexcept;

}  // namespace portal::cipher

template <>
struct boost::system::is_error_code_enum<portal::cipher::Errc> : std::true_type {};
