// SPDX-License-Identifier: Apache-2.0
#include "portal/stream/splice.hpp"

#include <algorithm>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <memory>

namespace portal::stream {
namespace {

namespace asio = boost::asio;

constexpr std::size_t kSpliceStartChunk = 2 * 1024;

// One direction; returns true when it ended with end-of-stream passed on.
// `cut` (shared by both directions): set by the one that ends with an error.
asio::awaitable<bool> pump(std::shared_ptr<ByteStream> from, std::shared_ptr<ByteStream> to,
                           const base::Bytes& prefix, bool a_to_b, const SpliceOptions& o,
                           std::uint64_t& moved, std::atomic<bool>& cut) {
  const auto wrote = [&](std::size_t n) {
    moved += n;
    if (o.on_moved) o.on_moved(a_to_b, n);
  };
  if (o.pace && !prefix.empty()) co_await o.pace(a_to_b, prefix.size(), cut);
  bool ok = prefix.empty() || (!cut.load() && co_await to->async_write(prefix));
  if (ok && !prefix.empty()) wrote(prefix.size());
  // The buffer grows with use: an idle or chatty pair keeps 2 KiB per direction, a bulk one
  // doubles up to o.chunk when reads fill it, and goes back after a run of small reads.
  const std::size_t small = std::min<std::size_t>(kSpliceStartChunk, o.chunk);
  // Not zero-filled: reads overwrite it, and a bulk pair regrows it often.
  std::size_t size = small;
  auto storage = std::make_unique_for_overwrite<base::Byte[]>(size);
  int small_reads = 0;
  while (ok) {
    auto n = co_await from->async_read_some(base::MutableByteSpan(storage.get(), size));
    if (!n) break;
    if (*n == 0) {
      if (co_await to->async_shutdown_write()) co_return true;
      break;
    }
    if (o.pace) {
      co_await o.pace(a_to_b, *n, cut);
      if (cut.load()) break;  // the other direction failed while this one waited
    }
    if (!co_await to->async_write(base::ByteSpan(storage.get(), *n))) break;
    wrote(*n);
    if (*n == size && size < o.chunk) {
      size = std::min(size * 2, o.chunk);
      storage = std::make_unique_for_overwrite<base::Byte[]>(size);
      small_reads = 0;
    } else if (size > small) {
      small_reads = *n <= small ? small_reads + 1 : 0;
      if (small_reads >= 16) {
        size = small;
        storage = std::make_unique_for_overwrite<base::Byte[]>(size);
        small_reads = 0;
      }
    }
  }
  cut.store(true);
  from->close();
  to->close();
  co_return false;
}

}  // namespace

asio::awaitable<SpliceStats> splice(std::shared_ptr<ByteStream> a, std::shared_ptr<ByteStream> b,
                                    SpliceOptions options) {
  using namespace asio::experimental::awaitable_operators;
  SpliceStats stats;
  std::atomic<bool> cut{false};
  const auto [ab, ba] = co_await (pump(a, b, options.a_prefix, true, options, stats.a_to_b, cut) &&
                                  pump(b, a, options.b_prefix, false, options, stats.b_to_a, cut));
  stats.clean = ab && ba;
  co_return stats;
}

}  // namespace portal::stream
