// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "portal/base/export.hpp"

namespace portal::base {

/// One octet: the element type of every byte buffer and span in the API.
using Byte = std::uint8_t;
/// An owned, growable byte sequence.
using Bytes = std::vector<Byte>;
/// A borrowed read-only view; the caller keeps the bytes alive while the span is used.
using ByteSpan = std::span<const Byte>;
/// A borrowed writable view; the caller keeps the bytes alive while the span is used.
using MutableByteSpan = std::span<Byte>;

/// Views the characters of `s` as bytes (no copy).
inline ByteSpan as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const Byte*>(s.data()), s.size()};
}

/// Views bytes as characters (no copy).
inline std::string_view as_chars(ByteSpan b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// Copies a span into an owned vector.
inline Bytes to_bytes(ByteSpan b) { return Bytes(b.begin(), b.end()); }

/// Drops the first `n` bytes of `b` (all of them if `n` is larger).
inline void erase_front(Bytes& b, std::size_t n) noexcept {
  b.erase(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n < b.size() ? n : b.size()));
}

/// Compares two spans in time that depends only on their lengths, never on their contents.
/// Spans of different length compare unequal.
PORTAL_API bool constant_time_equal(ByteSpan a, ByteSpan b) noexcept;

// Big-endian (network order) loads and stores. The span must hold at least the width; callers
// check lengths first, as every protocol core does before reading a header.
/// The big-endian 16-bit value in `p[0..2)`.
inline std::uint16_t load_be16(const Byte* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
/// The big-endian 32-bit value in `p[0..4)`.
inline std::uint32_t load_be32(const Byte* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
/// The big-endian 64-bit value in `p[0..8)`.
inline std::uint64_t load_be64(const Byte* p) noexcept {
  return (std::uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}
/// Writes `v` big-endian to `p[0..2)`.
inline void store_be16(Byte* p, std::uint16_t v) noexcept {
  p[0] = static_cast<Byte>(v >> 8);
  p[1] = static_cast<Byte>(v);
}
/// Writes `v` big-endian to `p[0..4)`.
inline void store_be32(Byte* p, std::uint32_t v) noexcept {
  p[0] = static_cast<Byte>(v >> 24);
  p[1] = static_cast<Byte>(v >> 16);
  p[2] = static_cast<Byte>(v >> 8);
  p[3] = static_cast<Byte>(v);
}
/// Writes `v` big-endian to `p[0..8)`.
inline void store_be64(Byte* p, std::uint64_t v) noexcept {
  store_be32(p, static_cast<std::uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<std::uint32_t>(v));
}

}  // namespace portal::base
