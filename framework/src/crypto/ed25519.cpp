// SPDX-License-Identifier: Apache-2.0
#include "portal/crypto/ed25519.hpp"

#include <cryptopp/donna.h>

#include "portal/crypto/errors.hpp"

namespace portal::crypto {
namespace {

// The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian.
constexpr std::array<base::Byte, 32> kGroupOrder = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};

// RFC 8032 §5.1.7 and Go's crypto/ed25519 require S < L; Crypto++ checks only the top bits, so a
// malleated signature (S + L) would verify here and fail at a Go peer. Check it ourselves.
bool is_canonical_scalar(const base::Byte* s) noexcept {
  for (int i = 31; i >= 0; --i) {
    const auto idx = static_cast<std::size_t>(i);
    if (s[idx] < kGroupOrder[idx]) return true;
    if (s[idx] > kGroupOrder[idx]) return false;
  }
  return false;  // S == L
}

}  // namespace

base::Result<Ed25519KeyPair> Ed25519KeyPair::from_seed(base::ByteSpan seed) noexcept {
  if (seed.size() != kEd25519SeedSize) return Errc::InvalidKeyLength;
  Ed25519KeyPair keys;
  keys.seed_ = Ed25519Seed::from(seed);
  CryptoPP::Donna::ed25519_publickey(keys.public_key_.data(), keys.seed_.data());
  return keys;
}

Ed25519Signature Ed25519KeyPair::sign(base::ByteSpan message) const noexcept {
  Ed25519Signature sig{};
  CryptoPP::Donna::ed25519_sign(message.data(), message.size(), seed_.data(), public_key_.data(),
                                sig.data());
  return sig;
}

base::Result<void> ed25519_verify(base::ByteSpan public_key, base::ByteSpan message,
                                  base::ByteSpan signature) noexcept {
  if (public_key.size() != kEd25519PublicKeySize) return Errc::InvalidKeyLength;
  if (signature.size() != kEd25519SignatureSize) return Errc::InvalidSignatureLength;
  if (!is_canonical_scalar(signature.data() + 32)) return Errc::BadSignature;
  if (CryptoPP::Donna::ed25519_sign_open(message.data(), message.size(), public_key.data(),
                                         signature.data()) != 0) {
    return Errc::BadSignature;
  }
  return {};
}

}  // namespace portal::crypto
