// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <type_traits>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::handshake {

/// Why a handshake failed. Each check of portal-v1 §8.3 / §8.5 has its own value.
enum class Errc {
  MessageTooLarge = 1,        ///< a length prefix exceeds the configured maximum
  MalformedMessage,           ///< the SignedPayload or InitPayload does not parse
  UnsupportedVersion,         ///< version is not PROTOCOL_VERSION_1 (0)
  TimestampTooOld,            ///< the peer's timestamp is more than the allowed skew in the past
  TimestampInFuture,          ///< the peer's timestamp is more than the allowed skew ahead
  AlpnNotAccepted,            ///< (server) the requested ALPN is not in the lease's list
  AlpnMismatch,               ///< (client) the server echoed a different ALPN
  NoCommonAlpn,               ///< (client) the lease does not offer the wanted ALPN
  InvalidIdentity,            ///< the identity's ID does not match its public key
  BadSignature,               ///< the Ed25519 signature does not verify
  UnexpectedPeerIdentity,     ///< (client) the responder is not the lease that was asked for
  InvalidNonce,               ///< the nonce is not 12 bytes
  InvalidSessionKey,          ///< the ephemeral key is not 32 bytes or is a low-order point
  ReplayedClientInit,         ///< (server) this ClientInit was already seen
  PeerClosedDuringHandshake,  ///< the stream ended before the handshake completed
  RandomSourceFailed,         ///< no random bytes for the ephemeral key or nonce
  InvalidState,               ///< a call out of order (start twice, take_result early, ...)
  Timeout,                    ///< (driver) the handshake did not complete in time
  ReplayCacheFull,            ///< (server) this client has its quota of live ClientInits in
                              ///< the replay cache
  NegotiationRequired,        ///< the peer speaks only v1, and this side requires the
                              ///< negotiated channel
  NoCommonCipher,             ///< no cipher both sides accept, or the server chose one that was
                              ///< not offered
  BadCapabilities,            ///< a capability extension that breaks its rules (version, list
                              ///< size, or an answer to no offer)
  TranscriptMismatch,         ///< (client) the server's answer covers another ClientInit
};

/// The category of handshake::Errc ("portal.handshake").
PORTAL_API const boost::system::error_category& handshake_category() noexcept;

/// `e` as an error code of this module's category. Found by argument-dependent lookup, it
/// lets an Errc convert to base::ErrorCode and compare with one.
inline base::ErrorCode make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), handshake_category()};
}

}  // namespace portal::handshake

template <>
struct boost::system::is_error_code_enum<portal::handshake::Errc> : std::true_type {};
