// SPDX-License-Identifier: Apache-2.0
#pragma once

// The Portal v1 end-to-end handshake (portal-v1 §8) as sans-IO state machines.
//
// Call order, for both sides:
//   1. (client only) start(now): produces ClientInit.
//   2. Send pending_output(), then consume_output(n) for what was written.
//   3. Feed peer bytes with handle_input(bytes, now). It consumes bytes only up to the end of the
//      handshake message and returns how many; bytes after it belong to the secure channel.
//   4. After each input, drain pending_output() (the server's ServerInit), then check state().
//   5. On end of stream call handle_eof(). Once state() is Established, take_result().
// A failed handshake stays failed; error() says why. Cores never read a clock, never touch a
// socket and never throw on peer input.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "portal/base/bytes.hpp"
#include "portal/base/clock.hpp"
#include "portal/base/export.hpp"
#include "portal/base/length_prefixed.hpp"
#include "portal/base/random.hpp"
#include "portal/base/result.hpp"
#include "portal/base/secret.hpp"
#include "portal/crypto/x25519.hpp"
#include "portal/handshake/errors.hpp"
#include "portal/handshake/messages.hpp"
#include "portal/handshake/replay_cache.hpp"
#include "portal/identity/credential.hpp"

namespace portal::handshake {

/// Protocol version value of PROTOCOL_VERSION_1.
inline constexpr std::uint32_t kProtocolVersion1 = 0;
/// Bytes of the nonce each side puts in its InitPayload; other lengths are refused
/// (Errc::InvalidNonce).
inline constexpr std::size_t kNonceSize = 12;
/// HKDF info string of the key for frames the client sends (portal-v1 §8.6).
inline constexpr std::string_view kInfoClientToServer = "RDSEC_KEY_CLIENT";
/// HKDF info string of the key for frames the server sends (portal-v1 §8.6).
inline constexpr std::string_view kInfoServerToClient = "RDSEC_KEY_SERVER";

/// Version of the negotiated channel in the capability extension (docs/adr/0014).
inline constexpr std::uint32_t kNegotiatedChannelVersion = 2;
/// Most ciphers a capability offer may list; a longer offer is refused (Errc::BadCapabilities).
inline constexpr std::size_t kMaxOfferedCiphers = 16;
/// Longest cipher name accepted in an offer.
inline constexpr std::size_t kMaxCipherNameSize = 64;
/// The v1 channel's only cipher (portal-v1 §9.1).
inline constexpr std::string_view kV1Cipher = "chacha20-poly1305";
/// HKDF info prefix of the negotiated channel's client-to-server key; the transcript hash follows.
inline constexpr std::string_view kInfoNegotiatedClientToServer = "PORTAL2_KEY_C2S";
/// HKDF info prefix of the negotiated channel's server-to-client key; the transcript hash follows.
inline constexpr std::string_view kInfoNegotiatedServerToClient = "PORTAL2_KEY_S2C";

/// Which channel a side speaks.
enum class ChannelMode {
  V1,          ///< v1 only: offer nothing, answer nothing (byte-exact v1)
  Auto,        ///< offer or accept the negotiated channel; fall back to v1 with a v1 peer
  Negotiated,  ///< the negotiated channel or nothing: a v1 peer is refused
};

/// This side's channel policy.
struct Negotiation {
  ChannelMode mode = ChannelMode::V1;  ///< the core's default is byte-exact v1
  /// AEAD algorithms for the negotiated channel, most preferred first (client: the offer; server:
  /// what it accepts). At most kMaxOfferedCiphers; needed unless mode is V1.
  std::vector<std::string> ciphers;
};

/// Limits and tolerances. The defaults keep v1 compatibility.
struct Limits {
  /// Largest handshake message accepted. v1 allows 2^26, but a real ClientInit or ServerInit is
  /// about 200 bytes; 64 KiB leaves room for long ALPN strings without letting a peer make us
  /// buffer megabytes.
  std::size_t max_message_size = 64 * 1024;
  /// Allowed clock difference, inclusive (portal-v1 §8.3: |now - timestamp| <= 30).
  std::chrono::seconds max_clock_skew{30};
};

/// What a completed handshake yields: this side's two session keys, the authenticated peer and
/// the negotiated ALPN.
struct Established {
  base::SecretArray<32> encrypt_key;  ///< for frames this side sends
  base::SecretArray<32> decrypt_key;  ///< for frames this side receives
  identity::Identity peer;            ///< validated: the ID matches the key that signed
  /// The application protocol both sides agreed on: the one the client asked for, which the server
  /// found in its lease's list.
  std::string alpn;
  /// The channel both sides speak: 1 (v1, portal-v1 §9) or kNegotiatedChannelVersion.
  std::uint32_t channel = 1;
  /// The AEAD algorithm of the channel; always kV1Cipher on channel 1.
  std::string cipher{kV1Cipher};
};

/// Where a ClientHandshake or ServerHandshake is; Established and Failed are final.
enum class State { Idle, AwaitingPeer, Established, Failed };

/// (client) Fails with Errc::NoCommonAlpn unless `lease_alpns` contains `wanted`: checked before
/// connecting, so a dial that cannot succeed never reaches the lease holder.
[[nodiscard]] PORTAL_API base::Result<void> check_alpn(const std::vector<std::string>& lease_alpns,
                                                       std::string_view wanted);

/// The dialer's side (handshake client).
class PORTAL_API ClientHandshake {
 public:
  /// `self` and `random` must outlive the handshake. `expected_peer_id` is the lease ID dialed:
  /// the responder must be that identity (portal-v1 §8.5, last step).
  /// `negotiation` says whether ClientInit offers the negotiated channel; the default offers
  /// nothing, byte for byte what a v1 client sends.
  ClientHandshake(const identity::Credential& self, std::string expected_peer_id, std::string alpn,
                  base::RandomSource& random, Limits limits = {}, Negotiation negotiation = {});

  /// Draws the ephemeral key (32 bytes) then the nonce (12 bytes), in the order a v1 client does,
  /// and queues ClientInit. Errors: Errc::RandomSourceFailed, Errc::InvalidState (also for a
  /// negotiation without ciphers or with more than kMaxOfferedCiphers).
  [[nodiscard]] base::Result<void> start(base::Clock::SystemTime now);

  /// Bytes to send; valid until the next non-const call.
  [[nodiscard]] base::ByteSpan pending_output() const noexcept { return output_; }
  /// Drops the first `n` bytes of pending_output() once they are written (at most its size).
  void consume_output(std::size_t n) noexcept;

  /// Feeds bytes from the peer; returns how many were consumed (see the call order above). On a
  /// failed check the state becomes Failed and the error is returned.
  [[nodiscard]] base::Result<std::size_t> handle_input(base::ByteSpan bytes,
                                                       base::Clock::SystemTime now);
  /// The peer closed its side. Before completion this fails with PeerClosedDuringHandshake.
  void handle_eof() noexcept;

  /// Idle until start(), AwaitingPeer until ServerInit is verified, then Established; Failed after
  /// any error (see error()).
  [[nodiscard]] State state() const noexcept { return state_; }
  /// Why the handshake failed (a handshake::Errc or a base length error); empty unless state() is
  /// Failed.
  [[nodiscard]] base::ErrorCode error() const noexcept { return error_; }
  /// The session keys, once. Errors: Errc::InvalidState.
  [[nodiscard]] base::Result<Established> take_result();

 private:
  base::Result<std::size_t> fail(base::ErrorCode e);
  base::Result<void> finish(base::ByteSpan message, base::Clock::SystemTime now);

  const identity::Credential& self_;
  std::string expected_peer_id_;
  std::string alpn_;
  base::RandomSource& random_;
  Limits limits_;
  Negotiation negotiation_;
  State state_ = State::Idle;
  base::ErrorCode error_;
  crypto::X25519PrivateKey ephemeral_;
  base::Bytes nonce_;
  base::Bytes sent_data_;  // ClientInit's signed bytes: the transcript starts with them
  base::Bytes output_;
  base::LengthPrefixedReader reader_;
  Established result_;
  bool result_taken_ = false;
};

/// The lease holder's side (handshake server).
class PORTAL_API ServerHandshake {
 public:
  /// `self`, `replay_cache` and `random` must outlive the handshake. `accepted_alpns` is the
  /// lease's ALPN list. The replay cache is the one shared by every handshake of `self`.
  /// `negotiation` says whether an offer of the negotiated channel is taken; the default answers
  /// as v1 does, whatever the ClientInit carries.
  ServerHandshake(const identity::Credential& self, std::vector<std::string> accepted_alpns,
                  ReplayCache& replay_cache, base::RandomSource& random, Limits limits = {},
                  Negotiation negotiation = {});

  /// Bytes to send to the dialer (ServerInit once ClientInit checked out); valid until the next
  /// non-const call.
  [[nodiscard]] base::ByteSpan pending_output() const noexcept { return output_; }
  /// Drops the first `n` bytes of pending_output() once they are written (at most its size).
  void consume_output(std::size_t n) noexcept;

  /// Feeds bytes from the dialer. When ClientInit is complete it is checked in the order of
  /// portal-v1 §8.3 (version, timestamp, ALPN, identity, signature), then the hardening checks
  /// (nonce and key sizes, replay). On success ServerInit is queued and the state is Established.
  /// On failure nothing is queued: the caller closes the stream silently, as v1 requires, and
  /// logs error().
  [[nodiscard]] base::Result<std::size_t> handle_input(base::ByteSpan bytes,
                                                       base::Clock::SystemTime now);
  /// The dialer closed its side. While ClientInit is still awaited this fails with
  /// Errc::PeerClosedDuringHandshake; afterwards it changes nothing.
  void handle_eof() noexcept;

  /// AwaitingPeer until ClientInit is complete and checked, then Established (ServerInit queued) or
  /// Failed (see error()).
  [[nodiscard]] State state() const noexcept { return state_; }
  /// Why the handshake failed (a handshake::Errc or a base length error); empty unless state() is
  /// Failed.
  [[nodiscard]] base::ErrorCode error() const noexcept { return error_; }
  /// The session keys, the validated dialer and the ALPN, once, after Established. Errors:
  /// Errc::InvalidState (not established, or already taken).
  [[nodiscard]] base::Result<Established> take_result();

 private:
  base::Result<std::size_t> fail(base::ErrorCode e);
  base::Result<void> respond(base::ByteSpan message, base::Clock::SystemTime now);

  const identity::Credential& self_;
  std::vector<std::string> accepted_alpns_;
  ReplayCache& replay_cache_;
  base::RandomSource& random_;
  Limits limits_;
  Negotiation negotiation_;
  State state_ = State::AwaitingPeer;
  base::ErrorCode error_;
  base::Bytes output_;
  base::LengthPrefixedReader reader_;
  Established result_;
  bool result_taken_ = false;
};

}  // namespace portal::handshake
