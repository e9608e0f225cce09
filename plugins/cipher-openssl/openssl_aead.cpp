// SPDX-License-Identifier: Apache-2.0
#include "openssl_aead.hpp"

#include <openssl/evp.h>

#include <climits>
#include <cstring>
#include <memory>
#include <new>

#include "portal/base/secret.hpp"
#include "portal/plugin/errors.hpp"
#include "portal/plugin/guard.hpp"

namespace portal::plugins::openssl {
namespace {

constexpr std::size_t kKeySize = 32;
constexpr std::size_t kNonceSize = 12;
constexpr std::size_t kTagSize = 16;
// EVP takes int lengths: longer inputs are fed in pieces of this size.
constexpr std::size_t kMaxPiece = std::size_t{1} << 30;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

// Feeds `in` through EncryptUpdate/DecryptUpdate (aad when out is null). Returns false on an EVP
// failure.
template <typename Update>
bool feed(Update update, EVP_CIPHER_CTX* ctx, base::Byte* out, const base::Byte* in,
          std::size_t n) noexcept {
  while (n > 0) {
    const std::size_t piece = n < kMaxPiece ? n : kMaxPiece;
    int written = 0;
    if (update(ctx, out, &written, in, static_cast<int>(piece)) != 1) return false;
    if (out != nullptr) out += written;
    in += piece;
    n -= piece;
  }
  return true;
}

// One key, two EVP contexts (one per direction of use), both keyed once at creation: each message
// only sets its nonce, so no key schedule and no allocation happens per message.
class EvpAead final : public cipher::Aead {
 public:
  EvpAead(std::string_view name, Ctx enc, Ctx dec) noexcept
      : name_(name), enc_(std::move(enc)), dec_(std::move(dec)) {}

  std::string_view algorithm() const noexcept override { return name_; }
  std::size_t key_size() const noexcept override { return kKeySize; }
  std::size_t nonce_size() const noexcept override { return kNonceSize; }
  std::size_t tag_size() const noexcept override { return kTagSize; }

  base::Result<void> seal(base::ByteSpan nonce, base::ByteSpan aad, base::ByteSpan plaintext,
                          base::MutableByteSpan out) noexcept override {
    if (nonce.size() != kNonceSize) return cipher::Errc::InvalidNonceLength;
    if (auto r = cipher::check_buffers(plaintext, out, plaintext.size() + kTagSize); !r) return r;
    EVP_CIPHER_CTX* c = enc_.get();
    int final_len = 0;
    // EVP processes in place when input and output are the same pointer.
    if (EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, nonce.data()) != 1 ||
        !feed(EVP_EncryptUpdate, c, nullptr, aad.data(), aad.size()) ||
        !feed(EVP_EncryptUpdate, c, out.data(), plaintext.data(), plaintext.size()) ||
        EVP_EncryptFinal_ex(c, out.data() + plaintext.size(), &final_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagSize),
                            out.data() + plaintext.size()) != 1) {
      base::secure_zero(out.data(), out.size());
      return plugin::Errc::PluginFailure;
    }
    return {};
  }

  base::Result<void> open(base::ByteSpan nonce, base::ByteSpan aad, base::ByteSpan sealed,
                          base::MutableByteSpan out) noexcept override {
    if (nonce.size() != kNonceSize) return cipher::Errc::InvalidNonceLength;
    if (sealed.size() < kTagSize) return cipher::Errc::BufferSizeMismatch;
    const std::size_t n = sealed.size() - kTagSize;
    if (auto r = cipher::check_buffers(sealed.first(n), out, n); !r) return r;
    EVP_CIPHER_CTX* c = dec_.get();
    // The tag is read before an in-place decryption overwrites its neighbourhood: copy it out.
    base::Byte tag[kTagSize];
    std::memcpy(tag, sealed.data() + n, kTagSize);
    int final_len = 0;
    const bool ran =
        EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, nonce.data()) == 1 &&
        feed(EVP_DecryptUpdate, c, nullptr, aad.data(), aad.size()) &&
        feed(EVP_DecryptUpdate, c, out.data(), sealed.data(), n) &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagSize), tag) == 1;
    // DecryptFinal verifies the tag; only then is the plaintext released.
    if (!ran || EVP_DecryptFinal_ex(c, out.data() + n, &final_len) != 1) {
      base::secure_zero(out.data(), out.size());
      return ran ? base::ErrorCode(cipher::Errc::AuthenticationFailed)
                 : base::ErrorCode(plugin::Errc::PluginFailure);
    }
    return {};
  }

 private:
  std::string_view name_;
  Ctx enc_;
  Ctx dec_;
};

class Factory final : public cipher::AeadFactory {
 public:
  base::Result<std::unique_ptr<cipher::Aead>> create(std::string_view algorithm,
                                                     base::ByteSpan key) noexcept override {
    const EVP_CIPHER* cipher = nullptr;
    std::string_view name;
    if (algorithm == kChaCha20Poly1305) {
      cipher = EVP_chacha20_poly1305();
      name = kChaCha20Poly1305;
    } else if (algorithm == kAes256Gcm) {
      cipher = EVP_aes_256_gcm();
      name = kAes256Gcm;
    } else {
      return cipher::Errc::UnknownAlgorithm;
    }
    if (key.size() != kKeySize) return cipher::Errc::InvalidKeyLength;
    // Null when this OpenSSL build (or its provider configuration) lacks the algorithm.
    if (cipher == nullptr) return cipher::Errc::UnknownAlgorithm;
    Ctx enc(EVP_CIPHER_CTX_new());
    Ctx dec(EVP_CIPHER_CTX_new());
    if (!enc || !dec) return plugin::Errc::PluginOutOfMemory;
    for (auto* c : {enc.get(), dec.get()}) {
      const bool is_enc = c == enc.get();
      // The cipher first, then the nonce length (12 is the default of both), then the key.
      if (EVP_CipherInit_ex(c, cipher, nullptr, nullptr, nullptr, is_enc ? 1 : 0) != 1 ||
          EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(kNonceSize), nullptr) !=
              1 ||
          EVP_CipherInit_ex(c, nullptr, nullptr, key.data(), nullptr, is_enc ? 1 : 0) != 1) {
        return plugin::Errc::PluginFailure;
      }
    }
    return plugin::guard([&]() -> base::Result<std::unique_ptr<cipher::Aead>> {
      return std::unique_ptr<cipher::Aead>(
          std::make_unique<EvpAead>(name, std::move(enc), std::move(dec)));
    });
  }
};

}  // namespace

cipher::AeadFactory& factory() noexcept {
  static Factory instance;
  return instance;
}

}  // namespace portal::plugins::openssl
