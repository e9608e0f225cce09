// SPDX-License-Identifier: Apache-2.0
#include "portal/identity/identity.hpp"

#include "detail/protobuf_codec.hpp"
#include "portal/base/encoding.hpp"
#include "portal/crypto/sha256.hpp"
#include "rdsec.pb.h"

namespace portal::identity {

std::string derive_id(const crypto::Ed25519PublicKey& public_key) {
  // portal-v1 §5.2: the constant string is the HMAC key, the public key is the message.
  const auto mac = crypto::hmac_sha256(base::as_bytes(kIdHmacKey), public_key);
  return base::base32_encode(base::ByteSpan(mac).first(16));
}

bool is_well_formed_id(std::string_view id) noexcept {
  if (id.size() != kIdLength) return false;
  for (char c : id) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'))) return false;
  }
  // 128 bits = 25 * 5 + 3: the last character's two low bits are zero.
  constexpr std::string_view kLast = "AEIMQUY4";
  return kLast.find(id.back()) != std::string_view::npos;
}

std::optional<std::string> id_in_any_case(std::string_view text) {
  std::string id(text);
  for (auto& c : id) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  if (!is_well_formed_id(id)) return std::nullopt;
  return id;
}

base::Result<void> validate(const Identity& identity) {
  if (identity.public_key.size() != crypto::kEd25519PublicKeySize) return Errc::InvalidPublicKey;
  crypto::Ed25519PublicKey key{};
  std::copy(identity.public_key.begin(), identity.public_key.end(), key.begin());
  // portal-v1 §5.3: exact, case-sensitive comparison.
  if (derive_id(key) != identity.id) return Errc::IdMismatch;
  return {};
}

base::Bytes encode_identity(const Identity& identity) {
  wire::rdsec::Identity msg;
  msg.set_id(identity.id);
  msg.set_public_key(std::string(base::as_chars(identity.public_key)));
  return detail::serialize_message(msg);
}

base::Result<Identity> decode_identity(base::ByteSpan bytes) {
  wire::rdsec::Identity msg;
  if (!detail::parse_message(msg, bytes)) {
    return Errc::MalformedIdentity;
  }
  Identity out;
  out.id = msg.id();
  out.public_key = base::to_bytes(base::as_bytes(msg.public_key()));
  return out;
}

}  // namespace portal::identity
