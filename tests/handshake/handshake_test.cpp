// SPDX-License-Identifier: Apache-2.0
#include "portal/handshake/handshake.hpp"

#include <gtest/gtest.h>

#include "handshake/spec_vectors.hpp"
#include "portal/base/encoding.hpp"
#include "support/vectors.hpp"

namespace portal::handshake {
namespace {

using base::Bytes;
using base::ByteSpan;
using base::hex_encode;
using std::chrono::seconds;

using Vectors = test::SpecHandshake;

// Feeds `wire` to a fresh server at `now`; returns the server's state afterwards.
struct ServerRun {
  State state;
  base::ErrorCode error;
  Bytes output;
};
ServerRun run_server(const Vectors& v, const Bytes& wire, std::int64_t now,
                     std::vector<std::string> alpns = {"http/1.1", "h2"},
                     ReplayCache* shared_cache = nullptr) {
  ReplayCache local_cache;
  base::ReplayRandom random(v.server_random());
  ServerHandshake server(v.server, std::move(alpns), shared_cache ? *shared_cache : local_cache,
                         random);
  (void)server.handle_input(wire, Vectors::at(now));
  return {server.state(), server.error(), base::to_bytes(server.pending_output())};
}

TEST(HandshakeVectors, ClientInitWireBytes) {
  Vectors v;
  base::ReplayRandom random(v.client_random());
  ClientHandshake client(v.client, v.server.id(), "http/1.1", random);
  ASSERT_TRUE(client.start(Vectors::at(v.client_ts)));
  EXPECT_EQ(random.remaining(), 0u);  // exactly 44 random bytes, as v1 draws them
  EXPECT_EQ(hex_encode(client.pending_output()),
            test::str(v.doc.at("client_init"), "client_wire_hex"));
  EXPECT_EQ(client.state(), State::AwaitingPeer);
}

TEST(HandshakeVectors, ServerAnswersWithTheVectorServerInitAndKeys) {
  Vectors v;
  ReplayCache cache;
  base::ReplayRandom random(v.server_random());
  ServerHandshake server(v.server, {"http/1.1", "h2"}, cache, random);
  auto used = server.handle_input(v.client_wire, Vectors::at(v.server_ts));
  ASSERT_TRUE(used) << used.error().message();
  EXPECT_EQ(*used, v.client_wire.size());
  ASSERT_EQ(server.state(), State::Established);
  EXPECT_EQ(random.remaining(), 0u);
  EXPECT_EQ(hex_encode(server.pending_output()),
            test::str(v.doc.at("server_init"), "server_wire_hex"));
  auto result = server.take_result();
  ASSERT_TRUE(result);
  EXPECT_EQ(hex_encode(result->encrypt_key.span()), test::str(v.results, "server_encrypt_key_hex"));
  EXPECT_EQ(hex_encode(result->decrypt_key.span()), test::str(v.results, "server_decrypt_key_hex"));
  EXPECT_EQ(result->peer.id, test::str(v.results, "server_sees_remote_id"));
  EXPECT_EQ(result->alpn, "http/1.1");
  EXPECT_EQ(server.take_result().error(), Errc::InvalidState);  // only once
}

TEST(HandshakeVectors, ClientAcceptsTheVectorServerInitAndDerivesTheKeys) {
  Vectors v;
  base::ReplayRandom random(v.client_random());
  ClientHandshake client(v.client, v.server.id(), "http/1.1", random);
  ASSERT_TRUE(client.start(Vectors::at(v.client_ts)));
  client.consume_output(client.pending_output().size());
  // ServerInit followed by secure-channel bytes: only ServerInit is consumed.
  Bytes wire = v.server_wire;
  wire.insert(wire.end(), {1, 2, 3});
  auto used = client.handle_input(wire, Vectors::at(v.server_ts));
  ASSERT_TRUE(used) << used.error().message();
  EXPECT_EQ(*used, v.server_wire.size());
  ASSERT_EQ(client.state(), State::Established);
  auto result = client.take_result();
  ASSERT_TRUE(result);
  EXPECT_EQ(hex_encode(result->encrypt_key.span()), test::str(v.results, "client_encrypt_key_hex"));
  EXPECT_EQ(hex_encode(result->decrypt_key.span()), test::str(v.results, "client_decrypt_key_hex"));
  EXPECT_EQ(result->peer.id, test::str(v.results, "client_sees_remote_id"));
}

TEST(HandshakeVectors, ServerInitArrivingByteByByte) {
  Vectors v;
  base::ReplayRandom random(v.client_random());
  ClientHandshake client(v.client, v.server.id(), "http/1.1", random);
  ASSERT_TRUE(client.start(Vectors::at(v.client_ts)));
  for (std::size_t i = 0; i < v.server_wire.size(); ++i) {
    ASSERT_NE(client.state(), State::Established) << i;
    auto used =
        client.handle_input(ByteSpan(v.server_wire).subspan(i, 1), Vectors::at(v.server_ts));
    ASSERT_TRUE(used);
    ASSERT_EQ(*used, 1u);
  }
  EXPECT_EQ(client.state(), State::Established);
}

// negative_cases of handshake.json.
TEST(HandshakeVectors, ServerRefusesAnAlpnOutsideTheLeaseSilently) {
  Vectors v;
  const auto r = run_server(v, v.client_wire, v.server_ts, {"h2"});
  EXPECT_EQ(r.state, State::Failed);
  EXPECT_EQ(r.error, Errc::AlpnNotAccepted);
  EXPECT_TRUE(r.output.empty());
}

TEST(HandshakeVectors, ClockSkewBoundaryIsInclusive) {
  Vectors v;
  const auto at30 = run_server(v, v.client_wire, v.client_ts + 30);
  EXPECT_EQ(at30.state, State::Established);
  const auto at31 = run_server(v, v.client_wire, v.client_ts + 31);
  EXPECT_EQ(at31.error, Errc::TimestampTooOld);
  EXPECT_TRUE(at31.output.empty());
  const auto early30 = run_server(v, v.client_wire, v.client_ts - 30);
  EXPECT_EQ(early30.state, State::Established);
  const auto early31 = run_server(v, v.client_wire, v.client_ts - 31);
  EXPECT_EQ(early31.error, Errc::TimestampInFuture);
}

// Any flipped byte of ClientInitPayload makes some check fail and the server stays silent.
TEST(HandshakeVectors, EveryFlippedPayloadByteIsRefused) {
  Vectors v;
  const auto& ci = v.doc.at("client_init");
  const Bytes payload = test::hex(ci, "client_init_payload_hex");
  const Bytes sig = test::hex(ci, "client_signature_hex");
  for (std::size_t i = 0; i < payload.size(); ++i) {
    Bytes flipped = payload;
    flipped[i] ^= 0x01;
    Bytes wire;
    base::append_length_prefixed(wire, encode(SignedPayload{flipped, sig}));
    const auto r = run_server(v, wire, v.server_ts);
    EXPECT_EQ(r.state, State::Failed) << "byte " << i;
    EXPECT_TRUE(r.output.empty()) << "byte " << i;
  }
}

TEST(HandshakeVectors, DialerRefusesAResponderThatIsNotTheLease) {
  Vectors v;
  base::ReplayRandom random(v.client_random());
  ClientHandshake client(v.client, "SQ3TGYRHOZVI3MGU7H5AKQ2VQM", "http/1.1", random);
  ASSERT_TRUE(client.start(Vectors::at(v.client_ts)));
  auto r = client.handle_input(v.server_wire, Vectors::at(v.server_ts));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::UnexpectedPeerIdentity);
  EXPECT_EQ(client.state(), State::Failed);
  EXPECT_EQ(client.take_result().error(), Errc::InvalidState);
}

TEST(HandshakeReplay, ASecondHandshakeOfTheSameLeaseHolderRefusesTheReplay) {
  Vectors v;
  ReplayCache cache;
  const auto first = run_server(v, v.client_wire, v.server_ts, {"http/1.1"}, &cache);
  EXPECT_EQ(first.state, State::Established);
  const auto replay = run_server(v, v.client_wire, v.server_ts + 5, {"http/1.1"}, &cache);
  EXPECT_EQ(replay.error, Errc::ReplayedClientInit);
  EXPECT_TRUE(replay.output.empty());
  // A refused (unverified) message never enters the cache.
  ReplayCache fresh;
  (void)run_server(v, v.client_wire, v.server_ts, {"h2"}, &fresh);
  EXPECT_EQ(fresh.size(), 0u);
}

// Client-side checks, each with its own error: a server that signs what we tell it to.
class HandshakeClientChecks : public ::testing::Test {
 protected:
  Vectors v;
  // A ServerInit as the vector's server would send it, with `edit` applied before signing.
  Bytes server_init(const std::function<void(InitPayload&)>& edit, bool resign = true,
                    bool corrupt_signature = false) {
    auto sp = decode_signed_payload(ByteSpan(v.server_wire).subspan(4));
    auto p = decode_init_payload(sp->data);
    edit(*p);
    sp->data = encode(*p);
    if (resign) {
      const auto sig = v.server.sign(sp->data);
      sp->signature.assign(sig.begin(), sig.end());
    }
    if (corrupt_signature) sp->signature[5] ^= 0x40;
    Bytes wire;
    base::append_length_prefixed(wire, encode(*sp));
    return wire;
  }
  base::ErrorCode client_error(const Bytes& wire, std::int64_t now = 0) {
    base::ReplayRandom random(v.client_random());
    ClientHandshake client(v.client, v.server.id(), "http/1.1", random);
    EXPECT_TRUE(client.start(Vectors::at(v.client_ts)));
    (void)client.handle_input(wire, Vectors::at(now ? now : v.server_ts));
    return client.state() == State::Failed ? client.error() : base::ErrorCode{};
  }
};

TEST_F(HandshakeClientChecks, EachFailureHasItsOwnError) {
  EXPECT_EQ(client_error(server_init([](InitPayload&) {}, false, true)), Errc::BadSignature);
  EXPECT_EQ(client_error(server_init([](InitPayload& p) { p.version = 1; })),
            Errc::UnsupportedVersion);
  EXPECT_EQ(client_error(v.server_wire, v.server_ts + 31), Errc::TimestampTooOld);
  EXPECT_EQ(client_error(v.server_wire, v.server_ts - 31), Errc::TimestampInFuture);
  EXPECT_EQ(client_error(server_init([&](InitPayload& p) { p.identity.id = v.client.id(); })),
            Errc::InvalidIdentity);
  EXPECT_EQ(client_error(server_init([](InitPayload& p) { p.alpn = "h2"; })), Errc::AlpnMismatch);
  EXPECT_EQ(client_error(server_init([](InitPayload& p) { p.nonce.resize(16); })),
            Errc::InvalidNonce);
  EXPECT_EQ(client_error(server_init([](InitPayload& p) { p.session_public_key.assign(32, 0); })),
            Errc::InvalidSessionKey);
  EXPECT_EQ(client_error(Bytes{0, 0, 0, 3, 0xff, 0xff, 0xff}), Errc::MalformedMessage);
  EXPECT_EQ(client_error(Bytes{0x10, 0, 0, 0}), Errc::MessageTooLarge);
}

TEST_F(HandshakeClientChecks, PeerClosedDuringHandshake) {
  base::ReplayRandom random(v.client_random());
  ClientHandshake client(v.client, v.server.id(), "http/1.1", random);
  ASSERT_TRUE(client.start(Vectors::at(v.client_ts)));
  (void)client.handle_input(ByteSpan(v.server_wire).first(10), Vectors::at(v.server_ts));
  client.handle_eof();
  EXPECT_EQ(client.error(), Errc::PeerClosedDuringHandshake);
}

TEST_F(HandshakeClientChecks, NoCommonAlpnBeforeConnecting) {
  EXPECT_TRUE(check_alpn({"http/1.1", "h2"}, "h2"));
  EXPECT_EQ(check_alpn({"http/1.1"}, "h2").error(), Errc::NoCommonAlpn);
  EXPECT_EQ(check_alpn({}, "http/1.1").error(), Errc::NoCommonAlpn);
}

TEST_F(HandshakeClientChecks, StartNeedsRandomBytesAndRunsOnce) {
  base::ReplayRandom empty(Bytes(10));
  ClientHandshake client(v.client, v.server.id(), "http/1.1", empty);
  EXPECT_EQ(client.start(Vectors::at(v.client_ts)).error(), Errc::RandomSourceFailed);
  base::ReplayRandom random(v.client_random());
  ClientHandshake ok(v.client, v.server.id(), "http/1.1", random);
  ASSERT_TRUE(ok.start(Vectors::at(v.client_ts)));
  EXPECT_EQ(ok.start(Vectors::at(v.client_ts)).error(), Errc::InvalidState);
}

}  // namespace
}  // namespace portal::handshake
