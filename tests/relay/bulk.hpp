// SPDX-License-Identifier: Apache-2.0
#pragma once

// Bulk data with checksums through a relayed stream: each side writes a pattern it can check at
// the other end and hashes what it sends and receives (the relay tests, with one or more relay
// threads).

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "portal/base/bytes.hpp"
#include "portal/crypto/sha256.hpp"
#include "portal/stream/byte_stream.hpp"

namespace portal::test {

namespace asio = boost::asio;

// --- bulk data with checksums ----------------------------------------------------------------

inline constexpr std::size_t kChunk = 64 * 1024;

inline void fill_chunk(base::Bytes& b, std::uint64_t seed, std::uint64_t index) {
  std::uint64_t x = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (index + 1) * 0xBF58476D1CE4E5B9ull;
  for (std::size_t i = 0; i < b.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    for (std::size_t k = 0; k < 8 && i + k < b.size(); ++k) {
      b[i + k] = static_cast<base::Byte>(x >> (8 * k));
    }
  }
}

struct Transfer {
  crypto::Sha256Digest sent{};
  crypto::Sha256Digest received{};
  std::uint64_t received_bytes = 0;
  bool write_ok = false;
  bool read_done = false;
  std::string read_error;  ///< why reading ended, when not at end-of-stream
  std::uint64_t peer_seed = 0;
  std::int64_t first_mismatch = -1;  ///< offset of the first byte unlike the peer's pattern
};

// Writes `total` pattern bytes then half-closes, while reading everything the peer sends.
inline asio::awaitable<void> exchange(std::shared_ptr<stream::ByteStream> s, std::uint64_t seed,
                                      std::size_t total, std::shared_ptr<Transfer> t) {
  auto ex = co_await asio::this_coro::executor;
  asio::co_spawn(
      ex,
      [](std::shared_ptr<stream::ByteStream> in,
         std::shared_ptr<Transfer> out) -> asio::awaitable<void> {
        crypto::Sha256 h;
        base::Bytes buf(kChunk);
        base::Bytes expect(kChunk);
        for (;;) {
          auto n = co_await in->async_read_some(buf);
          if (!n) out->read_error = n.error().message();
          if (!n || *n == 0) break;
          for (std::size_t k = 0; k < *n && out->first_mismatch < 0; ++k) {
            const std::uint64_t off = out->received_bytes + k;
            if (off % kChunk == 0 || k == 0) fill_chunk(expect, out->peer_seed, off / kChunk);
            if (buf[k] != expect[off % kChunk]) {
              out->first_mismatch = static_cast<std::int64_t>(off);
            }
          }
          h.update(base::ByteSpan(buf.data(), *n));
          out->received_bytes += *n;
        }
        out->received = h.finish();
        out->read_done = true;
      }(s, t),
      asio::detached);
  crypto::Sha256 h;
  base::Bytes chunk(kChunk);
  std::size_t sent = 0;
  for (std::uint64_t i = 0; sent < total; ++i) {
    chunk.resize(std::min(kChunk, total - sent));
    fill_chunk(chunk, seed, i);
    h.update(chunk);
    if (!co_await s->async_write(chunk)) co_return;
    sent += chunk.size();
  }
  t->sent = h.finish();
  t->write_ok = static_cast<bool>(co_await s->async_shutdown_write());
}

// Both ends of one exchange() of `total` bytes each way: every byte arrived, in order and
// unchanged, and both ends wrote and half-closed.
inline void expect_exchanged(const Transfer& a, const Transfer& b, std::uint64_t total) {
  EXPECT_TRUE(a.write_ok && b.write_ok);
  EXPECT_EQ(a.first_mismatch, -1);
  EXPECT_EQ(b.first_mismatch, -1);
  EXPECT_EQ(a.read_error, "");
  EXPECT_EQ(b.read_error, "");
  EXPECT_EQ(a.received_bytes, total);
  EXPECT_EQ(b.received_bytes, total);
  EXPECT_EQ(a.received, b.sent);
  EXPECT_EQ(b.received, a.sent);
}

}  // namespace portal::test
