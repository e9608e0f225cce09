// SPDX-License-Identifier: Apache-2.0
#include "portal/stream/splice.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <vector>

namespace portal::stream {
namespace {

namespace asio = boost::asio;

// One direction; returns true when it ended with end-of-stream passed on.
asio::awaitable<bool> pump(std::shared_ptr<ByteStream> from, std::shared_ptr<ByteStream> to,
                           std::size_t chunk, std::uint64_t& moved) {
  std::vector<base::Byte> buffer(chunk);
  for (;;) {
    auto n = co_await from->async_read_some(buffer);
    if (!n) break;
    if (*n == 0) {
      if (co_await to->async_shutdown_write()) co_return true;
      break;
    }
    if (!co_await to->async_write(base::ByteSpan(buffer.data(), *n))) break;
    moved += *n;
  }
  from->close();
  to->close();
  co_return false;
}

}  // namespace

asio::awaitable<SpliceStats> splice(std::shared_ptr<ByteStream> a, std::shared_ptr<ByteStream> b,
                                    std::size_t chunk) {
  using namespace asio::experimental::awaitable_operators;
  SpliceStats stats;
  const auto [ab, ba] =
      co_await (pump(a, b, chunk, stats.a_to_b) && pump(b, a, chunk, stats.b_to_a));
  stats.clean = ab && ba;
  co_return stats;
}

}  // namespace portal::stream
