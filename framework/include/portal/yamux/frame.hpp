// SPDX-License-Identifier: Apache-2.0
#pragma once

// yamux frame headers (portal-v1 §3.2; hashicorp/yamux v0.1.2). Sans-IO.

#include <cstddef>
#include <cstdint>

#include "portal/base/bytes.hpp"

namespace portal::yamux {

/// The yamux protocol version every header carries.
inline constexpr std::uint8_t kVersion = 0;
/// Bytes of a frame header: version, type, flags (2), stream id (4), length (4), big-endian.
inline constexpr std::size_t kHeaderSize = 12;
/// Both directions of every stream start with this window (a protocol constant).
inline constexpr std::uint32_t kInitialWindow = 256 * 1024;

/// The four yamux frame types; Header::length means something different for each.
enum class FrameType : std::uint8_t { Data = 0, WindowUpdate = 1, Ping = 2, GoAway = 3 };

/// Header flag bits: kSyn opens a stream (or asks for a ping reply), kAck acknowledges an open (or
/// answers a ping), kFin half-closes, kRst resets.
namespace flag {
inline constexpr std::uint16_t kSyn = 0x1;  ///< open a stream; on a Ping: a request
inline constexpr std::uint16_t kAck = 0x2;  ///< accept a stream; on a Ping: the reply
inline constexpr std::uint16_t kFin = 0x4;  ///< half-close: the sender writes no more
inline constexpr std::uint16_t kRst = 0x8;  ///< reset: the stream ends now in both directions
}  // namespace flag

/// GO_AWAY codes (portal-v1 §3.5).
enum class GoAwayCode : std::uint32_t { Normal = 0, ProtocolError = 1, InternalError = 2 };

/// A decoded header. `type` is kept raw so that an unknown value can be reported, not guessed.
struct Header {
  /// Protocol version byte; kVersion (0) is the only one defined, anything else is a protocol
  /// error.
  std::uint8_t version = kVersion;
  /// A FrameType value as received; values above 3 are unknown and refused by the session.
  std::uint8_t type = 0;
  /// A combination of flag::kSyn, kAck, kFin and kRst.
  std::uint16_t flags = 0;
  /// The stream the frame belongs to; 0 for session-level frames (Ping, GoAway).
  std::uint32_t stream_id = 0;
  /// Meaning depends on the type: Data: payload bytes that follow the header; WindowUpdate: window
  /// increment in bytes; Ping: opaque value echoed by the reply; GoAway: a GoAwayCode.
  std::uint32_t length = 0;

  /// Field-by-field equality.
  friend bool operator==(const Header&, const Header&) = default;
};

/// A version-0 header with the given fields.
inline Header make_header(FrameType type, std::uint16_t flags, std::uint32_t stream_id,
                          std::uint32_t length) noexcept {
  return Header{kVersion, static_cast<std::uint8_t>(type), flags, stream_id, length};
}

/// Writes `h` to `out[0..kHeaderSize)` in wire order.
inline void encode_header(const Header& h, base::Byte* out) noexcept {
  out[0] = h.version;
  out[1] = h.type;
  base::store_be16(out + 2, h.flags);
  base::store_be32(out + 4, h.stream_id);
  base::store_be32(out + 8, h.length);
}

/// Reads a header from `in[0..kHeaderSize)`; the fields are not checked (the session does that).
inline Header decode_header(const base::Byte* in) noexcept {
  return Header{in[0], in[1], base::load_be16(in + 2), base::load_be32(in + 4),
                base::load_be32(in + 8)};
}

}  // namespace portal::yamux
