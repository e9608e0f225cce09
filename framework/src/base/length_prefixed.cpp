// SPDX-License-Identifier: Apache-2.0
#include "portal/base/length_prefixed.hpp"

#include <algorithm>
#include <cstring>

namespace portal::base {

void append_length_prefixed(Bytes& out, ByteSpan body) {
  const std::size_t at = out.size();
  out.resize(at + kLengthPrefixSize);
  store_be32(out.data() + at, static_cast<std::uint32_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
}

Result<std::size_t> LengthPrefixedReader::feed(ByteSpan in) {
  if (failed_) return failed_;
  std::size_t used = 0;
  if (!have_length_) {
    const std::size_t n = std::min(kLengthPrefixSize - header_used_, in.size());
    std::memcpy(header_ + header_used_, in.data(), n);
    header_used_ += n;
    used += n;
    if (header_used_ < kLengthPrefixSize) return used;
    length_ = load_be32(header_);
    have_length_ = true;
    // Checked before any allocation. Storage then grows with the bytes that actually arrive:
    // a peer that announces 64 MiB and sends nothing costs at most kInitialReserve.
    if (length_ > max_body_) return failed_ = Errc::LengthTooLarge;
    if (length_ < min_body_) return failed_ = Errc::LengthTooSmall;
    constexpr std::size_t kInitialReserve = 64 * 1024;
    if (auto r = buffer_.reserve(std::min<std::size_t>(length_, kInitialReserve)); !r) {
      return failed_ = r.error();
    }
  }
  const std::size_t want = length_ - buffer_.size();
  const std::size_t n = std::min(want, in.size() - used);
  if (n > 0) {
    if (auto r = buffer_.append(in.subspan(used, n)); !r) return failed_ = r.error();
    used += n;
  }
  return used;
}

MutableByteSpan LengthPrefixedReader::body() noexcept { return buffer_.mutable_readable(); }

void LengthPrefixedReader::next() noexcept {
  buffer_.clear();
  buffer_.release_if_empty();
  header_used_ = 0;
  have_length_ = false;
  length_ = 0;
}

}  // namespace portal::base
