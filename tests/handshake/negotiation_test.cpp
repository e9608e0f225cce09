// SPDX-License-Identifier: Apache-2.0
// The negotiated channel (docs/adr/0014-negotiated-channel.md): its known answers
// (tests/vectors/ours/negotiated.json, written by an independent Python implementation), the
// spec's v1 transcripts still verifying both ways with negotiation switched on, the downgrade
// and binding checks, and the channel's sequence, end-of-stream and truncation rules.
#include <gtest/gtest.h>

#include "chacha20_poly1305.hpp"
#include "handshake/spec_vectors.hpp"
#include "portal/base/encoding.hpp"
#include "portal/crypto/hkdf.hpp"
#include "portal/crypto/sha256.hpp"
#include "portal/handshake/handshake.hpp"
#include "portal/secure_channel/secure_channel.hpp"
#include "support/vectors.hpp"

namespace portal::handshake {
namespace {

using base::Bytes;
using base::ByteSpan;
using base::hex_encode;
using std::chrono::seconds;

const std::vector<std::string> kBoth{"chacha20-poly1305", "aes-256-gcm"};

// The spec's fixed inputs (handshake.json), shared by the v1 and negotiated transcripts.
using Inputs = test::SpecHandshake;

std::vector<std::string> strings(const boost::json::value& v) {
  std::vector<std::string> out;
  for (const auto& s : v.as_array()) out.emplace_back(s.as_string());
  return out;
}

// Both ends run on the vector inputs; the client's messages and the server's answer are compared
// with the independent implementation's bytes, and both sides' keys with its keys.
TEST(NegotiatedVectors, BothSidesProduceTheIndependentImplementationsBytesAndKeys) {
  Inputs v;
  const auto doc = test::load_vectors("ours/negotiated.json");
  for (const auto& c : doc.at("cases").as_array()) {
    const auto offer = strings(c.at("client_offer"));
    const auto accepts = strings(c.at("server_accepts"));
    SCOPED_TRACE(test::str(c, "chosen"));
    base::ReplayRandom crandom(v.client_random());
    ClientHandshake client(v.client, v.server.id(), "http/1.1", crandom, {},
                           {ChannelMode::Auto, offer});
    ASSERT_TRUE(client.start(Inputs::at(v.client_ts)));
    EXPECT_EQ(hex_encode(client.pending_output()), test::str(c, "client_wire_hex"));

    ReplayCache cache;
    base::ReplayRandom srandom(v.server_random());
    ServerHandshake server(v.server, {"http/1.1", "h2"}, cache, srandom, {},
                           {ChannelMode::Auto, accepts});
    auto used = server.handle_input(client.pending_output(), Inputs::at(v.server_ts));
    ASSERT_TRUE(used) << used.error().message();
    ASSERT_EQ(server.state(), State::Established);
    EXPECT_EQ(hex_encode(server.pending_output()), test::str(c, "server_wire_hex"));

    auto got = client.handle_input(server.pending_output(), Inputs::at(v.server_ts));
    ASSERT_TRUE(got) << got.error().message();
    auto ck = client.take_result();
    auto sk = server.take_result();
    ASSERT_TRUE(ck && sk);
    for (const auto* k : {&*ck, &*sk}) {
      EXPECT_EQ(k->channel, kNegotiatedChannelVersion);
      EXPECT_EQ(k->cipher, test::str(c, "chosen"));
    }
    EXPECT_EQ(hex_encode(ck->encrypt_key.span()), test::str(c, "key_c2s_hex"));
    EXPECT_EQ(hex_encode(ck->decrypt_key.span()), test::str(c, "key_s2c_hex"));
    EXPECT_EQ(hex_encode(sk->encrypt_key.span()), test::str(c, "key_s2c_hex"));
    EXPECT_EQ(hex_encode(sk->decrypt_key.span()), test::str(c, "key_c2s_hex"));
  }
}

// The same keys recomputed here from the ADR's formula and the wire messages alone: the shared
// secret from the spec, HKDF over the nonces with the info strings and the transcript hash.
TEST(NegotiatedVectors, KeysFollowTheAdrFormula) {
  Inputs v;
  const auto doc = test::load_vectors("ours/negotiated.json");
  const auto& c = doc.at("cases").as_array().front();
  const Bytes b_c = test::hex(c, "client_init_data_hex");
  const Bytes b_s = test::hex(c, "server_init_data_hex");
  Bytes t;
  base::append_length_prefixed(t, b_c);
  base::append_length_prefixed(t, b_s);
  const auto transcript = crypto::sha256(t);
  EXPECT_EQ(hex_encode(transcript), test::str(c, "transcript_sha256_hex"));
  const Bytes shared = test::hex(v.doc.at("results"), "shared_secret_hex");
  const Bytes nc = test::hex(v.in, "client_nonce_hex");
  const Bytes ns = test::hex(v.in, "server_nonce_hex");
  Bytes salt = nc;
  salt.insert(salt.end(), ns.begin(), ns.end());
  Bytes info = base::to_bytes(base::as_bytes(kInfoNegotiatedClientToServer));
  info.insert(info.end(), transcript.begin(), transcript.end());
  Bytes key(32);
  ASSERT_TRUE(crypto::hkdf_sha256(shared, salt, info, key));
  EXPECT_EQ(hex_encode(key), test::str(c, "key_c2s_hex"));
  // The server's answer names the ClientInit it answers.
  auto sp = decode_signed_payload(ByteSpan(test::hex(c, "server_wire_hex")).subspan(4));
  ASSERT_TRUE(sp);
  auto payload = decode_init_payload(sp->data);
  ASSERT_TRUE(payload && payload->capabilities);
  const auto h = crypto::sha256(b_c);
  EXPECT_EQ(payload->capabilities->client_init_hash, Bytes(h.begin(), h.end()));
}

// The spec's v1 transcripts still verify both ways when this side negotiates (Auto): a v1
// ClientInit gets the spec's ServerInit byte for byte, and an offering client takes the spec's
// ServerInit (no extension) and derives the spec's v1 keys.
TEST(NegotiatedCompatibility, V1TranscriptsStillVerifyBothWays) {
  Inputs v;
  const auto& results = v.doc.at("results");
  ReplayCache cache;
  base::ReplayRandom srandom(v.server_random());
  ServerHandshake server(v.server, {"http/1.1", "h2"}, cache, srandom, {},
                         {ChannelMode::Auto, kBoth});
  ASSERT_TRUE(server.handle_input(v.client_wire, Inputs::at(v.server_ts)));
  ASSERT_EQ(server.state(), State::Established);
  EXPECT_EQ(base::to_bytes(server.pending_output()), v.server_wire);
  auto sk = server.take_result();
  ASSERT_TRUE(sk);
  EXPECT_EQ(sk->channel, 1u);
  EXPECT_EQ(sk->cipher, kV1Cipher);
  EXPECT_EQ(hex_encode(sk->encrypt_key.span()), test::str(results, "server_encrypt_key_hex"));

  base::ReplayRandom crandom(v.client_random());
  ClientHandshake client(v.client, v.server.id(), "http/1.1", crandom, {},
                         {ChannelMode::Auto, kBoth});
  ASSERT_TRUE(client.start(Inputs::at(v.client_ts)));
  EXPECT_NE(base::to_bytes(client.pending_output()), v.client_wire);  // it offers
  ASSERT_TRUE(client.handle_input(v.server_wire, Inputs::at(v.server_ts)));
  auto ck = client.take_result();
  ASSERT_TRUE(ck);
  EXPECT_EQ(ck->channel, 1u);
  EXPECT_EQ(ck->cipher, kV1Cipher);
  EXPECT_EQ(hex_encode(ck->encrypt_key.span()), test::str(results, "client_encrypt_key_hex"));
  EXPECT_EQ(hex_encode(ck->decrypt_key.span()), test::str(results, "client_decrypt_key_hex"));

  // A v1 server (the default core) answers an offer as v1 does: the extension is skipped.
  ReplayCache cache2;
  base::ReplayRandom srandom2(v.server_random());
  base::ReplayRandom crandom2(v.client_random());
  ClientHandshake offering(v.client, v.server.id(), "http/1.1", crandom2, {},
                           {ChannelMode::Auto, kBoth});
  ASSERT_TRUE(offering.start(Inputs::at(v.client_ts)));
  ServerHandshake v1_server(v.server, {"http/1.1"}, cache2, srandom2);
  ASSERT_TRUE(v1_server.handle_input(offering.pending_output(), Inputs::at(v.server_ts)));
  ASSERT_EQ(v1_server.state(), State::Established);
  EXPECT_EQ(v1_server.take_result()->channel, 1u);
}

// A side that requires the negotiated channel refuses a v1 peer, each with its own error, and a
// refusing server sends nothing.
TEST(NegotiatedCompatibility, RequiredNegotiationRefusesV1Peers) {
  Inputs v;
  ReplayCache cache;
  base::ReplayRandom srandom(v.server_random());
  ServerHandshake server(v.server, {"http/1.1"}, cache, srandom, {},
                         {ChannelMode::Negotiated, kBoth});
  EXPECT_EQ(server.handle_input(v.client_wire, Inputs::at(v.server_ts)).error(),
            Errc::NegotiationRequired);
  EXPECT_TRUE(server.pending_output().empty());

  base::ReplayRandom crandom(v.client_random());
  ClientHandshake client(v.client, v.server.id(), "http/1.1", crandom, {},
                         {ChannelMode::Negotiated, kBoth});
  ASSERT_TRUE(client.start(Inputs::at(v.client_ts)));
  EXPECT_EQ(client.handle_input(v.server_wire, Inputs::at(v.server_ts)).error(),
            Errc::NegotiationRequired);
}

// Cipher choice: the client's order wins among what the server accepts; no overlap falls back to
// v1 in Auto and fails in Negotiated; a malformed offer is refused.
TEST(NegotiatedCompatibility, CipherChoiceAndBadOffers) {
  Inputs v;
  auto chosen = [&](std::vector<std::string> offer, Negotiation accepts) -> std::string {
    base::ReplayRandom crandom(v.client_random());
    ClientHandshake client(v.client, v.server.id(), "http/1.1", crandom, {},
                           {ChannelMode::Auto, std::move(offer)});
    EXPECT_TRUE(client.start(Inputs::at(v.client_ts)));
    ReplayCache cache;
    base::ReplayRandom srandom(v.server_random());
    ServerHandshake server(v.server, {"http/1.1"}, cache, srandom, {}, std::move(accepts));
    (void)server.handle_input(client.pending_output(), Inputs::at(v.server_ts));
    if (server.state() != State::Established) return "error: " + server.error().message();
    auto r = server.take_result();
    return std::to_string(r->channel) + " " + r->cipher;
  };
  EXPECT_EQ(chosen({"aes-256-gcm", "chacha20-poly1305"}, {ChannelMode::Auto, kBoth}),
            "2 aes-256-gcm");
  EXPECT_EQ(chosen({"chacha20-poly1305", "aes-256-gcm"}, {ChannelMode::Auto, {"aes-256-gcm"}}),
            "2 aes-256-gcm");
  EXPECT_EQ(chosen({"aes-256-gcm"}, {ChannelMode::Auto, {"chacha20-poly1305"}}),
            "1 chacha20-poly1305");
  EXPECT_EQ(chosen({"aes-256-gcm"}, {ChannelMode::Negotiated, {"chacha20-poly1305"}}),
            "error: " + make_error_code(Errc::NoCommonCipher).message());
  EXPECT_EQ(chosen({"aes-256-gcm"}, {ChannelMode::V1, {}}), "1 chacha20-poly1305");

  // A client cannot start with an empty or oversized offer.
  base::ReplayRandom r1(v.client_random());
  ClientHandshake empty(v.client, v.server.id(), "http/1.1", r1, {}, {ChannelMode::Auto, {}});
  EXPECT_EQ(empty.start(Inputs::at(v.client_ts)).error(), Errc::InvalidState);
  base::ReplayRandom r2(v.client_random());
  ClientHandshake big(v.client, v.server.id(), "http/1.1", r2, {},
                      {ChannelMode::Auto, std::vector<std::string>(kMaxOfferedCiphers + 1, "x")});
  EXPECT_EQ(big.start(Inputs::at(v.client_ts)).error(), Errc::InvalidState);
}

// The client checks the answer: it must name exactly one offered cipher, cover this ClientInit,
// and come only when offered. Each ServerInit here is signed by the real lease key, so only the
// negotiation checks can refuse it.
TEST(NegotiatedCompatibility, TheClientRefusesAnswersThatBreakTheRules) {
  Inputs v;
  const auto pub = v.server.identity();
  auto server_init = [&](std::optional<Capabilities> caps) {
    InitPayload p;
    p.nonce = test::hex(v.in, "server_nonce_hex");
    p.timestamp = v.server_ts;
    p.identity = pub;
    p.alpn = "http/1.1";
    p.session_public_key = test::hex(v.doc.at("results"), "server_ephemeral_public_hex");
    p.capabilities = std::move(caps);
    SignedPayload sp;
    sp.data = encode(p);
    const auto sig = v.server.sign(sp.data);
    sp.signature.assign(sig.begin(), sig.end());
    Bytes wire;
    base::append_length_prefixed(wire, encode(sp));
    return wire;
  };
  auto answer = [&](ChannelMode mode, std::optional<Capabilities> caps) {
    base::ReplayRandom crandom(v.client_random());
    ClientHandshake client(v.client, v.server.id(), "http/1.1", crandom, {},
                           {mode, mode == ChannelMode::V1 ? std::vector<std::string>{}
                                                          : std::vector<std::string>{kBoth}});
    EXPECT_TRUE(client.start(Inputs::at(v.client_ts)));
    // The hash the server must send: SHA-256 of this client's signed data.
    auto sp = decode_signed_payload(client.pending_output().subspan(4));
    const auto h = crypto::sha256(sp->data);
    if (caps && caps->client_init_hash.size() == 1)
      caps->client_init_hash.assign(h.begin(), h.end());
    auto r = client.handle_input(server_init(std::move(caps)), Inputs::at(v.server_ts));
    return r ? base::ErrorCode{} : r.error();
  };
  const Bytes ours{0};  // a one-byte placeholder: answer() puts the right hash in its place
  EXPECT_FALSE(answer(ChannelMode::Auto, Capabilities{2, {"aes-256-gcm"}, ours}));
  EXPECT_EQ(answer(ChannelMode::Auto, Capabilities{2, {"aes-256-gcm"}, Bytes(32, 7)}),
            Errc::TranscriptMismatch);
  EXPECT_EQ(answer(ChannelMode::Auto, Capabilities{2, {"rot13"}, ours}), Errc::NoCommonCipher);
  EXPECT_EQ(answer(ChannelMode::Auto, Capabilities{2, {"aes-256-gcm", "chacha20-poly1305"}, ours}),
            Errc::BadCapabilities);
  EXPECT_EQ(answer(ChannelMode::Auto, Capabilities{3, {"aes-256-gcm"}, ours}),
            Errc::BadCapabilities);
  EXPECT_EQ(answer(ChannelMode::V1, Capabilities{2, {"chacha20-poly1305"}, ours}),
            Errc::BadCapabilities);
}

// ---- the negotiated channel ----------------------------------------------------------------

std::shared_ptr<cipher::Aead> chacha(const Bytes& key) {
  auto a = plugins::chacha::factory().create("chacha20-poly1305", key);
  EXPECT_TRUE(a);
  return std::shared_ptr<cipher::Aead>(std::move(*a));
}

struct Pair {
  secure_channel::SecureChannel client;
  secure_channel::SecureChannel server;
};

Pair vector_pair(const boost::json::value& c) {
  const Bytes c2s = test::hex(c, "key_c2s_hex");
  const Bytes s2c = test::hex(c, "key_s2c_hex");
  auto client = secure_channel::SecureChannel::create_negotiated(chacha(c2s), chacha(s2c));
  auto server = secure_channel::SecureChannel::create_negotiated(chacha(s2c), chacha(c2s));
  EXPECT_TRUE(client && server);
  return {std::move(*client), std::move(*server)};
}

Bytes drain(secure_channel::SecureChannel& c) {
  Bytes out = base::to_bytes(c.pending_output());
  c.consume_output(out.size());
  return out;
}

TEST(NegotiatedChannel, FramesMatchTheIndependentImplementation) {
  const auto doc = test::load_vectors("ours/negotiated.json");
  const auto& c = doc.at("cases").as_array().front();
  auto [client, server] = vector_pair(c);
  const std::string text = test::str(c, "plaintext");
  ASSERT_TRUE(client.write(base::as_bytes(text)));
  ASSERT_TRUE(client.write({}));
  client.close_write();
  Bytes expected;
  for (const auto& f : c.at("client_frames_hex").as_array()) {
    const auto b = base::hex_decode(f.as_string());
    expected.insert(expected.end(), b->begin(), b->end());
  }
  const Bytes wire = drain(client);
  EXPECT_EQ(hex_encode(wire), hex_encode(expected));
  // The server opens them, sees the text, then the authenticated end.
  ByteSpan rest = wire;
  Bytes got;
  while (!rest.empty()) {
    auto used = server.handle_input(rest);
    ASSERT_TRUE(used) << used.error().message();
    rest = rest.subspan(*used);
    const auto r = server.readable();
    got.insert(got.end(), r.begin(), r.end());
    server.consume(r.size());
  }
  EXPECT_EQ(std::string(base::as_chars(got)), text);
  EXPECT_TRUE(server.peer_closed());
  EXPECT_TRUE(server.handle_eof());
}

// The relay may drop, replay, reorder or cut frames; each is detected with its own error.
TEST(NegotiatedChannel, DroppedReplayedReorderedAndTruncatedFramesAreDetected) {
  const auto doc = test::load_vectors("ours/negotiated.json");
  const auto& c = doc.at("cases").as_array().front();
  auto frames = [&] {
    auto [client, server] = vector_pair(c);
    std::vector<Bytes> out;
    for (const char* m : {"one", "two", "three"}) {
      EXPECT_TRUE(client.write(base::as_bytes(std::string_view(m))));
      out.push_back(drain(client));
    }
    client.close_write();
    out.push_back(drain(client));
    return out;
  }();
  auto feed = [&](std::vector<int> order, bool eof) -> base::ErrorCode {
    auto [client, server] = vector_pair(c);
    for (int i : order) {
      ByteSpan rest = frames[static_cast<std::size_t>(i)];
      while (!rest.empty()) {
        auto used = server.handle_input(rest);
        if (!used) return used.error();
        rest = rest.subspan(*used);
        server.consume(server.readable().size());
      }
    }
    if (eof) {
      if (auto r = server.handle_eof(); !r) return r.error();
    }
    return {};
  };
  EXPECT_FALSE(feed({0, 1, 2, 3}, true));
  EXPECT_EQ(feed({0, 2}, false), secure_channel::Errc::OutOfSequence);  // dropped
  EXPECT_EQ(feed({0, 0}, false), secure_channel::Errc::OutOfSequence);  // replayed
  EXPECT_EQ(feed({1, 0}, false), secure_channel::Errc::OutOfSequence);  // reordered
  EXPECT_EQ(feed({0, 1, 2}, true), secure_channel::Errc::Truncated);    // cut before the end
  EXPECT_EQ(feed({0, 1, 2, 3, 3}, false), secure_channel::Errc::FrameAfterEnd);

  // A v1 channel on the same keys opens none of them (the type byte and AAD differ).
  auto v1 = [&] {
    base::ReplayRandom random(Bytes(12, 0));
    return secure_channel::SecureChannel::create(chacha(test::hex(c, "key_s2c_hex")),
                                                 chacha(test::hex(c, "key_c2s_hex")), random);
  }();
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->handle_input(frames[0]).error(), secure_channel::Errc::AuthenticationFailed);

  // A flipped length-prefix-independent header byte (the type) fails authentication: the type
  // is associated data.
  auto [client, server] = vector_pair(c);
  Bytes tampered = frames[0];
  tampered[4 + 12] ^= 0x01;  // data -> end
  EXPECT_EQ(server.handle_input(tampered).error(), secure_channel::Errc::AuthenticationFailed);
}

TEST(NegotiatedChannel, RefusesMismatchedCiphersAndWritesAfterTheEnd) {
  const Bytes k(32, 1);
  auto ok = secure_channel::SecureChannel::create_negotiated(chacha(k), chacha(k));
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->negotiated());
  ok->close_write();
  ok->close_write();  // once only: one end frame
  EXPECT_EQ(ok->pending_output().size(), 4u + 12 + 1 + 16);
  EXPECT_EQ(ok->write(base::as_bytes(std::string_view("late"))).error(),
            secure_channel::Errc::WriteAfterClose);
  EXPECT_EQ(secure_channel::SecureChannel::create_negotiated(nullptr, chacha(k)).error(),
            secure_channel::Errc::InvalidOptions);
}

}  // namespace
}  // namespace portal::handshake
