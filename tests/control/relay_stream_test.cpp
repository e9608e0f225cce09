// SPDX-License-Identifier: Apache-2.0
#include "portal/control/relay_stream.hpp"

#include <gtest/gtest.h>

#include "portal/base/encoding.hpp"
#include "portal/handshake/messages.hpp"
#include "portal/lease/memory_directory.hpp"
#include "portal/lease/name.hpp"
#include "support/vectors.hpp"

namespace portal::control {
namespace {

using base::Bytes;
using base::hex_encode;
using wire::ResponseCode;

constexpr std::int64_t kT = 1'762'473'600;  // the vectors' clock

base::Clock::SystemTime at(std::int64_t t) {
  return base::Clock::SystemTime{std::chrono::seconds{t}};
}

struct Relay {
  boost::json::value doc = test::load_vectors("control_packets.json");
  identity::Credential relay = *identity::Credential::from_seed(
      test::from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
  lease::LeaseTable leases;
  handshake::ReplayCache replay{1024, 30};
  RelayContext ctx{leases, replay, relay, {"ws://localhost:4017/relay"}};

  Bytes wire(const std::string& name) const {
    for (const auto& v : doc.at("vectors").as_array()) {
      if (test::str(v, "name") == name) return test::hex(v, "wire_hex");
    }
    throw std::runtime_error("no vector " + name);
  }
  // Feeds `input` on a new stream of connection `conn` at `now`; returns what the relay sent.
  std::string exchange(const Bytes& input, std::int64_t now, lease::ConnectionId conn = 1) {
    RelayControlStream s(ctx, conn);
    EXPECT_EQ(s.handle_input(input, at(now)).value(), input.size());
    return hex_encode(s.pending_output());
  }
};

// The control vectors get the answers the spec gives, under the fake clock.
TEST(RelayControlVectors, LeaseLifecycleUnderTheFakeClock) {
  Relay r;
  const auto accepted = hex_encode(r.wire("lease_update_response_accepted"));
  const auto rejected = hex_encode(r.wire("lease_update_response_rejected"));
  EXPECT_EQ(r.exchange(r.wire("lease_update_request"), kT), accepted);
  ASSERT_NE(r.leases.find("OREI3BGAI3ZBNJ6FBEOZANHYEE", kT), nullptr);
  // The same signed bytes again: a replay, refused (v1 would accept it).
  EXPECT_EQ(r.exchange(r.wire("lease_update_request"), kT + 5), rejected);

  // RelayInfo lists the lease and the relay's own identity.
  RelayControlStream info(r.ctx, 2);
  ASSERT_TRUE(info.handle_input(r.wire("relay_info_request"), at(kT)));
  ClientRequest reader = ClientRequest::relay_info();
  ASSERT_TRUE(reader.handle_input(info.pending_output()));
  ASSERT_TRUE(reader.relay_info_response());
  EXPECT_EQ(reader.relay_info_response()->identity->id, "UXD2N3JFQH2XMFTUYJRVV3MASE");
  ASSERT_EQ(reader.relay_info_response()->leases.size(), 1u);
  EXPECT_EQ(reader.relay_info_response()->leases[0].name, "demo-app");

  // The signed delete (timestamp T+10) removes it; replaying it is refused.
  EXPECT_EQ(r.exchange(r.wire("lease_delete_request"), kT + 10),
            hex_encode(r.wire("lease_delete_response_accepted")));
  EXPECT_EQ(r.leases.size(), 0u);
  EXPECT_EQ(r.exchange(r.wire("lease_delete_request"), kT + 11),
            hex_encode(Bytes{0, 0, 0, 6, 0x08, 0x05, 0x12, 0x02, 0x08, 0x06}));  // REJECTED
}

TEST(RelayControlVectors, SignedRequestsOutsideTheClockWindowAreRejected) {
  Relay r;
  const auto rejected = hex_encode(r.wire("lease_update_response_rejected"));
  EXPECT_EQ(r.exchange(r.wire("lease_update_request"), kT + 31), rejected);
  EXPECT_EQ(r.exchange(r.wire("lease_update_request"), kT - 31), rejected);
  // A year later the 2025 request is refused (v1 also refuses it, as expired).
  EXPECT_EQ(r.exchange(r.wire("lease_update_request"), kT + 365 * 86400), rejected);
  EXPECT_EQ(r.leases.size(), 0u);
  // The window is inclusive.
  EXPECT_EQ(r.exchange(r.wire("lease_update_request"), kT + 30),
            hex_encode(r.wire("lease_update_response_accepted")));
}

TEST(RelayControlVectors, ConnectionRequestIsForwardedThenSpliced) {
  Relay r;
  ASSERT_EQ(r.exchange(r.wire("lease_update_request"), kT),
            hex_encode(r.wire("lease_update_response_accepted")));
  RelayControlStream s(r.ctx, 7);
  Bytes in = r.wire("connection_request");
  const std::size_t request = in.size();
  in.insert(in.end(), {0xaa, 0xbb});  // the dialer's ClientInit, already on its way
  EXPECT_EQ(s.handle_input(in, at(kT)).value(), request);
  EXPECT_EQ(s.state(), RelayStreamState::AwaitingForward);
  auto fwd = s.take_forward();
  ASSERT_TRUE(fwd);
  EXPECT_EQ(fwd->lease_id, "OREI3BGAI3ZBNJ6FBEOZANHYEE");
  // The forwarded request is the dialer's, byte for byte (§7, transcript step 2).
  EXPECT_EQ(hex_encode(wire::encode_packet_wire(
                wire::Packet{wire::PacketType::ConnectionRequest, wire::encode(*fwd)})),
            hex_encode(r.wire("connection_request")));
  EXPECT_FALSE(s.take_forward());
  ASSERT_TRUE(s.answer_forward(ResponseCode::Accepted));
  EXPECT_EQ(hex_encode(s.pending_output()), hex_encode(r.wire("connection_response_accepted")));
  EXPECT_EQ(s.state(), RelayStreamState::Spliced);
  EXPECT_EQ(s.handle_input(Bytes{0xaa, 0xbb}, at(kT)).value(), 0u);  // the splice's bytes now
}

TEST(RelayControlVectors, UnknownLeaseAndRefusedForward) {
  Relay r;
  EXPECT_EQ(r.exchange(r.wire("connection_request"), kT),
            hex_encode(r.wire("connection_response_invalid_identity")));
  ASSERT_EQ(r.exchange(r.wire("lease_update_request"), kT),
            hex_encode(r.wire("lease_update_response_accepted")));
  RelayControlStream s(r.ctx, 3);
  ASSERT_TRUE(s.handle_input(r.wire("connection_request"), at(kT)));
  ASSERT_TRUE(s.take_forward());
  ASSERT_TRUE(s.answer_forward(ResponseCode::Rejected));
  EXPECT_EQ(hex_encode(s.pending_output()), hex_encode(r.wire("connection_response_rejected")));
  EXPECT_EQ(s.state(), RelayStreamState::Open);  // the stream may carry another request
  EXPECT_EQ(s.answer_forward(ResponseCode::Accepted).error(), Errc::InvalidState);
}

TEST(RelayControl, BadSignatureGetsInvalidIdentityInsteadOfSilence) {
  Relay r;
  Bytes tampered = r.wire("lease_update_request");
  tampered[tampered.size() - 3] ^= 0x01;                        // inside the signature
  EXPECT_EQ(r.exchange(tampered, kT), "00000006080312020803");  // LEASE_UPDATE_RESPONSE 3
  EXPECT_EQ(r.leases.size(), 0u);
}

TEST(RelayControl, NamesFollowTheSdkRule) {
  Relay r;
  auto holder = identity::Credential::from_seed(Bytes(32, 8));
  Bytes draws(24);
  for (std::size_t i = 0; i < draws.size(); ++i) draws[i] = static_cast<base::Byte>(i);
  base::ReplayRandom nonces(draws);  // two different 12-byte nonces
  wire::Lease bad;
  bad.name = "no spaces";
  bad.expires = kT + 30;
  auto request = ClientRequest::lease_update(*holder, bad, nonces, at(kT));
  EXPECT_EQ(r.exchange(base::to_bytes(request->pending_output()), kT), "00000006080312020804");
  wire::Lease unnamed;
  unnamed.name = "(unnamed)";
  unnamed.expires = kT + 30;
  auto ok = ClientRequest::lease_update(*holder, unnamed, nonces, at(kT));
  EXPECT_EQ(r.exchange(base::to_bytes(ok->pending_output()), kT), "00000006080312020801");
}

// §13.1: each input that crashes the original relay closes this stream (or gets an answer), and
// the relay keeps serving: a fresh stream works afterwards.
TEST(RelayControl, MalformedInputsOfSection13CloseTheStreamOnly) {
  Relay r;
  const auto packet = [](wire::PacketType t, Bytes payload) {
    return wire::encode_packet_wire(wire::Packet{t, std::move(payload)});
  };
  struct Case {
    const char* name;
    Bytes input;
    std::string answer;  // empty: the stream closes without one
  };
  const Case cases[] = {
      {"length above the limit", Bytes{0x04, 0x00, 0x00, 0x01}, ""},
      {"lease update without a lease",
       packet(wire::PacketType::LeaseUpdateRequest,
              handshake::encode(handshake::SignedPayload{Bytes{}, Bytes(64, 0)})),
       "00000006080312020803"},
      {"connection request without client identity",
       packet(wire::PacketType::ConnectionRequest, wire::encode(wire::ConnectionRequest{"X", {}})),
       hex_encode(r.wire("connection_response_invalid_identity"))},
      {"relay info request with a payload",
       packet(wire::PacketType::RelayInfoRequest, Bytes{0x0a, 0x00}), "*"},
      {"malformed packet", Bytes{0, 0, 0, 2, 0xff, 0xff}, ""},
      {"a response type sent to the relay", r.wire("connection_response_accepted"), ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    RelayControlStream s(r.ctx, 9);
    (void)s.handle_input(c.input, at(kT));
    if (c.answer.empty()) {
      EXPECT_EQ(s.state(), RelayStreamState::Closed);
      EXPECT_TRUE(s.pending_output().empty());
    } else if (c.answer != "*") {
      EXPECT_EQ(hex_encode(s.pending_output()), c.answer);
    } else {
      EXPECT_FALSE(s.pending_output().empty());  // answered, not crashed
    }
  }
  EXPECT_EQ(r.exchange(r.wire("lease_update_request"), kT),
            hex_encode(r.wire("lease_update_response_accepted")));
}

// A peer that sends many requests at once gets one answer at a time: the next packet is read
// only once the previous answer was taken from the output.
TEST(RelayControl, AnswersNoFasterThanTheyAreFlushed) {
  Relay r;
  const Bytes one = r.wire("relay_info_request");
  Bytes many;
  for (int i = 0; i < 100; ++i) many.insert(many.end(), one.begin(), one.end());
  RelayControlStream s(r.ctx, 1);
  std::size_t offset = 0;
  int answers = 0;
  while (offset < many.size()) {
    const auto used = s.handle_input(base::ByteSpan(many).subspan(offset), at(kT));
    ASSERT_TRUE(used);
    EXPECT_EQ(*used, one.size());  // exactly one request per call
    offset += *used;
    ASSERT_FALSE(s.pending_output().empty());
    const std::size_t answer = s.pending_output().size();
    // Not consumed yet: a further call reads nothing.
    EXPECT_EQ(s.handle_input(base::ByteSpan(many).subspan(offset), at(kT)).value(), 0u);
    EXPECT_EQ(s.pending_output().size(), answer);
    s.consume_output(answer);
    ++answers;
  }
  EXPECT_EQ(answers, 100);
}

// Every stream sends the same serialized RelayInfo until the table changes: a flood of requests
// costs one encoding, not one per request.
TEST(RelayControl, RelayInfoIsSerializedOnceAndShared) {
  Relay r;
  RelayControlStream a(r.ctx, 1), b(r.ctx, 2);
  ASSERT_TRUE(a.handle_input(r.wire("relay_info_request"), at(kT)));
  ASSERT_TRUE(b.handle_input(r.wire("relay_info_request"), at(kT)));
  ASSERT_FALSE(a.pending_output().empty());
  EXPECT_EQ(a.pending_output().data(), b.pending_output().data());
  // Sent in pieces.
  const auto whole = hex_encode(a.pending_output());
  a.consume_output(5);
  EXPECT_EQ(hex_encode(a.pending_output()), whole.substr(10));
  a.consume_output(a.pending_output().size());
  EXPECT_TRUE(a.pending_output().empty());
  // A change of the table: a new answer, listing the lease.
  ASSERT_EQ(r.exchange(r.wire("lease_update_request"), kT),
            hex_encode(r.wire("lease_update_response_accepted")));
  RelayControlStream c(r.ctx, 3);
  ASSERT_TRUE(c.handle_input(r.wire("relay_info_request"), at(kT)));
  EXPECT_NE(hex_encode(c.pending_output()), whole);
  EXPECT_NE(c.pending_output().data(), b.pending_output().data());
  EXPECT_EQ(hex_encode(b.pending_output()), whole);  // b's answer is unchanged
}

// A signed LEASE_UPDATE_REQUEST with any nonce, as a peer could send it.
Bytes signed_update(const identity::Credential& who, std::string name, Bytes nonce,
                    std::int64_t timestamp) {
  wire::LeaseUpdateRequest req;
  req.lease = wire::Lease{};
  req.lease->identity = who.identity();
  req.lease->name = std::move(name);
  req.lease->alpn = {"http/1.1"};
  req.lease->expires = timestamp + 30;
  req.nonce = std::move(nonce);
  req.timestamp = timestamp;
  const Bytes data = wire::encode(req);
  const auto sig = who.sign(data);
  return wire::encode_packet_wire(wire::Packet{
      wire::PacketType::LeaseUpdateRequest,
      handshake::encode(handshake::SignedPayload{data, Bytes(sig.begin(), sig.end())})});
}

constexpr const char* kAccepted = "00000006080312020801";
constexpr const char* kRejected = "00000006080312020806";

struct Recorded {
  std::vector<std::string> reasons;
  void attach(RelayContext& ctx) {
    ctx.on_refused = [this](const char* reason, const std::string&) {
      reasons.emplace_back(reason);
    };
  }
};

// §4.8: v1 clients send 12 random bytes; another length cannot key the replay cache safely.
TEST(RelayControl, SignedRequestsNeedATwelveByteNonce) {
  Relay r;
  Recorded rec;
  rec.attach(r.ctx);
  auto who = identity::Credential::from_seed(Bytes(32, 9));
  EXPECT_EQ(r.exchange(signed_update(*who, "a", Bytes{}, kT), kT), kRejected);
  EXPECT_EQ(r.exchange(signed_update(*who, "a", Bytes(11, 1), kT), kT), kRejected);
  EXPECT_EQ(r.exchange(signed_update(*who, "a", Bytes(16, 1), kT), kT), kRejected);
  EXPECT_EQ(r.leases.size(), 0u);
  EXPECT_EQ(r.replay.size(), 0u);
  EXPECT_EQ(rec.reasons, (std::vector<std::string>{"bad_nonce", "bad_nonce", "bad_nonce"}));
  EXPECT_EQ(r.exchange(signed_update(*who, "a", Bytes(12, 1), kT), kT), kAccepted);
  EXPECT_EQ(r.exchange(signed_update(*who, "a", Bytes(12, 1), kT), kT + 1), kRejected);
  EXPECT_EQ(rec.reasons.back(), "replayed");
}

// A look-alike name of another identity is refused and reported; the holder keeps its name.
TEST(RelayControl, CaseFoldedNameOfAnotherIdentityIsRefused) {
  Relay r;
  Recorded rec;
  rec.attach(r.ctx);
  auto owner = identity::Credential::from_seed(Bytes(32, 10));
  auto impostor = identity::Credential::from_seed(Bytes(32, 11));
  EXPECT_EQ(r.exchange(signed_update(*owner, "web", Bytes(12, 1), kT), kT, 1), kAccepted);
  EXPECT_EQ(r.exchange(signed_update(*impostor, "WEB", Bytes(12, 2), kT), kT, 2), kRejected);
  EXPECT_EQ(r.exchange(signed_update(*impostor, "web", Bytes(12, 3), kT), kT, 2), kRejected);
  EXPECT_EQ(rec.reasons, (std::vector<std::string>{"name_taken_ignoring_case", "name_taken"}));
  ASSERT_NE(r.leases.holder_of_name("Web"), nullptr);
  EXPECT_EQ(*r.leases.holder_of_name("Web"), owner->id());
  EXPECT_EQ(r.leases.size(), 1u);
}

// A full replay cache evicts and raises its floor (an evicted request stays refused), and one
// identity has a quota; both refusals are reported.
TEST(RelayControl, ReplayCacheBoundsRefuseAndAreReported) {
  lease::LeaseTable leases;
  handshake::ReplayCache replay{4, 30, 2};
  auto relay = identity::Credential::from_seed(Bytes(32, 1));
  RelayContext ctx{leases, replay, *relay, {}};
  Recorded rec;
  rec.attach(ctx);
  auto send = [&](const identity::Credential& who, base::Byte n, std::int64_t ts = kT) {
    RelayControlStream s(ctx, 1);
    const Bytes in = signed_update(who, "", Bytes(12, n), ts);
    EXPECT_EQ(s.handle_input(in, at(kT + 1)).value(), in.size());
    return hex_encode(s.pending_output());
  };
  auto a = identity::Credential::from_seed(Bytes(32, 2));
  auto b = identity::Credential::from_seed(Bytes(32, 3));
  auto c = identity::Credential::from_seed(Bytes(32, 4));
  EXPECT_EQ(send(*a, 1), kAccepted);
  EXPECT_EQ(send(*a, 2), kAccepted);
  EXPECT_EQ(send(*a, 3), kRejected);  // a's quota
  EXPECT_EQ(send(*b, 1), kAccepted);
  EXPECT_EQ(send(*b, 2), kAccepted);
  // Full: a newer request evicts the oldest entry and raises the floor to its second...
  EXPECT_EQ(send(*c, 1, kT + 1), kAccepted);
  EXPECT_EQ(replay.evictions(), 1u);
  // ...so a replay of any request of that second is refused, evicted or not,
  EXPECT_EQ(send(*a, 1), kRejected);
  EXPECT_EQ(send(*b, 2), kRejected);
  // and so is a new request of that second, without evicting anything.
  EXPECT_EQ(send(*c, 2), kRejected);
  EXPECT_EQ(replay.evictions(), 1u);
  EXPECT_EQ(rec.reasons, (std::vector<std::string>{"replay_identity_quota", "replay_floor",
                                                   "replay_floor", "replay_floor"}));
}

// ---- with a fleet directory (ADR 0015 §5) -------------------------------------------------------

// A relay of a fleet: its own table and replay cache, a directory shared with the others.
struct FleetRelay {
  FleetRelay(lease::MemoryDirectory& d, std::uint8_t seed)
      : dir(d), relay(*identity::Credential::from_seed(Bytes(32, seed))) {
    ctx.directory = true;
    ctx.directory_ttl = std::chrono::milliseconds(15'000);
    ctx.on_refused = [this](const char* reason, const std::string&) { refusals.push_back(reason); };
  }
  lease::MemoryDirectory& dir;
  identity::Credential relay;
  lease::LeaseTable leases;
  handshake::ReplayCache replay{1024, 30};
  RelayContext ctx{leases, replay, relay, {}};
  std::vector<std::string> refusals;
  std::vector<lease::DirectoryRequest> seen;  // every request carried, in order

  // Carries what the stream emitted to the directory and back, until it asks for nothing more.
  void carry(RelayControlStream& s, std::int64_t now) {
    for (auto out = s.take_directory_requests(); !out.empty(); out = s.take_directory_requests()) {
      for (auto& q : out) {
        seen.push_back(q);
        s.directory_answer(dir.apply(q, now * 1000), at(now));
      }
    }
  }
  // One request on a new stream of connection `conn`; returns the answer's response code.
  ResponseCode ask(const Bytes& packet, std::int64_t now, lease::ConnectionId conn = 1) {
    RelayControlStream s(ctx, conn);
    EXPECT_EQ(s.handle_input(packet, at(now)).value(), packet.size());
    if (s.state() == RelayStreamState::AwaitingDirectory) {
      EXPECT_TRUE(s.pending_output().empty());  // nothing is answered before the directory
      carry(s, now);
    }
    EXPECT_EQ(s.state(), RelayStreamState::Open);
    const auto out = s.pending_output();
    // The answer: [len][Packet{type, payload=Response{code}}]; the code is its last byte.
    EXPECT_GE(out.size(), 1u);
    return out.empty() ? ResponseCode::Unknown : static_cast<ResponseCode>(out.back());
  }
};

Bytes signed_update(const identity::Credential& who, const std::string& name, std::int64_t now,
                    base::RandomSource& random) {
  wire::Lease l;
  l.name = name;
  l.alpn = {"http/1.1"};
  l.expires = now + 30;
  auto request = ClientRequest::lease_update(who, l, random, at(now));
  return base::to_bytes(request->pending_output());
}

TEST(RelayControlFleet, ALeaseWaitsForTheNonceAndTheNameThenIsPublished) {
  lease::MemoryDirectory dir;
  FleetRelay a(dir, 1);
  Relay spec;
  EXPECT_EQ(a.ask(spec.wire("lease_update_request"), kT), ResponseCode::Accepted);
  ASSERT_EQ(a.seen.size(), 3u);
  EXPECT_EQ(a.seen[0].op, lease::DirectoryOp::CheckNonce);
  EXPECT_EQ(a.seen[0].key, "OREI3BGAI3ZBNJ6FBEOZANHYEE");
  EXPECT_EQ(a.seen[0].value.size(), 12u);
  EXPECT_EQ(a.seen[0].ttl, std::chrono::milliseconds(31'000));  // the clock window, and 1 s
  EXPECT_EQ(a.seen[1].op, lease::DirectoryOp::ClaimName);
  EXPECT_EQ(a.seen[1].key, lease::fold_name("demo-app"));
  EXPECT_EQ(a.seen[1].subject, "OREI3BGAI3ZBNJ6FBEOZANHYEE");
  EXPECT_EQ(a.seen[2].op, lease::DirectoryOp::PublishLease);
  EXPECT_EQ(a.seen[2].relay, a.relay.id());
  EXPECT_GT(a.seen[2].ttl.count(), 0);
  EXPECT_LE(a.seen[2].ttl, std::chrono::milliseconds(15'000));
  // The stored record is the holder's signed request: another relay can verify it itself.
  const auto packet =
      wire::decode_packet(base::ByteSpan(spec.wire("lease_update_request")).subspan(4));
  ASSERT_TRUE(packet);
  EXPECT_EQ(hex_encode(a.seen[2].value), hex_encode(packet->payload));
  ASSERT_NE(a.leases.find("OREI3BGAI3ZBNJ6FBEOZANHYEE", kT), nullptr);
  lease::DirectoryRequest resolve;
  resolve.op = lease::DirectoryOp::Resolve;
  resolve.key = "OREI3BGAI3ZBNJ6FBEOZANHYEE";
  const auto found = dir.apply(resolve, kT * 1000);
  ASSERT_EQ(found.status, lease::DirectoryStatus::Ok);
  EXPECT_EQ(found.records.at(0).relay, a.relay.id());
}

TEST(RelayControlFleet, ARequestReplayedOnAnotherRelayIsRefused) {
  lease::MemoryDirectory dir;
  FleetRelay a(dir, 1), b(dir, 2);
  Relay spec;
  ASSERT_EQ(a.ask(spec.wire("lease_update_request"), kT), ResponseCode::Accepted);
  // Relay b has never seen it: its own replay cache passes it, the fleet's does not.
  EXPECT_EQ(b.ask(spec.wire("lease_update_request"), kT + 1), ResponseCode::Rejected);
  EXPECT_EQ(b.refusals, std::vector<std::string>{"replayed"});
  EXPECT_EQ(b.leases.size(), 0u);
}

TEST(RelayControlFleet, ANameHeldOnAnotherRelayIsRefusedUnderCaseFolding) {
  lease::MemoryDirectory dir;
  FleetRelay a(dir, 1), b(dir, 2);
  Relay spec;
  ASSERT_EQ(a.ask(spec.wire("lease_update_request"), kT), ResponseCode::Accepted);  // demo-app
  auto other = identity::Credential::from_seed(Bytes(32, 8));
  Bytes draws(24);
  for (std::size_t i = 0; i < draws.size(); ++i) draws[i] = static_cast<base::Byte>(i);
  base::ReplayRandom nonces(draws);  // two different nonces
  EXPECT_EQ(b.ask(signed_update(*other, "Demo-App", kT, nonces), kT), ResponseCode::Rejected);
  EXPECT_EQ(b.refusals, std::vector<std::string>{"name_taken_ignoring_case"});
  // The same identity may hold its name on several relays.
  EXPECT_EQ(a.ask(signed_update(*other, "other-app", kT, nonces), kT), ResponseCode::Accepted);
}

TEST(RelayControlFleet, WithTheDirectoryDownOnlyRenewalsOfLeasesHeldHereAreAccepted) {
  lease::MemoryDirectory dir;
  FleetRelay a(dir, 1);
  auto who = identity::Credential::from_seed(Bytes(32, 8));
  Bytes draws(48);
  for (std::size_t i = 0; i < draws.size(); ++i) draws[i] = static_cast<base::Byte>(i);
  base::ReplayRandom nonces(draws);
  ASSERT_EQ(a.ask(signed_update(*who, "app", kT, nonces), kT, 5), ResponseCode::Accepted);

  // The directory is down: every reply says so.
  const auto down = [&](const Bytes& packet, std::int64_t now, lease::ConnectionId conn) {
    RelayControlStream s(a.ctx, conn);
    EXPECT_EQ(s.handle_input(packet, at(now)).value(), packet.size());
    EXPECT_EQ(s.state(), RelayStreamState::AwaitingDirectory);
    for (const auto& q : s.take_directory_requests()) {
      lease::DirectoryReply r;
      r.ticket = q.ticket;
      r.status = lease::DirectoryStatus::Unavailable;
      s.directory_answer(r, at(now));
    }
    EXPECT_EQ(s.state(), RelayStreamState::Open);
    return static_cast<ResponseCode>(s.pending_output().back());
  };
  // A renewal on the holder's connection, same name: accepted on the local checks.
  EXPECT_EQ(down(signed_update(*who, "app", kT + 5, nonces), kT + 5, 5), ResponseCode::Accepted);
  // A rename, or the same lease from another connection: refused.
  EXPECT_EQ(down(signed_update(*who, "app2", kT + 6, nonces), kT + 6, 5), ResponseCode::Rejected);
  EXPECT_EQ(down(signed_update(*who, "app", kT + 7, nonces), kT + 7, 6), ResponseCode::Rejected);
  EXPECT_EQ(a.refusals,
            (std::vector<std::string>{"directory_unavailable", "directory_unavailable"}));
  ASSERT_NE(a.leases.find(who->id(), kT + 7), nullptr);
  EXPECT_EQ(a.leases.find(who->id(), kT + 7)->lease.name, "app");
}

TEST(RelayControlFleet, ADeleteWaitsForTheNonceAndWithdrawsTheRecord) {
  lease::MemoryDirectory dir;
  FleetRelay a(dir, 1);
  Relay spec;
  ASSERT_EQ(a.ask(spec.wire("lease_update_request"), kT), ResponseCode::Accepted);
  a.seen.clear();
  EXPECT_EQ(a.ask(spec.wire("lease_delete_request"), kT + 10), ResponseCode::Accepted);
  ASSERT_EQ(a.seen.size(), 2u);
  EXPECT_EQ(a.seen[0].op, lease::DirectoryOp::CheckNonce);
  EXPECT_EQ(a.seen[1].op, lease::DirectoryOp::WithdrawLease);
  EXPECT_EQ(a.leases.size(), 0u);
  lease::DirectoryRequest resolve;
  resolve.op = lease::DirectoryOp::Resolve;
  resolve.key = "OREI3BGAI3ZBNJ6FBEOZANHYEE";
  EXPECT_EQ(dir.apply(resolve, (kT + 10) * 1000).status, lease::DirectoryStatus::NotFound);
}

TEST(RelayControlFleet, RepliesTheStreamDoesNotWaitForAreIgnored) {
  lease::MemoryDirectory dir;
  FleetRelay a(dir, 1);
  Relay spec;
  RelayControlStream s(a.ctx, 1);
  const auto in = spec.wire("lease_update_request");
  ASSERT_EQ(s.handle_input(in, at(kT)).value(), in.size());
  auto out = s.take_directory_requests();
  ASSERT_EQ(out.size(), 2u);
  lease::DirectoryReply stray;
  stray.ticket = 999;
  stray.status = lease::DirectoryStatus::Ok;
  s.directory_answer(stray, at(kT));
  lease::DirectoryReply nonce;
  nonce.ticket = out[0].ticket;
  nonce.status = lease::DirectoryStatus::Ok;
  s.directory_answer(nonce, at(kT));
  s.directory_answer(nonce, at(kT));  // twice: still waiting for the name
  EXPECT_EQ(s.state(), RelayStreamState::AwaitingDirectory);
  EXPECT_TRUE(s.pending_output().empty());
  lease::DirectoryReply claim;
  claim.ticket = out[1].ticket;
  claim.status = lease::DirectoryStatus::Ok;
  s.directory_answer(claim, at(kT));
  EXPECT_EQ(s.state(), RelayStreamState::Open);
  EXPECT_EQ(hex_encode(s.pending_output()),
            hex_encode(spec.wire("lease_update_response_accepted")));
}

}  // namespace
}  // namespace portal::control
