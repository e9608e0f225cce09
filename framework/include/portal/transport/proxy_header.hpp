// SPDX-License-Identifier: Apache-2.0
#pragma once

// The PROXY protocol header (versions 1 and 2, as HAProxy specifies it) that a load balancer in
// TCP mode sends before the client's bytes, naming the client. Sans-IO: the parser only looks at
// the bytes it is given and says how many it needs; it never asks for a byte past the header,
// so a driver that reads exactly that many leaves the client's first bytes (a TLS ClientHello,
// a yamux frame) in the socket.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "portal/base/export.hpp"

namespace portal::transport {

/// Limits of the PROXY header. Version 1 is one text line of at most 107 bytes, CRLF included;
/// version 2 is a 16-byte head and a block whose length the head gives (addresses, then TLVs,
/// which are skipped). Larger blocks are refused before anything is allocated for them.
/// Longest version 1 header, CRLF included.
inline constexpr std::size_t kProxyV1MaxBytes = 107;
/// Bytes of the version 2 fixed head (signature, version and command, family, length).
inline constexpr std::size_t kProxyV2HeadBytes = 16;
/// Longest version 2 address-and-TLV block accepted; a longer one is Invalid.
inline constexpr std::size_t kProxyV2MaxBlockBytes = 4096;

/// The outcome of parse_proxy_header().
struct ProxyHeader {
  /// How far parsing got.
  enum class State {
    NeedMore,  ///< call again with at least `need` bytes
    Done,      ///< the header is the first `size` bytes
    Invalid,   ///< not a PROXY header, or a malformed one: `problem` says why
  };
  /// The outcome; the other fields are valid as their comments say.
  State state = State::NeedMore;
  std::size_t need = 1;  ///< NeedMore: the total byte count to have next (never past the header)
  std::size_t size = 0;  ///< Done: the header's length in bytes
  int version = 0;       ///< Done: 1 or 2
  /// Done: the client's address, normalised text (an IPv4-mapped IPv6 address as IPv4), and its
  /// port. Empty when the header names no client: v1 UNKNOWN, v2 LOCAL (the proxy's own health
  /// check), or a v2 family other than IPv4/IPv6 (UNSPEC, UNIX). The connection is then the
  /// proxy's own, as the specification asks.
  std::string source;
  /// Done: the client's TCP port (0 when `source` is empty).
  std::uint16_t source_port = 0;
  std::string problem;  ///< Invalid: one line
};

/// Parses the start of a connection's bytes as a PROXY header (v1 or v2, told apart by the first
/// byte). `bytes` may hold more than the header; the result only looks at the header's.
[[nodiscard]] PORTAL_API ProxyHeader parse_proxy_header(std::span<const std::uint8_t> bytes);

}  // namespace portal::transport
