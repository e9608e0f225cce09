// SPDX-License-Identifier: Apache-2.0
#include "portal/handshake/errors.hpp"

#include "detail/error_category.hpp"

namespace portal::handshake {
namespace {

const char* describe(Errc e) noexcept {
  switch (e) {
    case Errc::MessageTooLarge: return "handshake message too large";
    case Errc::MalformedMessage: return "malformed handshake message";
    case Errc::UnsupportedVersion: return "unsupported handshake protocol version";
    case Errc::TimestampTooOld: return "peer timestamp too old (clock skew or replay)";
    case Errc::TimestampInFuture: return "peer timestamp in the future (clock skew)";
    case Errc::AlpnNotAccepted: return "requested ALPN is not offered by this lease";
    case Errc::AlpnMismatch: return "peer echoed a different ALPN";
    case Errc::NoCommonAlpn: return "the lease does not offer the wanted ALPN";
    case Errc::InvalidIdentity: return "peer identity is invalid (ID does not match key)";
    case Errc::BadSignature: return "peer handshake signature does not verify";
    case Errc::UnexpectedPeerIdentity: return "peer is not the identity that was dialed";
    case Errc::InvalidNonce: return "peer handshake nonce is not 12 bytes";
    case Errc::InvalidSessionKey: return "peer session key is invalid";
    case Errc::ReplayedClientInit: return "replayed ClientInit";
    case Errc::ReplayCacheFull:
      return "too many recent ClientInits from this client (replay cache quota)";
    case Errc::PeerClosedDuringHandshake: return "peer closed the stream during the handshake";
    case Errc::RandomSourceFailed: return "random source failed";
    case Errc::InvalidState: return "handshake call out of order";
    case Errc::Timeout: return "handshake timed out";
    case Errc::NegotiationRequired:
      return "peer speaks only the v1 channel; the negotiated channel is required";
    case Errc::NoCommonCipher: return "no cipher both sides accept";
    case Errc::BadCapabilities: return "malformed or unexpected channel capabilities";
    case Errc::TranscriptMismatch: return "server answer is bound to another ClientInit";
  }
  return nullptr;
}

}  // namespace

const boost::system::error_category& handshake_category() noexcept {
  static const detail::EnumCategory<Errc> category("portal.handshake", describe);
  return category;
}

}  // namespace portal::handshake
