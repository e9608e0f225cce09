// SPDX-License-Identifier: Apache-2.0
#include "portal/handshake/messages.hpp"

#include "detail/protobuf_codec.hpp"
#include "portal/handshake/errors.hpp"
#include "rdsec.pb.h"

namespace portal::handshake {
namespace {

std::string to_string(const base::Bytes& b) { return std::string(base::as_chars(b)); }
base::Bytes to_bytes(const std::string& s) { return base::to_bytes(base::as_bytes(s)); }

}  // namespace

base::Bytes encode(const InitPayload& p) {
  wire::rdsec::InitPayload msg;
  msg.set_version(static_cast<wire::rdsec::ProtocolVersion>(p.version));
  msg.set_nonce(to_string(p.nonce));
  msg.set_timestamp(p.timestamp);
  auto* id = msg.mutable_identity();
  id->set_id(p.identity.id);
  id->set_public_key(to_string(p.identity.public_key));
  msg.set_alpn(p.alpn);
  msg.set_session_public_key(to_string(p.session_public_key));
  if (p.capabilities) {
    auto* caps = msg.mutable_capabilities();
    caps->set_version(p.capabilities->version);
    for (const auto& c : p.capabilities->ciphers) caps->add_ciphers(c);
    caps->set_client_init_hash(to_string(p.capabilities->client_init_hash));
  }
  return detail::serialize_message(msg);
}

base::Bytes encode(const SignedPayload& p) {
  wire::rdsec::SignedPayload msg;
  msg.set_data(to_string(p.data));
  msg.set_signature(to_string(p.signature));
  return detail::serialize_message(msg);
}

base::Result<InitPayload> decode_init_payload(base::ByteSpan bytes) {
  wire::rdsec::InitPayload msg;
  if (!detail::parse_message(msg, bytes)) return Errc::MalformedMessage;
  InitPayload p;
  // proto3 enums are open: an unknown value parses and is refused by the version check.
  p.version = static_cast<std::uint32_t>(msg.version());
  p.nonce = to_bytes(msg.nonce());
  p.timestamp = msg.timestamp();
  p.identity.id = msg.identity().id();
  p.identity.public_key = to_bytes(msg.identity().public_key());
  p.alpn = msg.alpn();
  p.session_public_key = to_bytes(msg.session_public_key());
  if (msg.has_capabilities()) {
    const auto& caps = msg.capabilities();
    Capabilities c;
    c.version = caps.version();
    c.ciphers.assign(caps.ciphers().begin(), caps.ciphers().end());
    c.client_init_hash = to_bytes(caps.client_init_hash());
    p.capabilities = std::move(c);
  }
  return p;
}

base::Result<SignedPayload> decode_signed_payload(base::ByteSpan bytes) {
  wire::rdsec::SignedPayload msg;
  if (!detail::parse_message(msg, bytes)) return Errc::MalformedMessage;
  return SignedPayload{to_bytes(msg.data()), to_bytes(msg.signature())};
}

}  // namespace portal::handshake
