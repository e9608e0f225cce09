// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <memory>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::base {

/// A contiguous FIFO byte buffer with a hard size limit, for protocol cores that accumulate peer
/// bytes until a whole frame is present.
///
/// - Bytes are appended at the back and consumed from the front.
/// - Storage is allocated only when bytes arrive and released by release_if_empty(), so an idle
///   connection holds no buffer memory.
/// - The limit is checked before any allocation: growth past it fails with
///   Errc::BufferLimitExceeded and leaves the buffer unchanged.
///
/// Not thread-safe; one owner at a time. Spans returned by readable() and prepare() stay valid
/// until the next non-const call.
class PORTAL_API ByteBuffer {
 public:
  /// `limit` is the most bytes the buffer may hold at once.
  explicit ByteBuffer(std::size_t limit) noexcept : limit_(limit) {}
  /// Takes over the other buffer's storage, bytes and limit. The moved-from buffer may only be
  /// destroyed or assigned to.
  ByteBuffer(ByteBuffer&&) noexcept = default;
  /// Frees this buffer's storage, then takes over the other's storage, bytes and limit. The
  /// moved-from buffer may only be destroyed or assigned to.
  ByteBuffer& operator=(ByteBuffer&&) noexcept = default;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ~ByteBuffer() = default;

  /// Bytes available to read.
  [[nodiscard]] std::size_t size() const noexcept { return end_ - begin_; }
  /// True when no byte is available to read (size() == 0); storage may still be allocated.
  [[nodiscard]] bool empty() const noexcept { return begin_ == end_; }
  /// The most bytes the buffer may hold at once, as given to the constructor.
  [[nodiscard]] std::size_t limit() const noexcept { return limit_; }
  /// Bytes of storage currently allocated.
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  /// The readable bytes, oldest first.
  [[nodiscard]] ByteSpan readable() const noexcept { return {data_.get() + begin_, size()}; }

  /// The readable bytes, writable in place (for in-place decryption).
  [[nodiscard]] MutableByteSpan mutable_readable() noexcept {
    return {data_.get() + begin_, size()};
  }

  /// Makes room for `n` more bytes without further allocation (exactly `n` when the buffer is
  /// unallocated). Errors: Errc::BufferLimitExceeded.
  [[nodiscard]] Result<void> reserve(std::size_t n) { return reserve_back(n); }

  /// Copies `bytes` to the back. Errors: Errc::BufferLimitExceeded (nothing is copied).
  [[nodiscard]] Result<void> append(ByteSpan bytes);

  /// Returns `n` writable bytes at the back; make them readable with commit(). Errors:
  /// Errc::BufferLimitExceeded when size() + n exceeds the limit.
  [[nodiscard]] Result<MutableByteSpan> prepare(std::size_t n);
  /// Makes `n` bytes of the last prepare() readable. `n` must not exceed what was prepared.
  void commit(std::size_t n) noexcept;

  /// Drops `n` bytes from the front (at most size()).
  void consume(std::size_t n) noexcept;
  /// Drops every byte; keeps the storage.
  void clear() noexcept { begin_ = end_ = 0; }
  /// Frees the storage when no bytes are held. Returns true if the buffer is now unallocated.
  bool release_if_empty() noexcept;

 private:
  [[nodiscard]] Result<void> reserve_back(std::size_t n);

  std::unique_ptr<Byte[]> data_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::size_t prepared_ = 0;
  std::size_t limit_;
};

}  // namespace portal::base
