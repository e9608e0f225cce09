// SPDX-License-Identifier: Apache-2.0
// Interop of the negotiated channel's handshake (docs/adr/0014-negotiated-channel.md) with a v1
// peer on the real Go protobuf runtime (tests/interop/v1_handshake_peer): that peer parses with
// the spec's v1 schema only (InitPayload fields 1-6), as an original Go v1 peer's generated code
// does. Our dialer in ChannelMode::Auto offers the extension (field 15); the Go lease holder
// skips the field, keeps it as unknown, verifies the signature over `data` as received and
// answers as v1; our dialer falls back to v1 with the Go peer's keys, and frames cross both ways.
// Timestamps are this machine's real clock, checked by both sides within ±30 s.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "chacha20_poly1305.hpp"
#include "portal/base/clock.hpp"
#include "portal/base/encoding.hpp"
#include "portal/handshake/handshake.hpp"
#include "portal/secure_channel/secure_channel.hpp"
#include "support/process.hpp"
#include "support/vectors.hpp"

namespace portal::handshake {
namespace {

using base::Bytes;
using base::ByteSpan;
using base::hex_encode;

const std::vector<std::string> kOffer{"chacha20-poly1305", "aes-256-gcm"};
constexpr std::string_view kAlpn = "http/1.1";

// The spec's identities (handshake.json): the dialer and the lease holder.
struct Identities {
  boost::json::value doc = test::load_vectors("handshake.json");
  const boost::json::value& in = doc.at("inputs");
  std::string server_seed_hex = test::str(in.at("server_identity"), "seed_hex");
  identity::Credential client =
      *identity::Credential::from_seed(test::hex(in.at("client_identity"), "seed_hex"));
  identity::Credential server = *identity::Credential::from_seed(test::from_hex(server_seed_hex));
};

// Runs the Go peer; its stdout is one line.
test::ProcessResult go_peer(std::vector<std::string> args) {
  args.insert(args.begin(), V1_HANDSHAKE_GO_PEER);
  auto r = test::run_process(args);
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r;
}

// Runs the Go peer and parses its JSON line; fails the test if it reports a failed check.
boost::json::object go_peer_json(std::vector<std::string> args) {
  const auto r = go_peer(std::move(args));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return {};
  return boost::json::parse(r.out).as_object();
}

std::string hex_of(ByteSpan b) { return hex_encode(b); }

// The JSON string, number or boolean at `key`; a missing or mistyped key reads as "<...>", -1
// or false, so the comparison that follows fails with the key's name in its message.
std::string jstr(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : "<" + std::string(key) + "?>";
}
std::int64_t jint(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_int64() ? v->get_int64() : -1;
}
bool jbool(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_bool() && v->get_bool();
}
std::vector<std::int64_t> jints(const boost::json::object& o, std::string_view key) {
  std::vector<std::int64_t> out;
  const auto* v = o.if_contains(key);
  if (v && v->is_array()) {
    for (const auto& x : v->get_array()) out.push_back(x.is_int64() ? x.get_int64() : -1);
  } else {
    out.push_back(-1);
  }
  return out;
}

Bytes random_bytes(std::size_t n) {
  Bytes b(n);
  EXPECT_TRUE(base::OsRandom::instance().fill(b));
  return b;
}

std::shared_ptr<cipher::Aead> chacha(ByteSpan key) {
  auto aead = plugins::chacha::factory().create(secure_channel::kV1Algorithm, key);
  EXPECT_TRUE(aead) << aead.error().message();
  return std::shared_ptr<cipher::Aead>(std::move(*aead));
}

// The peer is a faithful v1 lease holder: on the spec's fixed inputs (with the spec's time as
// its clock) it writes the spec's ServerInit byte for byte and derives the spec's keys.
TEST(V1HandshakeInterop, GoPeerReproducesTheSpecTranscript) {
  Identities ids;
  const auto& in = ids.in;
  const std::string now = std::to_string(in.at("server_timestamp").to_number<std::int64_t>());
  const std::string client_wire = test::str(ids.doc.at("client_init"), "client_wire_hex");

  auto parsed = go_peer_json({"verify-client-init", client_wire, now});
  EXPECT_TRUE(jbool(parsed, "signature_ok"));
  EXPECT_EQ(jstr(parsed, "identity_id"), test::str(in.at("client_identity"), "id"));
  EXPECT_EQ(jints(parsed, "unknown_fields"), std::vector<std::int64_t>{});

  auto answer = go_peer_json({"make-server-init", client_wire, ids.server_seed_hex,
                              test::str(in, "server_ephemeral_private_hex"),
                              test::str(in, "server_nonce_hex"), now, now});
  const auto& results = ids.doc.at("results");
  EXPECT_EQ(jstr(answer, "server_wire_hex"),
            test::str(ids.doc.at("server_init"), "server_wire_hex"));
  EXPECT_EQ(jstr(answer, "key_c2s_hex"), test::str(results, "key_c2s_hex"));
  EXPECT_EQ(jstr(answer, "key_s2c_hex"), test::str(results, "key_s2c_hex"));
}

// The Go v1 parser takes our offering ClientInit: it keeps field 15 as an unknown field (exactly
// the bytes of our capabilities), reads fields 1-6 as we wrote them, and the signature over
// `data` verifies.
TEST(V1HandshakeInterop, GoV1ParserAcceptsOurOfferingClientInit) {
  Identities ids;
  auto& random = base::OsRandom::instance();
  ClientHandshake client(ids.client, ids.server.id(), std::string(kAlpn), random, {},
                         {ChannelMode::Auto, kOffer});
  const auto now = base::SystemClock::instance().system_now();
  ASSERT_TRUE(client.start(now));
  const Bytes wire = base::to_bytes(client.pending_output());

  // What we sent, and how long field 15 is on the wire.
  auto sp = decode_signed_payload(ByteSpan(wire).subspan(4));
  ASSERT_TRUE(sp);
  auto sent = decode_init_payload(sp->data);
  ASSERT_TRUE(sent);
  ASSERT_TRUE(sent->capabilities);
  EXPECT_EQ(sent->capabilities->ciphers, kOffer);
  InitPayload without = *sent;
  without.capabilities.reset();
  const std::size_t field15 = sp->data.size() - encode(without).size();
  ASSERT_GT(field15, 0u);

  auto parsed = go_peer_json({"verify-client-init", hex_of(wire)});
  EXPECT_TRUE(jbool(parsed, "signature_ok"));
  EXPECT_EQ(jint(parsed, "version"), 0);
  EXPECT_EQ(jstr(parsed, "nonce_hex"), hex_of(sent->nonce));
  EXPECT_EQ(jint(parsed, "timestamp"), base::unix_seconds(now));
  EXPECT_EQ(jstr(parsed, "identity_id"), ids.client.id());
  EXPECT_EQ(jstr(parsed, "identity_public_key_hex"), hex_of(sent->identity.public_key));
  EXPECT_EQ(jstr(parsed, "alpn"), kAlpn);
  EXPECT_EQ(jstr(parsed, "session_public_key_hex"), hex_of(sent->session_public_key));
  EXPECT_EQ(jints(parsed, "unknown_fields"), std::vector<std::int64_t>{15});
  EXPECT_EQ(jint(parsed, "unknown_bytes"), static_cast<std::int64_t>(field15));
}

// The signature covers field 15 for the v1 peer too: one changed byte of the offer (the last
// byte of `data`, inside the last cipher name) makes the Go peer refuse the message.
TEST(V1HandshakeInterop, GoV1PeerRefusesAChangedOffer) {
  Identities ids;
  ClientHandshake client(ids.client, ids.server.id(), std::string(kAlpn),
                         base::OsRandom::instance(), {}, {ChannelMode::Auto, kOffer});
  ASSERT_TRUE(client.start(base::SystemClock::instance().system_now()));
  auto sp = decode_signed_payload(client.pending_output().subspan(4));
  ASSERT_TRUE(sp);
  sp->data.back() ^= 0x01;
  Bytes tampered;
  base::append_length_prefixed(tampered, encode(*sp));

  const auto r = go_peer({"verify-client-init", hex_of(tampered)});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("signature"), std::string::npos) << r.err;
}

struct GoAnswer {
  Bytes server_wire;
  Bytes key_c2s;
  Bytes key_s2c;
};

// Our offering dialer's ClientInit, answered by the Go v1 lease holder with fresh ephemeral key
// and nonce, at `now`.
GoAnswer go_answer(const Identities& ids, ClientHandshake& client, base::Clock::SystemTime now) {
  auto answer =
      go_peer_json({"make-server-init", hex_of(client.pending_output()), ids.server_seed_hex,
                    hex_of(random_bytes(32)), hex_of(random_bytes(kNonceSize)),
                    std::to_string(base::unix_seconds(now))});
  if (answer.empty()) return {};
  return {test::from_hex(jstr(answer, "server_wire_hex")),
          test::from_hex(jstr(answer, "key_c2s_hex")), test::from_hex(jstr(answer, "key_s2c_hex"))};
}

// The whole exchange: our dialer (Auto) offers, the Go v1 lease holder answers without the
// extension, our dialer falls back to v1 with the Go peer's keys, and v1 frames cross both ways.
TEST(V1HandshakeInterop, OurAutoDialerFallsBackToV1WithAGoV1LeaseHolder) {
  Identities ids;
  auto& random = base::OsRandom::instance();
  ClientHandshake client(ids.client, ids.server.id(), std::string(kAlpn), random, {},
                         {ChannelMode::Auto, kOffer});
  const auto now = base::SystemClock::instance().system_now();
  ASSERT_TRUE(client.start(now));
  const GoAnswer go = go_answer(ids, client, now);
  ASSERT_FALSE(go.server_wire.empty());

  // The Go answer is v1: no field 15.
  auto sp = decode_signed_payload(ByteSpan(go.server_wire).subspan(4));
  ASSERT_TRUE(sp);
  auto answer = decode_init_payload(sp->data);
  ASSERT_TRUE(answer);
  EXPECT_FALSE(answer->capabilities);

  auto used = client.handle_input(go.server_wire, base::SystemClock::instance().system_now());
  ASSERT_TRUE(used) << used.error().message();
  EXPECT_EQ(*used, go.server_wire.size());
  ASSERT_EQ(client.state(), State::Established);
  auto keys = client.take_result();
  ASSERT_TRUE(keys);
  EXPECT_EQ(keys->channel, 1u);
  EXPECT_EQ(keys->cipher, "chacha20-poly1305");
  EXPECT_EQ(keys->peer.id, ids.server.id());
  EXPECT_EQ(keys->alpn, kAlpn);
  EXPECT_EQ(hex_of(keys->encrypt_key.span()), hex_of(go.key_c2s));
  EXPECT_EQ(hex_of(keys->decrypt_key.span()), hex_of(go.key_s2c));

  // A v1 channel on those keys: our frame opens at the Go peer...
  auto channel = secure_channel::SecureChannel::create(chacha(keys->encrypt_key.span()),
                                                       chacha(keys->decrypt_key.span()), random);
  ASSERT_TRUE(channel) << channel.error().message();
  const std::string hello = "hello from a negotiating dialer";
  ASSERT_TRUE(channel->write(base::as_bytes(hello)));
  const Bytes frame = base::to_bytes(channel->pending_output());
  channel->consume_output(frame.size());
  const auto opened = go_peer({"open-frame", hex_of(go.key_c2s), hex_of(frame)});
  ASSERT_EQ(opened.exit_code, 0) << opened.err;
  EXPECT_EQ(opened.out, hex_of(base::as_bytes(hello)));

  // ... one changed byte does not ...
  Bytes tampered = frame;
  tampered.back() ^= 0x80;
  const auto refused = go_peer({"open-frame", hex_of(go.key_c2s), hex_of(tampered)});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("does not open"), std::string::npos) << refused.err;

  // ... and the Go peer's frame (random nonce, as v1 draws it) opens here.
  const std::string reply = "hello from a v1 lease holder";
  const auto sealed = go_peer(
      {"seal-frame", hex_of(go.key_s2c), hex_of(random_bytes(12)), hex_of(base::as_bytes(reply))});
  ASSERT_EQ(sealed.exit_code, 0) << sealed.err;
  const Bytes reply_frame = test::from_hex(sealed.out);
  auto consumed = channel->handle_input(reply_frame);
  ASSERT_TRUE(consumed) << consumed.error().message();
  EXPECT_EQ(*consumed, reply_frame.size());
  EXPECT_EQ(base::as_chars(channel->readable()), reply);
}

// A dialer that requires the negotiated channel refuses the same Go v1 answer (ADR 0014: the
// no-fallback setting).
TEST(V1HandshakeInterop, NegotiatedDialerRefusesAGoV1LeaseHolder) {
  Identities ids;
  ClientHandshake client(ids.client, ids.server.id(), std::string(kAlpn),
                         base::OsRandom::instance(), {}, {ChannelMode::Negotiated, kOffer});
  const auto now = base::SystemClock::instance().system_now();
  ASSERT_TRUE(client.start(now));
  const GoAnswer go = go_answer(ids, client, now);
  ASSERT_FALSE(go.server_wire.empty());
  auto used = client.handle_input(go.server_wire, now);
  ASSERT_FALSE(used);
  EXPECT_EQ(used.error(), Errc::NegotiationRequired);
  EXPECT_EQ(client.state(), State::Failed);
}

}  // namespace
}  // namespace portal::handshake
