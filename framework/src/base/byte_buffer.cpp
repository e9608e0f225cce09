// SPDX-License-Identifier: Apache-2.0
#include "portal/base/byte_buffer.hpp"

#include <algorithm>
#include <cstring>
#include <new>

namespace portal::base {

Result<void> ByteBuffer::reserve_back(std::size_t n) {
  const std::size_t used = size();
  if (n > limit_ || used > limit_ - n) return Errc::BufferLimitExceeded;
  if (capacity_ - end_ >= n) return {};
  if (capacity_ - used >= n) {
    // Enough room once the consumed front is reclaimed.
    std::memmove(data_.get(), data_.get() + begin_, used);
    begin_ = 0;
    end_ = used;
    return {};
  }
  // Grow geometrically, but never past the limit.
  std::size_t want = std::max<std::size_t>(capacity_ * 2, used + n);
  if (capacity_ == 0) want = std::max<std::size_t>(used + n, 64);  // first allocation: exact
  want = std::min(want, limit_);
  std::unique_ptr<Byte[]> grown(new (std::nothrow) Byte[want]);
  if (!grown) return Errc::BufferLimitExceeded;
  if (used != 0) std::memcpy(grown.get(), data_.get() + begin_, used);
  data_ = std::move(grown);
  capacity_ = want;
  begin_ = 0;
  end_ = used;
  return {};
}

Result<void> ByteBuffer::append(ByteSpan bytes) {
  if (bytes.empty()) return {};
  if (auto r = reserve_back(bytes.size()); !r) return r;
  std::memcpy(data_.get() + end_, bytes.data(), bytes.size());
  end_ += bytes.size();
  return {};
}

Result<MutableByteSpan> ByteBuffer::prepare(std::size_t n) {
  if (auto r = reserve_back(n); !r) return r.error();
  prepared_ = n;
  return MutableByteSpan{data_.get() + end_, n};
}

void ByteBuffer::commit(std::size_t n) noexcept {
  n = std::min(n, prepared_);
  end_ += n;
  prepared_ = 0;
}

void ByteBuffer::consume(std::size_t n) noexcept {
  n = std::min(n, size());
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;
}

bool ByteBuffer::release_if_empty() noexcept {
  if (!empty()) return false;
  data_.reset();
  capacity_ = begin_ = end_ = prepared_ = 0;
  return true;
}

}  // namespace portal::base
