// SPDX-License-Identifier: Apache-2.0
#include "portal/handshake/handshake.hpp"

#include <algorithm>
#include <optional>

#include "portal/crypto/ed25519.hpp"
#include "portal/crypto/hkdf.hpp"
#include "portal/crypto/sha256.hpp"

namespace portal::handshake {
namespace {

using base::Bytes;
using base::ByteSpan;

base::ErrorCode reader_error(const base::ErrorCode& e) {
  return e == base::Errc::LengthTooLarge ? make_error_code(Errc::MessageTooLarge) : e;
}

// portal-v1 §8.3 step 2 / §8.5: |now - timestamp| <= skew, inclusive, in both directions.
// Written so that no hostile timestamp can overflow the arithmetic.
base::Result<void> check_timestamp(std::int64_t timestamp, base::Clock::SystemTime now_time,
                                   std::chrono::seconds skew) {
  const std::int64_t now = base::unix_seconds(now_time);
  if (timestamp < now - skew.count()) return Errc::TimestampTooOld;
  if (timestamp > now + skew.count()) return Errc::TimestampInFuture;
  return {};
}

// A peer's init message, parsed: the SignedPayload and the InitPayload inside it.
struct PeerInit {
  SignedPayload signed_payload;
  InitPayload payload;
};

base::Result<PeerInit> parse_peer_init(ByteSpan message) {
  auto sp = decode_signed_payload(message);
  if (!sp) return sp.error();
  auto p = decode_init_payload(sp->data);
  if (!p) return p.error();
  return PeerInit{std::move(*sp), std::move(*p)};
}

// portal-v1 §8.3 steps 4-5: identity valid, then the signature over `data`.
base::Result<void> check_identity_and_signature(const PeerInit& init) {
  if (!identity::validate(init.payload.identity)) return Errc::InvalidIdentity;
  if (!crypto::ed25519_verify(init.payload.identity.public_key, init.signed_payload.data,
                              init.signed_payload.signature)) {
    return Errc::BadSignature;
  }
  return {};
}

// Hardening that Go peers always satisfy (portal-v1 §13.3 item 13): fixed nonce and key sizes.
base::Result<void> check_sizes(const InitPayload& p) {
  if (p.nonce.size() != kNonceSize) return Errc::InvalidNonce;
  if (p.session_public_key.size() != crypto::kX25519KeySize) return Errc::InvalidSessionKey;
  return {};
}

// portal-v1 §8.6: the shared secret, then one HKDF per direction with the nonces concatenated in
// the direction's order. The negotiated channel (a non-empty `transcript`) uses its own info
// strings followed by the transcript hash, so its keys are bound to both signed messages.
base::Result<void> derive_keys(const crypto::X25519PrivateKey& own, ByteSpan peer_public,
                               ByteSpan client_nonce, ByteSpan server_nonce, bool is_client,
                               ByteSpan transcript, Established& out) {
  auto shared = crypto::x25519(own, peer_public);
  if (!shared) return Errc::InvalidSessionKey;
  Bytes salt_c2s(client_nonce.begin(), client_nonce.end());
  salt_c2s.insert(salt_c2s.end(), server_nonce.begin(), server_nonce.end());
  Bytes salt_s2c(server_nonce.begin(), server_nonce.end());
  salt_s2c.insert(salt_s2c.end(), client_nonce.begin(), client_nonce.end());
  auto info = [&](std::string_view v1, std::string_view negotiated) {
    if (transcript.empty()) return base::to_bytes(base::as_bytes(v1));
    Bytes i = base::to_bytes(base::as_bytes(negotiated));
    i.insert(i.end(), transcript.begin(), transcript.end());
    return i;
  };
  const Bytes info_c2s = info(kInfoClientToServer, kInfoNegotiatedClientToServer);
  const Bytes info_s2c = info(kInfoServerToClient, kInfoNegotiatedServerToClient);
  base::SecretArray<32> c2s;
  base::SecretArray<32> s2c;
  if (!crypto::hkdf_sha256(shared->span(), salt_c2s, info_c2s, c2s.mutable_span()) ||
      !crypto::hkdf_sha256(shared->span(), salt_s2c, info_s2c, s2c.mutable_span())) {
    return Errc::InvalidSessionKey;
  }
  out.encrypt_key = is_client ? std::move(c2s) : std::move(s2c);
  out.decrypt_key = is_client ? std::move(s2c) : std::move(c2s);
  return {};
}

// The negotiated channel's transcript hash: SHA-256 over both signed messages, each with its
// 4-byte big-endian length, ClientInit's first (docs/adr/0014).
crypto::Sha256Digest transcript_hash(ByteSpan client_data, ByteSpan server_data) {
  Bytes t;
  base::append_length_prefixed(t, client_data);
  base::append_length_prefixed(t, server_data);
  return crypto::sha256(t);
}

bool contains(const std::vector<std::string>& list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// Draws 32 bytes of ephemeral key then 12 of nonce (the order of portal-v1 §8.2 / §8.4).
base::Result<void> draw(base::RandomSource& random, crypto::X25519PrivateKey& key, Bytes& nonce) {
  nonce.assign(kNonceSize, 0);
  if (!random.fill(key.mutable_span()) || !random.fill(nonce)) return Errc::RandomSourceFailed;
  return {};
}

// An init message: the signed InitPayload bytes and the whole LP(SignedPayload) to send.
struct BuiltInit {
  Bytes data;
  Bytes wire;
};

// Builds LP(SignedPayload{InitPayload, signature}).
BuiltInit build_init(const identity::Credential& self, const Bytes& nonce,
                     const crypto::X25519PrivateKey& ephemeral, std::string_view alpn,
                     base::Clock::SystemTime now, std::optional<Capabilities> capabilities) {
  InitPayload p;
  p.version = kProtocolVersion1;
  p.nonce = nonce;
  p.timestamp = base::unix_seconds(now);
  p.identity = self.identity();
  p.alpn = std::string(alpn);
  const auto pub = crypto::x25519_public_key(ephemeral);
  p.session_public_key.assign(pub.begin(), pub.end());
  p.capabilities = std::move(capabilities);
  SignedPayload sp;
  sp.data = encode(p);
  const auto sig = self.sign(sp.data);
  sp.signature.assign(sig.begin(), sig.end());
  BuiltInit out;
  base::append_length_prefixed(out.wire, encode(sp));
  out.data = std::move(sp.data);
  return out;
}

// A negotiation a side may run with: V1, or at least one cipher, each with a sane name.
bool negotiation_ok(const Negotiation& n) {
  if (n.mode == ChannelMode::V1) return true;
  if (n.ciphers.empty() || n.ciphers.size() > kMaxOfferedCiphers) return false;
  return std::all_of(n.ciphers.begin(), n.ciphers.end(), [](const std::string& c) {
    return !c.empty() && c.size() <= kMaxCipherNameSize;
  });
}

}  // namespace

base::Result<void> check_alpn(const std::vector<std::string>& lease_alpns,
                              std::string_view wanted) {
  if (std::find(lease_alpns.begin(), lease_alpns.end(), wanted) == lease_alpns.end()) {
    return Errc::NoCommonAlpn;
  }
  return {};
}

// ---- client ------------------------------------------------------------------------------------

ClientHandshake::ClientHandshake(const identity::Credential& self, std::string expected_peer_id,
                                 std::string alpn, base::RandomSource& random, Limits limits,
                                 Negotiation negotiation)
    : self_(self),
      expected_peer_id_(std::move(expected_peer_id)),
      alpn_(std::move(alpn)),
      random_(random),
      limits_(limits),
      negotiation_(std::move(negotiation)),
      reader_(limits.max_message_size) {}

base::Result<std::size_t> ClientHandshake::fail(base::ErrorCode e) {
  if (state_ != State::Failed) {
    state_ = State::Failed;
    error_ = e;
    ephemeral_.wipe();
  }
  return error_;
}

base::Result<void> ClientHandshake::start(base::Clock::SystemTime now) {
  if (state_ != State::Idle || !negotiation_ok(negotiation_)) return Errc::InvalidState;
  if (auto r = draw(random_, ephemeral_, nonce_); !r) return fail(r.error()).error();
  std::optional<Capabilities> offer;
  if (negotiation_.mode != ChannelMode::V1) {
    offer = Capabilities{kNegotiatedChannelVersion, negotiation_.ciphers, {}};
  }
  auto init = build_init(self_, nonce_, ephemeral_, alpn_, now, std::move(offer));
  output_ = std::move(init.wire);
  sent_data_ = std::move(init.data);
  state_ = State::AwaitingPeer;
  return {};
}

void ClientHandshake::consume_output(std::size_t n) noexcept { base::erase_front(output_, n); }

base::Result<std::size_t> ClientHandshake::handle_input(ByteSpan bytes,
                                                        base::Clock::SystemTime now) {
  if (state_ == State::Failed) return error_;
  if (state_ != State::AwaitingPeer) return std::size_t{0};  // the rest is the channel's
  auto used = reader_.feed(bytes);
  if (!used) return fail(reader_error(used.error()));
  if (reader_.complete()) {
    if (auto r = finish(reader_.body(), now); !r) return fail(r.error());
    reader_.next();
  }
  return used;
}

base::Result<void> ClientHandshake::finish(ByteSpan message, base::Clock::SystemTime now) {
  auto init = parse_peer_init(message);
  if (!init) return init.error();
  const InitPayload& p = init->payload;
  // portal-v1 §8.5: version, timestamp, identity, signature.
  if (p.version != kProtocolVersion1) return Errc::UnsupportedVersion;
  if (auto r = check_timestamp(p.timestamp, now, limits_.max_clock_skew); !r) return r;
  if (auto r = check_identity_and_signature(*init); !r) return r;
  // Hardening (§13.3 item 13): v1 clients do not compare the echo; Go servers always echo.
  if (p.alpn != alpn_) return Errc::AlpnMismatch;
  if (auto r = check_sizes(p); !r) return r;
  // The negotiated channel: the answer must name one offered cipher and cover this ClientInit.
  crypto::Sha256Digest transcript{};
  bool negotiated = false;
  if (p.capabilities) {
    const Capabilities& c = *p.capabilities;
    if (negotiation_.mode == ChannelMode::V1 || c.version != kNegotiatedChannelVersion ||
        c.ciphers.size() != 1) {
      return Errc::BadCapabilities;
    }
    const auto expected = crypto::sha256(sent_data_);
    if (!std::equal(c.client_init_hash.begin(), c.client_init_hash.end(), expected.begin(),
                    expected.end())) {
      return Errc::TranscriptMismatch;
    }
    if (!contains(negotiation_.ciphers, c.ciphers.front())) return Errc::NoCommonCipher;
    transcript = transcript_hash(sent_data_, init->signed_payload.data);
    negotiated = true;
    result_.channel = kNegotiatedChannelVersion;
    result_.cipher = c.ciphers.front();
  } else if (negotiation_.mode == ChannelMode::Negotiated) {
    return Errc::NegotiationRequired;
  }
  if (auto r = derive_keys(ephemeral_, p.session_public_key, nonce_, p.nonce, true,
                           negotiated ? ByteSpan(transcript) : ByteSpan(), result_);
      !r) {
    return r;
  }
  ephemeral_.wipe();
  // §8.5, last step: the responder must be the lease that was dialed.
  if (p.identity.id != expected_peer_id_) return Errc::UnexpectedPeerIdentity;
  result_.peer = p.identity;
  result_.alpn = p.alpn;
  state_ = State::Established;
  return {};
}

void ClientHandshake::handle_eof() noexcept {
  if (state_ == State::Idle || state_ == State::AwaitingPeer) {
    (void)fail(Errc::PeerClosedDuringHandshake);
  }
}

base::Result<Established> ClientHandshake::take_result() {
  if (state_ != State::Established || result_taken_) return Errc::InvalidState;
  result_taken_ = true;
  return std::move(result_);
}

// ---- server ------------------------------------------------------------------------------------

ServerHandshake::ServerHandshake(const identity::Credential& self,
                                 std::vector<std::string> accepted_alpns, ReplayCache& replay_cache,
                                 base::RandomSource& random, Limits limits, Negotiation negotiation)
    : self_(self),
      accepted_alpns_(std::move(accepted_alpns)),
      replay_cache_(replay_cache),
      random_(random),
      limits_(limits),
      negotiation_(std::move(negotiation)),
      reader_(limits.max_message_size) {}

base::Result<std::size_t> ServerHandshake::fail(base::ErrorCode e) {
  if (state_ != State::Failed) {
    state_ = State::Failed;
    error_ = e;
    output_.clear();  // v1: a refused ClientInit gets no answer at all
  }
  return error_;
}

void ServerHandshake::consume_output(std::size_t n) noexcept { base::erase_front(output_, n); }

base::Result<std::size_t> ServerHandshake::handle_input(ByteSpan bytes,
                                                        base::Clock::SystemTime now) {
  if (state_ == State::Failed) return error_;
  if (state_ != State::AwaitingPeer) return std::size_t{0};
  auto used = reader_.feed(bytes);
  if (!used) return fail(reader_error(used.error()));
  if (reader_.complete()) {
    if (auto r = respond(reader_.body(), now); !r) return fail(r.error());
    reader_.next();
  }
  return used;
}

base::Result<void> ServerHandshake::respond(ByteSpan message, base::Clock::SystemTime now) {
  auto init = parse_peer_init(message);
  if (!init) return init.error();
  const InitPayload& p = init->payload;
  // portal-v1 §8.3, in this order: version, timestamp, ALPN, identity, signature.
  if (p.version != kProtocolVersion1) return Errc::UnsupportedVersion;
  if (auto r = check_timestamp(p.timestamp, now, limits_.max_clock_skew); !r) return r;
  if (std::find(accepted_alpns_.begin(), accepted_alpns_.end(), p.alpn) == accepted_alpns_.end()) {
    return Errc::AlpnNotAccepted;
  }
  if (auto r = check_identity_and_signature(*init); !r) return r;
  if (auto r = check_sizes(p); !r) return r;
  if (!negotiation_ok(negotiation_)) return Errc::InvalidState;
  // The negotiated channel: the first offered cipher this side accepts. An offer of another
  // version is not understood, and is answered as v1 would.
  std::optional<std::string> chosen;
  if (negotiation_.mode != ChannelMode::V1) {
    const auto& offer = p.capabilities;
    if (offer && offer->version == kNegotiatedChannelVersion) {
      if (offer->ciphers.empty() || offer->ciphers.size() > kMaxOfferedCiphers) {
        return Errc::BadCapabilities;
      }
      for (const auto& c : offer->ciphers) {
        if (contains(negotiation_.ciphers, c)) {
          chosen = c;
          break;
        }
      }
      if (!chosen && negotiation_.mode == ChannelMode::Negotiated) return Errc::NoCommonCipher;
    } else if (negotiation_.mode == ChannelMode::Negotiated) {
      return Errc::NegotiationRequired;
    }
  }
  // Only a verified message enters the cache, so nobody can pre-empt another client's nonce.
  // A full cache refuses too: evicting a live entry would let its message be replayed.
  switch (replay_cache_.insert(p.identity.id, p.nonce, p.timestamp, base::unix_seconds(now))) {
    case ReplayCache::Verdict::Fresh: break;
    case ReplayCache::Verdict::Replayed:
    case ReplayCache::Verdict::BelowFloor: return Errc::ReplayedClientInit;
    case ReplayCache::Verdict::IdentityFull: return Errc::ReplayCacheFull;
  }
  crypto::X25519PrivateKey ephemeral;
  Bytes nonce;
  if (auto r = draw(random_, ephemeral, nonce); !r) return r;
  // §8.4: send ServerInit echoing the client's ALPN, with the keys derived. The negotiated answer
  // names the cipher and covers the ClientInit it answers; the keys cover both messages.
  std::optional<Capabilities> answer;
  if (chosen) {
    const auto hash = crypto::sha256(init->signed_payload.data);
    answer = Capabilities{kNegotiatedChannelVersion, {*chosen}, Bytes(hash.begin(), hash.end())};
  }
  auto reply = build_init(self_, nonce, ephemeral, p.alpn, now, std::move(answer));
  crypto::Sha256Digest transcript{};
  if (chosen) {
    transcript = transcript_hash(init->signed_payload.data, reply.data);
    result_.channel = kNegotiatedChannelVersion;
    result_.cipher = *chosen;
  }
  if (auto r = derive_keys(ephemeral, p.session_public_key, p.nonce, nonce, false,
                           chosen ? ByteSpan(transcript) : ByteSpan(), result_);
      !r) {
    return r;
  }
  output_ = std::move(reply.wire);
  result_.peer = p.identity;
  result_.alpn = p.alpn;
  state_ = State::Established;
  return {};
}

void ServerHandshake::handle_eof() noexcept {
  if (state_ == State::AwaitingPeer) (void)fail(Errc::PeerClosedDuringHandshake);
}

base::Result<Established> ServerHandshake::take_result() {
  if (state_ != State::Established || result_taken_) return Errc::InvalidState;
  result_taken_ = true;
  return std::move(result_);
}

}  // namespace portal::handshake
