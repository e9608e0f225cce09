// SPDX-License-Identifier: Apache-2.0
#include "portal/identity/credential.hpp"

#include <cstring>

namespace portal::identity {

Credential::Credential(crypto::Ed25519KeyPair keys)
    : keys_(std::move(keys)), id_(derive_id(keys_.public_key())) {}

base::Result<Credential> Credential::from_seed(base::ByteSpan seed) {
  auto keys = crypto::Ed25519KeyPair::from_seed(seed);
  if (!keys) return Errc::InvalidSeed;
  return Credential(std::move(*keys));
}

base::Result<Credential> Credential::generate(base::RandomSource& random) {
  crypto::Ed25519Seed seed;
  if (auto r = random.fill(seed.mutable_span()); !r) return r.error();
  return from_seed(seed.span());
}

Identity Credential::identity() const {
  return Identity{id_, base::Bytes(public_key().begin(), public_key().end())};
}

base::SecretArray<64> Credential::go_private_key() const noexcept {
  base::SecretArray<64> out;
  std::memcpy(out.data(), seed().data(), 32);
  std::memcpy(out.data() + 32, public_key().data(), 32);
  return out;
}

}  // namespace portal::identity
