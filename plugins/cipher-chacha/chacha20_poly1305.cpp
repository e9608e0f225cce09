// SPDX-License-Identifier: Apache-2.0
#include "chacha20_poly1305.hpp"

#include <cryptopp/chachapoly.h>

#include <cstring>
#include <new>

#include "portal/base/secret.hpp"
#include "portal/cipher/aead_factory.hpp"
#include "portal/plugin/guard.hpp"

namespace portal::plugins::chacha {
namespace {

constexpr std::size_t kKeySize = 32;
constexpr std::size_t kNonceSize = 12;
constexpr std::size_t kTagSize = 16;

// One keyed Crypto++ object per direction of use. The key schedule is done once in create();
// each message only resynchronises the nonce, which is Crypto++'s fastest path (its ChaCha20 core
// picks AVX2/SSE2 at run time).
class ChaCha20Poly1305 final : public cipher::Aead {
 public:
  explicit ChaCha20Poly1305(base::ByteSpan key) {
    // The nonce given here is a placeholder: every message supplies its own.
    const base::Byte no_nonce[kNonceSize] = {};
    enc_.SetKeyWithIV(key.data(), key.size(), no_nonce, sizeof no_nonce);
    dec_.SetKeyWithIV(key.data(), key.size(), no_nonce, sizeof no_nonce);
  }

  std::string_view algorithm() const noexcept override { return kAlgorithm; }
  std::size_t key_size() const noexcept override { return kKeySize; }
  std::size_t nonce_size() const noexcept override { return kNonceSize; }
  std::size_t tag_size() const noexcept override { return kTagSize; }

  base::Result<void> seal(base::ByteSpan nonce, base::ByteSpan aad, base::ByteSpan plaintext,
                          base::MutableByteSpan out) noexcept override {
    if (nonce.size() != kNonceSize) return cipher::Errc::InvalidNonceLength;
    if (auto r = cipher::check_buffers(plaintext, out, plaintext.size() + kTagSize); !r) return r;
    return plugin::guard([&]() -> base::Result<void> {
      // Crypto++ processes in place when input and output are the same pointer.
      enc_.EncryptAndAuthenticate(out.data(), out.data() + plaintext.size(), kTagSize, nonce.data(),
                                  static_cast<int>(nonce.size()), aad.data(), aad.size(),
                                  plaintext.data(), plaintext.size());
      return {};
    });
  }

  base::Result<void> open(base::ByteSpan nonce, base::ByteSpan aad, base::ByteSpan sealed,
                          base::MutableByteSpan out) noexcept override {
    if (nonce.size() != kNonceSize) return cipher::Errc::InvalidNonceLength;
    if (sealed.size() < kTagSize) return cipher::Errc::BufferSizeMismatch;
    const std::size_t n = sealed.size() - kTagSize;
    if (auto r = cipher::check_buffers(sealed.first(n), out, n); !r) return r;
    return plugin::guard([&]() -> base::Result<void> {
      // The tag is read before the ciphertext is overwritten: copy it out for in-place use.
      base::Byte tag[kTagSize];
      std::memcpy(tag, sealed.data() + n, kTagSize);
      const bool ok = dec_.DecryptAndVerify(out.data(), tag, kTagSize, nonce.data(),
                                            static_cast<int>(nonce.size()), aad.data(), aad.size(),
                                            sealed.data(), n);
      if (!ok) {
        base::secure_zero(out.data(), out.size());
        return cipher::Errc::AuthenticationFailed;
      }
      return {};
    });
  }

 private:
  CryptoPP::ChaCha20Poly1305::Encryption enc_;
  CryptoPP::ChaCha20Poly1305::Decryption dec_;
};

class Factory final : public cipher::AeadFactory {
 public:
  base::Result<std::unique_ptr<cipher::Aead>> create(std::string_view algorithm,
                                                     base::ByteSpan key) noexcept override {
    if (algorithm != kAlgorithm) return cipher::Errc::UnknownAlgorithm;
    if (key.size() != kKeySize) return cipher::Errc::InvalidKeyLength;
    return plugin::guard([&]() -> base::Result<std::unique_ptr<cipher::Aead>> {
      return std::unique_ptr<cipher::Aead>(std::make_unique<ChaCha20Poly1305>(key));
    });
  }
};

}  // namespace

cipher::AeadFactory& factory() noexcept {
  static Factory instance;
  return instance;
}

}  // namespace portal::plugins::chacha
