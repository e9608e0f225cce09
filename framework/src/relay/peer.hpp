// SPDX-License-Identifier: Apache-2.0
#pragma once

// Fleet peer sessions on the wire (docs/adr/0015-relay-fleet.md §3): a relay that dials a peer
// sends kPeerMagic, then runs the project's handshake as its relay identity (ALPN kPeerAlpn)
// and a secure channel, with the mux session inside. A relay tells a peer from a client by the
// first byte: a yamux frame starts with its version, 0; the magic starts with 'P'.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "portal/base/bytes.hpp"
#include "portal/base/result.hpp"
#include "portal/cipher/aead_factory.hpp"
#include "portal/handshake/replay_cache.hpp"
#include "portal/identity/credential.hpp"
#include "portal/secure_stream/secure_stream.hpp"
#include "portal/stream/byte_stream.hpp"

namespace portal::relay::detail {

/// What a dialing relay sends before its handshake.
inline constexpr std::string_view kPeerMagic = "PORTAL-PEER/1\n";
/// The ALPN of a peer session's handshake.
inline constexpr std::string_view kPeerAlpn = "portal-peer/1";

/// What one side needs for the peer handshake.
struct PeerCrypto {
  const identity::Credential* identity = nullptr;  ///< this relay's
  std::shared_ptr<cipher::AeadFactory> cipher;     ///< ChaCha20-Poly1305 (the v1 channel's)
  std::chrono::milliseconds timeout{10'000};       ///< the whole handshake
};

/// The first bytes of an accepted connection: a peer's magic (consumed; `prefix` holds what
/// followed it), or the start of a mux session (`prefix` holds every byte read).
struct Sniffed {
  bool peer = false;
  base::Bytes prefix;
};

/// Reads the first bytes of `s` and tells a peer session from a client's. Errors: the stream's,
/// and asio::error::invalid_argument for bytes that start like the magic and are not it.
boost::asio::awaitable<base::Result<Sniffed>> sniff_peer(stream::ByteStream& s);

/// The dialer's side: the magic, then the handshake; the responder must be relay `relay`.
boost::asio::awaitable<base::Result<std::unique_ptr<stream::SecureStream>>> peer_connect(
    std::unique_ptr<stream::ByteStream> s, const PeerCrypto& crypto, std::string relay);

/// The accepting side, after sniff_peer() found the magic (`s` carries the bytes after it): the
/// handshake, any relay identity accepted (the relay core checks the allow-list).
boost::asio::awaitable<base::Result<std::unique_ptr<stream::SecureStream>>> peer_accept(
    std::unique_ptr<stream::ByteStream> s, const PeerCrypto& crypto,
    handshake::ReplayCache& replay);

}  // namespace portal::relay::detail
