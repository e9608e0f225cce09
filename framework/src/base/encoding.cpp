// SPDX-License-Identifier: Apache-2.0
#include "portal/base/encoding.hpp"

#include <array>
#include <cstdint>

namespace portal::base {
namespace {

constexpr std::string_view kHexDigits = "0123456789abcdef";
constexpr std::string_view kBase32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr int kInvalid = -1;

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return kInvalid;
}

// Reverse lookup tables built once at compile time.
template <std::size_t N>
constexpr std::array<int, 256> reverse_table(std::string_view alphabet) {
  std::array<int, 256> t{};
  for (auto& v : t) v = kInvalid;
  for (std::size_t i = 0; i < N; ++i)
    t[static_cast<unsigned char>(alphabet[i])] = static_cast<int>(i);
  return t;
}
constexpr auto kBase32Reverse = reverse_table<32>(kBase32Alphabet);
constexpr auto kBase64Reverse = reverse_table<64>(kBase64Alphabet);

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::string hex_encode(ByteSpan b) {
  std::string out;
  out.reserve(b.size() * 2);
  for (Byte v : b) {
    out.push_back(kHexDigits[v >> 4]);
    out.push_back(kHexDigits[v & 0x0f]);
  }
  return out;
}

Result<Bytes> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return Errc::InvalidHex;
  Bytes out(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_value(text[2 * i]);
    const int lo = hex_value(text[2 * i + 1]);
    if (hi == kInvalid || lo == kInvalid) return Errc::InvalidHex;
    out[i] = static_cast<Byte>((hi << 4) | lo);
  }
  return out;
}

std::string base32_encode(ByteSpan b) {
  std::string out;
  out.reserve((b.size() * 8 + 4) / 5);
  std::uint32_t acc = 0;
  int bits = 0;
  for (Byte v : b) {
    acc = (acc << 8) | v;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kBase32Alphabet[(acc >> bits) & 0x1f]);
    }
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(acc << (5 - bits)) & 0x1f]);
  return out;
}

Result<Bytes> base32_decode(std::string_view text) {
  // Unpadded base32 lengths mod 8 can be 0, 2, 4, 5 or 7; 1, 3 and 6 cannot come from bytes.
  const std::size_t rem = text.size() % 8;
  if (rem == 1 || rem == 3 || rem == 6) return Errc::InvalidBase32;
  Bytes out;
  out.reserve(text.size() * 5 / 8);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = kBase32Reverse[static_cast<unsigned char>(c)];
    if (v == kInvalid) return Errc::InvalidBase32;
    acc = (acc << 5) | static_cast<std::uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<Byte>(acc >> bits));
    }
  }
  // The leftover bits are padding and must be zero, so each byte string has one encoding.
  if ((acc & ((1u << bits) - 1)) != 0) return Errc::InvalidBase32;
  return out;
}

std::string base64_encode(ByteSpan b, std::size_t line_length) {
  std::string out;
  const std::size_t chars = (b.size() + 2) / 3 * 4;
  out.reserve(chars + (line_length ? chars / line_length + 1 : 0));
  std::size_t column = 0;
  auto put = [&](char c) {
    out.push_back(c);
    if (line_length != 0 && ++column == line_length) {
      out.push_back('\n');
      column = 0;
    }
  };
  std::size_t i = 0;
  for (; i + 3 <= b.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{b[i]} << 16) | (std::uint32_t{b[i + 1]} << 8) | b[i + 2];
    put(kBase64Alphabet[(v >> 18) & 0x3f]);
    put(kBase64Alphabet[(v >> 12) & 0x3f]);
    put(kBase64Alphabet[(v >> 6) & 0x3f]);
    put(kBase64Alphabet[v & 0x3f]);
  }
  if (const std::size_t left = b.size() - i; left > 0) {
    std::uint32_t v = std::uint32_t{b[i]} << 16;
    if (left == 2) v |= std::uint32_t{b[i + 1]} << 8;
    put(kBase64Alphabet[(v >> 18) & 0x3f]);
    put(kBase64Alphabet[(v >> 12) & 0x3f]);
    put(left == 2 ? kBase64Alphabet[(v >> 6) & 0x3f] : '=');
    put('=');
  }
  if (line_length != 0 && column != 0) out.push_back('\n');
  return out;
}

Result<Bytes> base64_decode(std::string_view text) {
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t acc = 0;
  int quad = 0;     // characters in the current group of four
  int padding = 0;  // '=' seen
  for (char c : text) {
    if (is_space(c)) continue;
    int v = 0;
    if (c == '=') {
      // Padding only in the last two places of a group.
      if (quad < 2 || ++padding > 2) return Errc::InvalidBase64;
    } else {
      if (padding != 0) return Errc::InvalidBase64;  // data after padding
      v = kBase64Reverse[static_cast<unsigned char>(c)];
      if (v == kInvalid) return Errc::InvalidBase64;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    if (++quad == 4) {
      out.push_back(static_cast<Byte>(acc >> 16));
      out.push_back(static_cast<Byte>(acc >> 8));
      out.push_back(static_cast<Byte>(acc));
      acc = 0;
      quad = 0;
    }
  }
  if (quad != 0) return Errc::InvalidBase64;  // incomplete final group
  if (padding > 0) {
    // The padded group was flushed as three bytes; keep only the real ones. The bits the
    // padding stands in for must be zero for a canonical encoding.
    const std::uint32_t tail = (std::uint32_t{out[out.size() - 3]} << 16) |
                               (std::uint32_t{out[out.size() - 2]} << 8) | out[out.size() - 1];
    const std::uint32_t mask = padding == 1 ? 0xffu : 0xffffu;
    if ((tail & mask) != 0) return Errc::InvalidBase64;
    out.resize(out.size() - static_cast<std::size_t>(padding));
  }
  return out;
}

}  // namespace portal::base
