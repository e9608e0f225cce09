// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>

#include "portal/base/byte_buffer.hpp"
#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::base {

/// Size of the big-endian uint32 length prefix of Portal v1 messages ("LP(x)", portal-v1 §1.3).
inline constexpr std::size_t kLengthPrefixSize = 4;

/// Appends LP(body) to `out`: the 4-byte big-endian length, then the body.
PORTAL_API void append_length_prefixed(Bytes& out, ByteSpan body);

/// Reassembles one LP(body) message from a byte stream that arrives in arbitrary pieces.
///
/// - feed() consumes bytes only until the current message is complete, and returns how many it
///   took; the caller keeps the rest (it belongs to the next message or another layer).
/// - The length is checked against [min_body, max_body] as soon as its 4 bytes are in, before any
///   storage for the body is allocated. A violation is Errc::LengthTooLarge / LengthTooSmall,
///   and the reader stays failed.
/// - body() is valid (and writable, for in-place decryption) once complete(); next() discards
///   it and frees the storage, so an idle reader holds no memory.
///
/// Not thread-safe.
class PORTAL_API LengthPrefixedReader {
 public:
  /// Accepts bodies of `min_body` to `max_body` bytes (inclusive); longer or shorter announced
  /// lengths fail feed(). No memory is allocated until a body starts to arrive.
  LengthPrefixedReader(std::size_t max_body, std::size_t min_body = 0) noexcept
      : max_body_(max_body), min_body_(min_body), buffer_(max_body) {}

  /// Consumes bytes of `in` up to the end of the current message. Returns the count consumed.
  /// Errors: Errc::LengthTooLarge, Errc::LengthTooSmall (also for every later call).
  [[nodiscard]] Result<std::size_t> feed(ByteSpan in);

  /// True when a whole message is buffered.
  [[nodiscard]] bool complete() const noexcept { return have_length_ && buffer_.size() == length_; }
  /// True when part of a message (or its length) has arrived but not all of it.
  [[nodiscard]] bool partial() const noexcept {
    return (header_used_ > 0 || have_length_) && !complete();
  }
  /// The announced body length (valid once its 4 bytes have arrived).
  [[nodiscard]] std::uint32_t length() const noexcept { return length_; }

  /// The complete body. Only while complete().
  [[nodiscard]] MutableByteSpan body() noexcept;
  /// The complete body, read-only. Only while complete().
  [[nodiscard]] ByteSpan body() const noexcept { return buffer_.readable(); }

  /// Discards the current message and prepares for the next one.
  void next() noexcept;

 private:
  std::size_t max_body_;
  std::size_t min_body_;
  Byte header_[kLengthPrefixSize] = {};
  std::size_t header_used_ = 0;
  bool have_length_ = false;
  std::uint32_t length_ = 0;
  ErrorCode failed_;
  ByteBuffer buffer_;
};

}  // namespace portal::base
