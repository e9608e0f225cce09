// SPDX-License-Identifier: Apache-2.0
#include "portal/base/random.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace portal::base {

RandomSource::~RandomSource() = default;

Result<void> OsRandom::fill(MutableByteSpan out) noexcept {
  // getentropy(3) returns at most 256 bytes per call; it exists in glibc and in emscripten.
  constexpr std::size_t kChunk = 256;
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t n = std::min(kChunk, out.size() - done);
    if (::getentropy(out.data() + done, n) != 0) {
      if (errno == EINTR) continue;
      return Errc::RandomSourceFailed;
    }
    done += n;
  }
  return {};
}

OsRandom& OsRandom::instance() noexcept {
  static OsRandom random;
  return random;
}

Result<void> ReplayRandom::fill(MutableByteSpan out) noexcept {
  std::lock_guard lock(mutex_);
  if (bytes_.size() - offset_ < out.size()) return Errc::RandomSourceExhausted;
  if (!out.empty()) std::memcpy(out.data(), bytes_.data() + offset_, out.size());
  offset_ += out.size();
  return {};
}

std::size_t ReplayRandom::remaining() const noexcept {
  std::lock_guard lock(mutex_);
  return bytes_.size() - offset_;
}

}  // namespace portal::base
