// SPDX-License-Identifier: Apache-2.0
#include "portal/wire/control.hpp"

#include <gtest/gtest.h>

#include "portal/base/encoding.hpp"
#include "portal/base/length_prefixed.hpp"
#include "portal/crypto/ed25519.hpp"
#include "portal/handshake/messages.hpp"
#include "portal/identity/credential.hpp"
#include "support/vectors.hpp"

namespace portal::wire {
namespace {

using base::Bytes;
using base::hex_encode;

// Re-encodes a payload through the decoder for its packet type (byte-exact round trip).
base::Result<Bytes> round_trip(PacketType type, base::ByteSpan payload) {
  switch (type) {
    case PacketType::RelayInfoRequest: return Bytes{};
    case PacketType::RelayInfoResponse: {
      auto m = decode_relay_info_response(payload);
      if (!m) return m.error();
      return encode(*m);
    }
    case PacketType::ConnectionRequest: {
      auto m = decode_connection_request(payload);
      if (!m) return m.error();
      return encode(*m);
    }
    case PacketType::LeaseUpdateResponse:
    case PacketType::LeaseDeleteResponse:
    case PacketType::ConnectionResponse: {
      auto c = decode_response(payload);
      if (!c) return c.error();
      return encode_response(*c);
    }
    case PacketType::LeaseUpdateRequest:
    case PacketType::LeaseDeleteRequest: {
      auto sp = handshake::decode_signed_payload(payload);
      if (!sp) return sp.error();
      base::Result<Bytes> data = Errc::MalformedMessage;
      if (type == PacketType::LeaseUpdateRequest) {
        auto m = decode_lease_update_request(sp->data);
        if (!m) return m.error();
        data = encode(*m);
      } else {
        auto m = decode_lease_delete_request(sp->data);
        if (!m) return m.error();
        data = encode(*m);
      }
      return handshake::encode(handshake::SignedPayload{*data, sp->signature});
    }
  }
  return Errc::UnknownPacketType;
}

// Every packet of control_packets.json: envelope and payload decode and re-encode byte for byte.
TEST(WireControlVectors, EveryPacketRoundTripsByteForByte) {
  const auto doc = test::load_vectors("control_packets.json");
  const auto& vectors = doc.at("vectors").as_array();
  ASSERT_EQ(vectors.size(), 13u);
  for (const auto& v : vectors) {
    SCOPED_TRACE(test::str(v, "name"));
    const Bytes wire = test::hex(v, "wire_hex");
    base::LengthPrefixedReader reader(kMaxPacketSize);
    ASSERT_EQ(reader.feed(wire).value(), wire.size());
    ASSERT_TRUE(reader.complete());
    auto packet = decode_packet(reader.body());
    ASSERT_TRUE(packet);
    EXPECT_EQ(static_cast<std::uint32_t>(packet->type),
              v.at("packet_type_value").to_number<std::uint32_t>());
    EXPECT_EQ(hex_encode(packet->payload), test::str(v, "payload_hex"));
    EXPECT_EQ(hex_encode(encode(*packet)), test::str(v, "packet_hex"));
    EXPECT_EQ(hex_encode(encode_packet_wire(*packet)), test::str(v, "wire_hex"));
    auto again = round_trip(packet->type, packet->payload);
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(hex_encode(*again), test::str(v, "payload_hex"));
  }
}

// Signed requests: the vector's signature is what the signer's key produces over the data, and
// it verifies under the identity inside the message (§4.8).
TEST(WireControlVectors, SignedRequestsVerify) {
  const auto doc = test::load_vectors("control_packets.json");
  int checked = 0;
  for (const auto& v : doc.at("vectors").as_array()) {
    if (!v.as_object().contains("signer_seed_hex")) continue;
    SCOPED_TRACE(test::str(v, "name"));
    auto signer = identity::Credential::from_seed(test::hex(v, "signer_seed_hex"));
    ASSERT_TRUE(signer);
    const Bytes data = test::hex(v, "signed_data_hex");
    EXPECT_EQ(hex_encode(signer->sign(data)), test::str(v, "signature_hex"));
    identity::Identity who;
    if (test::str(v, "packet_type") == "LEASE_UPDATE_REQUEST") {
      auto m = decode_lease_update_request(data);
      ASSERT_TRUE(m && m->lease && m->lease->identity);
      who = *m->lease->identity;
    } else {
      auto m = decode_lease_delete_request(data);
      ASSERT_TRUE(m && m->identity);
      who = *m->identity;
    }
    EXPECT_TRUE(identity::validate(who));
    EXPECT_TRUE(crypto::ed25519_verify(who.public_key, data, test::hex(v, "signature_hex")));
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}

TEST(WireControl, MetadataAndEmptyPresentSubmessages) {
  Lease lease;
  lease.identity = identity::Identity{"", {}};  // present but empty: emitted as tag + length 0
  lease.name = "demo";
  lease.alpn = {"http/1.1", ""};  // empty elements are kept
  lease.metadata = "{\"k\":1}";
  const LeaseUpdateRequest req{lease, Bytes(12, 1), 1762473600};
  auto back = decode_lease_update_request(encode(req));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, req);
  EXPECT_EQ(hex_encode(encode(ConnectionRequest{"X", identity::Identity{"", {}}})), "0a01581200");
}

TEST(WireControl, MalformedInputIsAnErrorNotACrash) {
  EXPECT_EQ(decode_packet(Bytes{0x08, 0x09}).error(), Errc::UnknownPacketType);
  EXPECT_EQ(decode_packet(Bytes{0x12, 0x05, 0x01}).error(), Errc::MalformedPacket);
  EXPECT_EQ(decode_relay_info_response(Bytes{0x0a, 0xff}).error(), Errc::MalformedMessage);
  EXPECT_EQ(decode_connection_request(Bytes{0xff, 0xff, 0xff}).error(), Errc::MalformedMessage);
  // A relay must not crash on a request whose embedded messages are missing (§4.9).
  auto empty = decode_lease_update_request({});
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->lease);
}

}  // namespace
}  // namespace portal::wire
