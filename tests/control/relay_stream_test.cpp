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

// ---- lease lookups (ADR 0016) --------------------------------------------------------------

// A LeaseLookupRequest packet for `target`.
Bytes lookup_packet(std::string target) {
  return base::to_bytes(ClientRequest::lease_lookup(std::move(target)).pending_output());
}

// The stream's LeaseLookupResponse, parsed as a client does (fails the test when it does not).
wire::LeaseLookupResponse lookup_answer(const RelayControlStream& s) {
  auto reader = ClientRequest::lease_lookup("x");
  const auto out = s.pending_output();
  EXPECT_EQ(reader.handle_input(out).value(), out.size());
  EXPECT_TRUE(reader.done());
  return reader.lease_lookup_response().value_or(wire::LeaseLookupResponse{});
}

// The payload of a signed LEASE_UPDATE_REQUEST packet (what a directory record holds).
Bytes record_of(const Bytes& packet) {
  auto decoded = wire::decode_packet(base::ByteSpan(packet).subspan(4));
  EXPECT_TRUE(decoded);
  return decoded ? decoded->payload : Bytes{};
}

TEST(RelayControlLookup, TheTableAnswersByIdInAnyCaseAndByNameUnderCaseFolding) {
  Relay r;
  ASSERT_EQ(r.exchange(r.wire("lease_update_request"), kT),
            hex_encode(r.wire("lease_update_response_accepted")));
  const auto* held = r.leases.find("OREI3BGAI3ZBNJ6FBEOZANHYEE", kT);
  ASSERT_NE(held, nullptr);
  std::vector<std::pair<wire::PacketType, ResponseCode>> answers;
  r.ctx.on_answer = [&](wire::PacketType t, ResponseCode c) { answers.emplace_back(t, c); };
  for (const char* target : {"OREI3BGAI3ZBNJ6FBEOZANHYEE", "orei3bgai3zbnj6fbeozanhyee", "demo-app",
                             "DEMO-APP", "Demo-App"}) {
    SCOPED_TRACE(target);
    RelayControlStream s(r.ctx, 2);
    const auto in = lookup_packet(target);
    ASSERT_EQ(s.handle_input(in, at(kT)).value(), in.size());
    EXPECT_EQ(s.state(), RelayStreamState::Open);
    EXPECT_TRUE(s.take_directory_requests().empty());  // no directory: the table only
    const auto answer = lookup_answer(s);
    EXPECT_EQ(answer.code, ResponseCode::Accepted);
    ASSERT_EQ(answer.leases.size(), 1u);
    EXPECT_EQ(answer.leases[0], held->lease);
    // Byte for byte the packet the spec's encoding gives.
    EXPECT_EQ(
        hex_encode(s.pending_output()),
        hex_encode(wire::encode_packet_wire(wire::Packet{
            wire::PacketType::LeaseLookupResponse,
            wire::encode(wire::LeaseLookupResponse{ResponseCode::Accepted, {held->lease}})})));
  }
  EXPECT_EQ(answers.size(), 5u);
  EXPECT_EQ(answers.back(),
            std::make_pair(wire::PacketType::LeaseLookupRequest, ResponseCode::Accepted));
  // Unknown, an ID nobody holds, an expired lease, and targets no lease can carry.
  for (const auto& [target, now] :
       std::vector<std::pair<std::string, std::int64_t>>{{"demo", kT},
                                                         {"HTI3EFUDRCPKRMCWJWEHKLPHWU", kT},
                                                         {"demo-app", kT + 31},
                                                         {"", kT},
                                                         {"(unnamed)", kT},
                                                         {"demo app", kT}}) {
    SCOPED_TRACE(target);
    RelayControlStream s(r.ctx, 2);
    const auto in = lookup_packet(target);
    ASSERT_EQ(s.handle_input(in, at(now)).value(), in.size());
    const auto answer = lookup_answer(s);
    EXPECT_EQ(answer.code, ResponseCode::InvalidIdentity);
    EXPECT_TRUE(answer.leases.empty());
  }
}

TEST(RelayControlLookup, RelayInfoAdvertisesTheFeature) {
  Relay r;
  RelayControlStream s(r.ctx, 1);
  ASSERT_TRUE(s.handle_input(r.wire("relay_info_request"), at(kT)));
  auto reader = ClientRequest::relay_info();
  ASSERT_TRUE(reader.handle_input(s.pending_output()));
  ASSERT_TRUE(reader.relay_info_response());
  EXPECT_EQ(reader.relay_info_response()->features,
            std::vector<std::string>{std::string(wire::kFeatureLeaseLookup)});
}

TEST(RelayControlLookup, ABadRequestClosesTheStreamAndAPeerRelayMayNotAsk) {
  Relay r;
  {
    RelayControlStream s(r.ctx, 1);
    EXPECT_EQ(
        s.handle_input(lookup_packet(std::string(wire::kMaxLookupTarget + 1, 'a')), at(kT)).error(),
        wire::Errc::TargetTooLarge);
    EXPECT_EQ(s.state(), RelayStreamState::Closed);
    EXPECT_TRUE(s.pending_output().empty());
  }
  {
    RelayControlStream s(r.ctx, 1);
    const auto in = wire::encode_packet_wire(
        wire::Packet{wire::PacketType::LeaseLookupRequest, Bytes{0x0a, 0x05, 0x61}});
    EXPECT_EQ(s.handle_input(in, at(kT)).error(), wire::Errc::MalformedMessage);
  }
  {
    RelayControlStream s(r.ctx, 1, /*from_peer=*/true);
    EXPECT_EQ(s.handle_input(lookup_packet("demo-app"), at(kT)).error(), Errc::UnexpectedPacket);
  }
  {
    // A response type sent to the relay.
    RelayControlStream s(r.ctx, 1);
    const auto in = wire::encode_packet_wire(wire::Packet{
        wire::PacketType::LeaseLookupResponse, wire::encode(wire::LeaseLookupResponse{})});
    EXPECT_EQ(s.handle_input(in, at(kT)).error(), Errc::UnexpectedPacket);
  }
}

TEST(RelayControlLookup, AnswersAreChargedLikeRelayInfo) {
  Relay r;
  ASSERT_EQ(r.exchange(r.wire("lease_update_request"), kT),
            hex_encode(r.wire("lease_update_response_accepted")));
  std::vector<std::size_t> charged;
  bool admit = true;
  r.ctx.admit_relay_info = [&](lease::ConnectionId c, std::size_t bytes) {
    EXPECT_EQ(c, 4u);
    charged.push_back(bytes);
    return admit;
  };
  RelayControlStream s(r.ctx, 4);
  const auto in = lookup_packet("demo-app");
  ASSERT_EQ(s.handle_input(in, at(kT)).value(), in.size());
  EXPECT_EQ(charged, std::vector<std::size_t>{1024});  // the answer is smaller: 1 KiB
  admit = false;
  RelayControlStream t(r.ctx, 4);
  EXPECT_EQ(t.handle_input(in, at(kT)).error(), Errc::RateLimited);
  EXPECT_EQ(t.state(), RelayStreamState::Closed);
  EXPECT_TRUE(t.pending_output().empty());
}

// Relay b of a fleet finds, through the directory, the lease relay a holds.
TEST(RelayControlLookup, TheDirectoryFindsALeaseHeldOnAnotherRelay) {
  lease::MemoryDirectory dir;
  FleetRelay a(dir, 1), b(dir, 2);
  Relay spec;
  ASSERT_EQ(a.ask(spec.wire("lease_update_request"), kT), ResponseCode::Accepted);
  const auto& held = a.leases.find("OREI3BGAI3ZBNJ6FBEOZANHYEE", kT)->lease;
  for (const char* target : {"orei3bgai3zbnj6fbeozanhyee", "DEMO-app"}) {
    SCOPED_TRACE(target);
    b.seen.clear();
    RelayControlStream s(b.ctx, 1);
    const auto in = lookup_packet(target);
    ASSERT_EQ(s.handle_input(in, at(kT + 1)).value(), in.size());
    EXPECT_EQ(s.state(), RelayStreamState::AwaitingDirectory);
    EXPECT_TRUE(s.pending_output().empty());
    b.carry(s, kT + 1);
    EXPECT_EQ(s.state(), RelayStreamState::Open);
    ASSERT_EQ(b.seen.size(), 1u);
    EXPECT_EQ(b.seen[0].op, lease::DirectoryOp::Resolve);
    const bool by_name = std::string(target) == "DEMO-app";
    EXPECT_EQ(b.seen[0].by_name, by_name);
    EXPECT_EQ(b.seen[0].key,
              by_name ? lease::fold_name("demo-app") : std::string("OREI3BGAI3ZBNJ6FBEOZANHYEE"));
    const auto answer = lookup_answer(s);
    EXPECT_EQ(answer.code, ResponseCode::Accepted);
    ASSERT_EQ(answer.leases.size(), 1u);
    EXPECT_EQ(answer.leases[0], held);
  }
  EXPECT_TRUE(b.refusals.empty());
  // Held on both relays: listed once (the table's own first).
  ASSERT_EQ(
      b.ask(signed_update(*identity::Credential::from_seed(Bytes(32, 8)), "x", Bytes(12, 1), kT),
            kT),
      ResponseCode::Accepted);
  RelayControlStream s(a.ctx, 1);
  ASSERT_TRUE(s.handle_input(lookup_packet("OREI3BGAI3ZBNJ6FBEOZANHYEE"), at(kT + 2)));
  a.carry(s, kT + 2);
  EXPECT_EQ(lookup_answer(s).leases.size(), 1u);
  // Nothing anywhere: INVALID_IDENTITY, after asking.
  RelayControlStream none(b.ctx, 1);
  ASSERT_TRUE(none.handle_input(lookup_packet("nobody"), at(kT + 2)));
  EXPECT_EQ(none.state(), RelayStreamState::AwaitingDirectory);
  b.carry(none, kT + 2);
  EXPECT_EQ(lookup_answer(none).code, ResponseCode::InvalidIdentity);
}

// The directory's records are verified: a forged, a foreign, a renamed or an expired record is
// not listed, and is reported.
TEST(RelayControlLookup, RecordsThatDoNotVerifyAreRefused) {
  lease::MemoryDirectory dir;
  FleetRelay b(dir, 2);
  Relay spec;
  const Bytes good = record_of(spec.wire("lease_update_request"));  // demo-app, expires kT + 30
  Bytes forged = good;
  forged[forged.size() - 3] ^= 0x01;  // inside the signature
  auto other = identity::Credential::from_seed(Bytes(32, 8));
  const Bytes foreign = record_of(signed_update(*other, "demo-app", Bytes(12, 1), kT));
  // The holder's own signed lease, under another name.
  auto holder = identity::Credential::from_seed(
      test::hex(spec.doc.at("identities").at("lease_holder"), "seed_hex"));
  ASSERT_TRUE(holder);
  const Bytes renamed = record_of(signed_update(*holder, "other", Bytes(12, 2), kT));
  const auto ask = [&](const std::string& target, std::vector<Bytes> values, std::int64_t now,
                       std::string key) {
    RelayControlStream s(b.ctx, 1);
    EXPECT_TRUE(s.handle_input(lookup_packet(target), at(now)));
    auto out = s.take_directory_requests();
    EXPECT_EQ(out.size(), 1u);
    lease::DirectoryReply reply;
    reply.ticket = out.empty() ? 0 : out[0].ticket;
    reply.status = lease::DirectoryStatus::Ok;
    for (auto& v : values) reply.records.push_back({"RELAYA", key, std::move(v), {}});
    s.directory_answer(reply, at(now));
    EXPECT_EQ(s.state(), RelayStreamState::Open);
    return lookup_answer(s);
  };
  const std::string id = "OREI3BGAI3ZBNJ6FBEOZANHYEE";
  // The genuine record verifies.
  EXPECT_EQ(ask(id, {good}, kT, id).code, ResponseCode::Accepted);
  // Forged signature; another identity's lease under this ID; expired.
  EXPECT_EQ(ask(id, {forged}, kT, id).code, ResponseCode::InvalidIdentity);
  EXPECT_EQ(ask(id, {foreign}, kT, id).code, ResponseCode::InvalidIdentity);
  EXPECT_EQ(ask(id, {good}, kT + 30, id).code, ResponseCode::InvalidIdentity);
  // By name: the record's key says who the directory thinks holds it; the lease must carry the
  // name asked for, and be that identity's.
  EXPECT_EQ(ask("Demo-App", {good}, kT, id).code, ResponseCode::Accepted);
  EXPECT_EQ(ask("another", {good}, kT, id).code, ResponseCode::InvalidIdentity);
  EXPECT_EQ(ask("demo-app", {foreign}, kT, id).code, ResponseCode::InvalidIdentity);
  EXPECT_EQ(ask("demo-app", {renamed}, kT, id).code, ResponseCode::InvalidIdentity);
  EXPECT_EQ(b.refusals, std::vector<std::string>(6, "unverified_record"));
  // A forged record next to the genuine one does not hide it.
  b.refusals.clear();
  const auto both = ask(id, {forged, good, good}, kT, id);
  EXPECT_EQ(both.code, ResponseCode::Accepted);
  EXPECT_EQ(both.leases.size(), 1u);
  EXPECT_EQ(b.refusals, std::vector<std::string>{"unverified_record"});
}

TEST(RelayControlLookup, WithTheDirectoryDownTheTableStillAnswers) {
  lease::MemoryDirectory dir;
  FleetRelay a(dir, 1);
  Relay spec;
  ASSERT_EQ(a.ask(spec.wire("lease_update_request"), kT), ResponseCode::Accepted);
  for (const auto status : {lease::DirectoryStatus::Unavailable, lease::DirectoryStatus::TimedOut,
                            lease::DirectoryStatus::Overloaded, lease::DirectoryStatus::Invalid}) {
    SCOPED_TRACE(lease::to_string(status));
    for (const char* target : {"demo-app", "elsewhere"}) {
      RelayControlStream s(a.ctx, 1);
      ASSERT_TRUE(s.handle_input(lookup_packet(target), at(kT)));
      const auto out = s.take_directory_requests();
      ASSERT_EQ(out.size(), 1u);
      lease::DirectoryReply reply;
      reply.ticket = out[0].ticket + 1;  // not the awaited one: ignored
      reply.status = status;
      s.directory_answer(reply, at(kT));
      EXPECT_EQ(s.state(), RelayStreamState::AwaitingDirectory);
      reply.ticket = out[0].ticket;
      s.directory_answer(reply, at(kT));
      ASSERT_EQ(s.state(), RelayStreamState::Open);
      const auto answer = lookup_answer(s);
      if (std::string(target) == "demo-app") {
        EXPECT_EQ(answer.code, ResponseCode::Accepted);
        EXPECT_EQ(answer.leases.size(), 1u);
      } else {
        EXPECT_EQ(answer.code, ResponseCode::Rejected);
        EXPECT_TRUE(answer.leases.empty());
      }
    }
  }
}

// With a directory, 1 KiB is charged before it is asked, and the rest of a larger answer once it
// is ready.
TEST(RelayControlLookup, TheDirectoryRoundTripIsPaidForBeforeItIsMade) {
  lease::MemoryDirectory dir;
  FleetRelay b(dir, 2);
  std::vector<std::size_t> charged;
  std::size_t refuse_from = 100;
  b.ctx.admit_relay_info = [&](lease::ConnectionId, std::size_t bytes) {
    charged.push_back(bytes);
    return charged.size() < refuse_from;
  };
  // Refused up front: the stream closes and the directory is not asked.
  refuse_from = 1;
  RelayControlStream s(b.ctx, 1);
  EXPECT_EQ(s.handle_input(lookup_packet("demo-app"), at(kT)).error(), Errc::RateLimited);
  EXPECT_TRUE(s.take_directory_requests().empty());
  EXPECT_EQ(charged, std::vector<std::size_t>{1024});

  // Many holders of one name's identity: a large answer is charged past its first KiB.
  const auto ask = [&](std::size_t refuse) {
    charged.clear();
    refuse_from = refuse;
    RelayControlStream t(b.ctx, 1);
    EXPECT_TRUE(t.handle_input(lookup_packet("demo-app"), at(kT)));
    auto out = t.take_directory_requests();
    EXPECT_EQ(out.size(), 1u);
    lease::DirectoryReply reply;
    reply.ticket = out.empty() ? 0 : out[0].ticket;
    reply.status = lease::DirectoryStatus::Ok;
    // 70 identities whose leases all claim the name (a directory split-brain): the answer
    // stops at the bound.
    for (std::uint8_t i = 0; i < 70; ++i) {
      auto who = identity::Credential::from_seed(Bytes(32, static_cast<base::Byte>(40 + i)));
      reply.records.push_back(
          {"RELAYA", who->id(), record_of(signed_update(*who, "demo-app", Bytes(12, 1), kT)), {}});
    }
    t.directory_answer(reply, at(kT));
    EXPECT_EQ(t.state(), RelayStreamState::Open);
    return lookup_answer(t);
  };
  const auto all = ask(100);
  EXPECT_EQ(all.code, ResponseCode::Accepted);
  EXPECT_EQ(all.leases.size(), wire::kMaxLookupLeases);
  const std::size_t size =
      wire::encode_packet_wire(
          wire::Packet{wire::PacketType::LeaseLookupResponse, wire::encode(all)})
          .size();
  ASSERT_GT(size, 1024u);
  EXPECT_EQ(charged, (std::vector<std::size_t>{1024, size - 1024}));
  // The rest refused: the stream cannot be closed from directory_answer(), the answer is
  // REJECTED without leases.
  const auto refused = ask(2);
  EXPECT_EQ(refused.code, ResponseCode::Rejected);
  EXPECT_TRUE(refused.leases.empty());
}

}  // namespace
}  // namespace portal::control
