// SPDX-License-Identifier: Apache-2.0
#include "portal/crypto/sha256.hpp"

#include <cryptopp/hmac.h>
#include <cryptopp/sha.h>

namespace portal::crypto {

struct Sha256::State {
  CryptoPP::SHA256 hash;
};

Sha256Digest sha256(base::ByteSpan data) noexcept {
  Sha256Digest out{};
  CryptoPP::SHA256().CalculateDigest(out.data(), data.data(), data.size());
  return out;
}

Sha256::Sha256() : state_(std::make_unique<State>()) {}
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;
Sha256::~Sha256() = default;

void Sha256::update(base::ByteSpan data) noexcept { state_->hash.Update(data.data(), data.size()); }

Sha256Digest Sha256::finish() noexcept {
  Sha256Digest out{};
  state_->hash.Final(out.data());  // Final() also restarts the hash
  return out;
}

Sha256Digest hmac_sha256(base::ByteSpan key, base::ByteSpan message) noexcept {
  Sha256Digest out{};
  CryptoPP::HMAC<CryptoPP::SHA256> mac(key.data(), key.size());
  mac.CalculateDigest(out.data(), message.data(), message.size());
  return out;
}

}  // namespace portal::crypto
