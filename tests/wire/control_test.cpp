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
    case PacketType::LeaseLookupRequest: {
      auto m = decode_lease_lookup_request(payload);
      if (!m) return m.error();
      return encode(*m);
    }
    case PacketType::LeaseLookupResponse: {
      auto m = decode_lease_lookup_response(payload);
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
  EXPECT_EQ(decode_packet(Bytes{0x08, 0x0a}).error(), Errc::UnknownPacketType);
  EXPECT_EQ(decode_packet(Bytes{0x12, 0x05, 0x01}).error(), Errc::MalformedPacket);
  EXPECT_EQ(decode_relay_info_response(Bytes{0x0a, 0xff}).error(), Errc::MalformedMessage);
  EXPECT_EQ(decode_connection_request(Bytes{0xff, 0xff, 0xff}).error(), Errc::MalformedMessage);
  // A relay must not crash on a request whose embedded messages are missing (§4.9).
  auto empty = decode_lease_update_request({});
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->lease);
}

// ---- lease lookups (ADR 0016): tests/vectors/ours/lease_lookup.json ---------------------------

Lease lease_of(const boost::json::value& v) {
  Lease l;
  const auto& id = v.at("identity");
  l.identity = identity::Identity{test::str(id, "id"), test::hex(id, "public_key_hex")};
  l.expires = v.at("expires").to_number<std::int64_t>();
  l.name = test::str(v, "name");
  for (const auto& a : v.at("alpn").as_array()) l.alpn.emplace_back(a.as_string());
  if (v.as_object().contains("metadata")) l.metadata = test::str(v, "metadata");
  return l;
}

std::vector<Lease> leases_of(const boost::json::value& v) {
  std::vector<Lease> out;
  for (const auto& l : v.as_array()) out.push_back(lease_of(l));
  return out;
}

ResponseCode code_of(const boost::json::value& v) {
  const std::string name = std::string(v.as_string());
  for (const auto c : {ResponseCode::Unknown, ResponseCode::Accepted, ResponseCode::InvalidIdentity,
                       ResponseCode::Rejected}) {
    if (name == to_string(c)) return c;
  }
  ADD_FAILURE() << "unknown code " << name;
  return ResponseCode::Unknown;
}

std::vector<std::string> strings_of(const boost::json::value& v) {
  std::vector<std::string> out;
  for (const auto& s : v.as_array()) out.emplace_back(s.as_string());
  return out;
}

// Every vector: the message built from its fields encodes to its bytes exactly, and its bytes
// decode to those fields and re-encode unchanged.
TEST(WireLookupVectors, EveryPacketEncodesAndDecodesByteForByte) {
  const auto doc = test::load_vectors("ours/lease_lookup.json");
  EXPECT_EQ(doc.at("limits").at("max_target_bytes").to_number<std::size_t>(), kMaxLookupTarget);
  EXPECT_EQ(doc.at("limits").at("max_leases").to_number<std::size_t>(), kMaxLookupLeases);
  const auto& vectors = doc.at("vectors").as_array();
  ASSERT_EQ(vectors.size(), 12u);
  for (const auto& v : vectors) {
    SCOPED_TRACE(test::str(v, "name"));
    const auto& fields = v.at("fields");
    const auto type = static_cast<PacketType>(v.at("packet_type_value").to_number<std::uint32_t>());
    Bytes payload;
    if (type == PacketType::LeaseLookupRequest) {
      const LeaseLookupRequest m{test::str(fields, "target")};
      payload = encode(m);
      auto back = decode_lease_lookup_request(test::hex(v, "payload_hex"));
      ASSERT_TRUE(back) << back.error().message();
      EXPECT_EQ(*back, m);
    } else if (type == PacketType::LeaseLookupResponse) {
      const LeaseLookupResponse m{code_of(fields.at("code")), leases_of(fields.at("leases"))};
      payload = encode(m);
      auto back = decode_lease_lookup_response(test::hex(v, "payload_hex"));
      ASSERT_TRUE(back) << back.error().message();
      EXPECT_EQ(*back, m);
    } else {
      ASSERT_EQ(type, PacketType::RelayInfoResponse);
      const auto& ri = fields.at("relay_info");
      RelayInfo m;
      m.identity = identity::Identity{test::str(ri.at("identity"), "id"),
                                      test::hex(ri.at("identity"), "public_key_hex")};
      m.address = strings_of(ri.at("address"));
      m.leases = leases_of(ri.at("leases"));
      m.features = strings_of(ri.at("features"));
      payload = encode(m);
      auto back = decode_relay_info_response(test::hex(v, "payload_hex"));
      ASSERT_TRUE(back) << back.error().message();
      EXPECT_EQ(*back, m);
    }
    EXPECT_EQ(hex_encode(payload), test::str(v, "payload_hex"));
    const Packet packet{type, payload};
    EXPECT_EQ(hex_encode(encode(packet)), test::str(v, "packet_hex"));
    EXPECT_EQ(hex_encode(encode_packet_wire(packet)), test::str(v, "wire_hex"));
    // And through the envelope decoder, as a reader meets it.
    const Bytes wire = test::hex(v, "wire_hex");
    base::LengthPrefixedReader reader(kMaxPacketSize);
    ASSERT_EQ(reader.feed(wire).value(), wire.size());
    auto decoded = decode_packet(reader.body());
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->type, type);
    auto again = round_trip(decoded->type, decoded->payload);
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(hex_encode(*again), test::str(v, "payload_hex"));
  }
}

// Valid protobuf that is not in our encoding: unknown fields skipped, the last scalar wins, any
// field order; and a v1 RelayInfo reader does not see the features.
TEST(WireLookupVectors, DecodersSkipUnknownFieldsAndAcceptAnyOrder) {
  const auto doc = test::load_vectors("ours/lease_lookup.json");
  int checked = 0;
  for (const auto& v : doc.at("decode_only").as_array()) {
    SCOPED_TRACE(test::str(v, "name"));
    const auto& fields = v.at("fields");
    const Bytes payload = test::hex(v, "payload_hex");
    switch (static_cast<PacketType>(v.at("packet_type_value").to_number<std::uint32_t>())) {
      case PacketType::LeaseLookupRequest: {
        auto m = decode_lease_lookup_request(payload);
        ASSERT_TRUE(m);
        EXPECT_EQ(m->target, test::str(fields, "target"));
        break;
      }
      case PacketType::LeaseLookupResponse: {
        auto m = decode_lease_lookup_response(payload);
        ASSERT_TRUE(m);
        EXPECT_EQ(m->code, code_of(fields.at("code")));
        EXPECT_EQ(m->leases, leases_of(fields.at("leases")));
        break;
      }
      case PacketType::RelayInfoResponse: {
        auto m = decode_relay_info_response(payload);
        ASSERT_TRUE(m);
        EXPECT_EQ(m->features, strings_of(fields.at("features")));
        // Without field 4 it is the spec's v1 answer, byte for byte.
        RelayInfo v1 = *m;
        v1.features.clear();
        EXPECT_EQ(hex_encode(encode(v1)), test::str(v, "v1_payload_hex"));
        // A v1 answer (no field 4) decodes with no features.
        auto old = decode_relay_info_response(test::hex(v, "v1_payload_hex"));
        ASSERT_TRUE(old);
        EXPECT_TRUE(old->features.empty());
        EXPECT_EQ(old->leases, m->leases);
        break;
      }
      default: ADD_FAILURE() << "unexpected packet type";
    }
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

TEST(WireLookupVectors, MalformedInputsAreRefusedWithTheirError) {
  const auto doc = test::load_vectors("ours/lease_lookup.json");
  const auto expected = [](const std::string& name) -> base::ErrorCode {
    if (name == "target_too_large") return Errc::TargetTooLarge;
    if (name == "too_many_leases") return Errc::TooManyLeases;
    if (name == "unknown_packet_type") return Errc::UnknownPacketType;
    if (name == "malformed_message") return Errc::MalformedMessage;
    ADD_FAILURE() << "unknown error " << name;
    return {};
  };
  int checked = 0;
  for (const auto& v : doc.at("malformed").as_array()) {
    SCOPED_TRACE(test::str(v, "name"));
    const auto want = expected(test::str(v, "error"));
    if (v.as_object().contains("packet_hex")) {
      EXPECT_EQ(decode_packet(test::hex(v, "packet_hex")).error(), want);
    } else if (v.at("packet_type_value").to_number<int>() == 8) {
      EXPECT_EQ(decode_lease_lookup_request(test::hex(v, "payload_hex")).error(), want);
    } else {
      EXPECT_EQ(decode_lease_lookup_response(test::hex(v, "payload_hex")).error(), want);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 7);
}

TEST(WireLookup, ErrorsHaveNamesAndBoundsAreInclusive) {
  EXPECT_EQ(make_error_code(Errc::TargetTooLarge).message(),
            "lease lookup target larger than the limit");
  EXPECT_EQ(make_error_code(Errc::TooManyLeases).message(),
            "lease lookup answer with more leases than the limit");
  // The bound counts every occurrence of the field, however the leases are spread.
  Bytes spread{0x08, 0x01};
  for (std::size_t i = 0; i < kMaxLookupLeases; ++i) {
    spread.insert(spread.end(), {0x12, 0x00, 0x18, 0x01});  // a lease, then an unknown field
  }
  auto ok = decode_lease_lookup_response(spread);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->leases.size(), kMaxLookupLeases);
  spread.insert(spread.end(), {0x12, 0x00});
  EXPECT_EQ(decode_lease_lookup_response(spread).error(), Errc::TooManyLeases);
  // Two targets: each is bounded (the last one wins).
  Bytes two{0x0a, 0x01, 0x61};
  two.push_back(0x0a);
  two.insert(two.end(), {0x81, 0x08});  // 1025
  two.insert(two.end(), kMaxLookupTarget + 1, 0x62);
  EXPECT_EQ(decode_lease_lookup_request(two).error(), Errc::TargetTooLarge);
  // Groups in an unknown field are valid protobuf and skipped.
  auto grouped = decode_lease_lookup_request(Bytes{0x3b, 0x08, 0x01, 0x3c, 0x0a, 0x01, 0x61});
  ASSERT_TRUE(grouped) << grouped.error().message();
  EXPECT_EQ(grouped->target, "a");
  // An empty payload is the empty message.
  EXPECT_EQ(decode_lease_lookup_request({}).value(), LeaseLookupRequest{});
  EXPECT_EQ(decode_lease_lookup_response({}).value(), LeaseLookupResponse{});
}

}  // namespace
}  // namespace portal::wire
