// SPDX-License-Identifier: Apache-2.0
#include "portal/control/client.hpp"

#include <gtest/gtest.h>

#include "portal/base/encoding.hpp"
#include "support/vectors.hpp"

namespace portal::control {
namespace {

using base::Bytes;
using base::hex_encode;
using wire::ResponseCode;

struct ControlVectors {
  boost::json::value doc = test::load_vectors("control_packets.json");
  const boost::json::value& named(const std::string& name) const {
    for (const auto& v : doc.at("vectors").as_array()) {
      if (test::str(v, "name") == name) return v;
    }
    throw std::runtime_error("no vector " + name);
  }
  Bytes wire(const std::string& name) const { return test::hex(named(name), "wire_hex"); }
  static base::Clock::SystemTime at(std::int64_t t) {
    return base::Clock::SystemTime{std::chrono::seconds{t}};
  }
};

// Requests built by the core are the vectors' bytes, signatures included (Ed25519 is
// deterministic, the nonce and clock are injected).
TEST(ClientControlVectors, RequestsEncodeByteForByte) {
  ControlVectors v;
  EXPECT_EQ(hex_encode(ClientRequest::relay_info().pending_output()), "00000000");

  const auto& up = v.named("lease_update_request");
  const auto& f = up.at("fields");
  auto holder = identity::Credential::from_seed(test::hex(up, "signer_seed_hex"));
  ASSERT_TRUE(holder);
  wire::Lease lease;
  lease.expires = f.at("lease").at("expires").to_number<std::int64_t>();
  lease.name = test::str(f.at("lease"), "name");
  for (const auto& a : f.at("lease").at("alpn").as_array()) lease.alpn.emplace_back(a.as_string());
  base::ReplayRandom nonce(test::hex(f, "nonce_hex"));
  auto update = ClientRequest::lease_update(
      *holder, lease, nonce, ControlVectors::at(f.at("timestamp").to_number<std::int64_t>()));
  ASSERT_TRUE(update);
  EXPECT_EQ(hex_encode(update->pending_output()), test::str(up, "wire_hex"));

  const auto& del = v.named("lease_delete_request");
  base::ReplayRandom del_nonce(test::hex(del.at("fields"), "nonce_hex"));
  auto remove = ClientRequest::lease_delete(
      *holder, del_nonce,
      ControlVectors::at(del.at("fields").at("timestamp").to_number<std::int64_t>()));
  ASSERT_TRUE(remove);
  EXPECT_EQ(hex_encode(remove->pending_output()), test::str(del, "wire_hex"));

  auto dialer = identity::Credential::from_seed(
      test::from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  auto connect = ClientRequest::connection("OREI3BGAI3ZBNJ6FBEOZANHYEE", dialer->identity());
  EXPECT_EQ(hex_encode(connect.pending_output()),
            test::str(v.named("connection_request"), "wire_hex"));
}

TEST(ClientControlVectors, AnswersAreRead) {
  ControlVectors v;
  auto info = ClientRequest::relay_info();
  const Bytes response = v.wire("relay_info_response");
  EXPECT_EQ(info.handle_input(response).value(), response.size());
  ASSERT_TRUE(info.done());
  ASSERT_TRUE(info.relay_info_response());
  EXPECT_EQ(info.relay_info_response()->identity->id, "UXD2N3JFQH2XMFTUYJRVV3MASE");
  EXPECT_EQ(info.relay_info_response()->leases.size(), 2u);

  for (const auto& [name, code] : std::vector<std::pair<std::string, ResponseCode>>{
           {"connection_response_accepted", ResponseCode::Accepted},
           {"connection_response_invalid_identity", ResponseCode::InvalidIdentity},
           {"connection_response_rejected", ResponseCode::Rejected}}) {
    SCOPED_TRACE(name);
    auto c = ClientRequest::connection("X", std::nullopt);
    Bytes in = v.wire(name);
    const std::size_t answer = in.size();
    in.insert(in.end(), {9, 9, 9});  // end-to-end bytes right behind the answer
    EXPECT_EQ(c.handle_input(in).value(), answer);
    EXPECT_TRUE(c.done());
    EXPECT_EQ(c.code(), code);
    EXPECT_EQ(c.handle_input(Bytes{9}).value(), 0u);  // nothing more is taken
  }
}

TEST(ClientControl, FailuresAreDistinct) {
  ControlVectors v;
  auto wrong = ClientRequest::relay_info();
  EXPECT_EQ(wrong.handle_input(v.wire("lease_update_response_accepted")).error(),
            Errc::UnexpectedPacket);
  auto silent = ClientRequest::relay_info();
  silent.handle_eof();
  EXPECT_EQ(silent.error(), Errc::ClosedWithoutAnswer);
  auto huge = ClientRequest::relay_info();
  EXPECT_EQ(huge.handle_input(Bytes{0x04, 0x00, 0x00, 0x01}).error(), Errc::ResponseTooLarge);
  auto garbage = ClientRequest::relay_info();
  EXPECT_FALSE(garbage.handle_input(Bytes{0, 0, 0, 2, 0xff, 0xff}));
  base::ReplayRandom empty(Bytes{});
  auto cred = identity::Credential::from_seed(Bytes(32, 4));
  EXPECT_EQ(ClientRequest::lease_delete(*cred, empty, {}).error(), Errc::RandomSourceFailed);
}

TEST(ClientControl, LeaseHolderAnswersAForwardedRequest) {
  ControlVectors v;
  IncomingConnection in;
  EXPECT_EQ(in.answer(ResponseCode::Accepted).error(), Errc::InvalidState);
  Bytes bytes = v.wire("connection_request");
  const std::size_t request = bytes.size();
  bytes.insert(bytes.end(), {1, 2});  // the dialer's ClientInit may follow at once
  EXPECT_EQ(in.handle_input(bytes).value(), request);
  ASSERT_TRUE(in.has_request());
  EXPECT_EQ(in.request()->lease_id, "OREI3BGAI3ZBNJ6FBEOZANHYEE");
  EXPECT_EQ(in.request()->client_identity->id, "HTI3EFUDRCPKRMCWJWEHKLPHWU");
  ASSERT_TRUE(in.answer(ResponseCode::Accepted));
  EXPECT_EQ(hex_encode(in.pending_output()),
            test::str(v.named("connection_response_accepted"), "wire_hex"));
  EXPECT_EQ(in.answer(ResponseCode::Rejected).error(), Errc::InvalidState);

  IncomingConnection not_a_request;
  EXPECT_EQ(not_a_request.handle_input(v.wire("relay_info_request")).error(),
            Errc::UnexpectedPacket);
}

// ADR 0016: the lookup request is the vector's bytes, and its answer is read (bounded).
TEST(ClientControlLookup, TheRequestIsTheVectorAndTheAnswerIsRead) {
  const auto doc = test::load_vectors("ours/lease_lookup.json");
  const auto named = [&](const std::string& name) -> const boost::json::value& {
    for (const auto& v : doc.at("vectors").as_array()) {
      if (test::str(v, "name") == name) return v;
    }
    throw std::runtime_error("no vector " + name);
  };
  EXPECT_EQ(hex_encode(ClientRequest::lease_lookup("Demo-App").pending_output()),
            test::str(named("lookup_request_name"), "wire_hex"));
  EXPECT_EQ(hex_encode(ClientRequest::lease_lookup("OREI3BGAI3ZBNJ6FBEOZANHYEE").pending_output()),
            test::str(named("lookup_request_id"), "wire_hex"));

  auto r = ClientRequest::lease_lookup("Demo-App");
  Bytes answer = test::hex(named("lookup_response_accepted_two"), "wire_hex");
  answer.push_back(0x99);  // nothing after the answer is read
  ASSERT_EQ(r.handle_input(answer).value(), answer.size() - 1);
  ASSERT_TRUE(r.done());
  EXPECT_EQ(r.code(), ResponseCode::Accepted);
  ASSERT_TRUE(r.lease_lookup_response());
  ASSERT_EQ(r.lease_lookup_response()->leases.size(), 2u);
  EXPECT_EQ(r.lease_lookup_response()->leases[0].name, "demo-app");
  EXPECT_FALSE(r.relay_info_response());

  auto none = ClientRequest::lease_lookup("x");
  ASSERT_TRUE(none.handle_input(test::hex(named("lookup_response_invalid_identity"), "wire_hex")));
  EXPECT_EQ(none.code(), ResponseCode::InvalidIdentity);
  EXPECT_TRUE(none.lease_lookup_response()->leases.empty());

  // Another packet type, or too many leases: the request fails.
  auto wrong = ClientRequest::lease_lookup("x");
  EXPECT_EQ(wrong.handle_input(Bytes{0, 0, 0, 6, 0x08, 0x07, 0x12, 0x02, 0x08, 0x01}).error(),
            Errc::UnexpectedPacket);
  Bytes many{0x08, 0x01};
  for (std::size_t i = 0; i <= wire::kMaxLookupLeases; ++i) many.insert(many.end(), {0x12, 0x00});
  auto big = ClientRequest::lease_lookup("x");
  EXPECT_EQ(
      big.handle_input(wire::encode_packet_wire({wire::PacketType::LeaseLookupResponse, many}))
          .error(),
      wire::Errc::TooManyLeases);
  EXPECT_FALSE(big.done());
  // A v1 relay closes the stream on the unknown type.
  auto v1 = ClientRequest::lease_lookup("x");
  v1.handle_eof();
  EXPECT_EQ(v1.error(), Errc::ClosedWithoutAnswer);
}

}  // namespace
}  // namespace portal::control
