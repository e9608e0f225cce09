// SPDX-License-Identifier: Apache-2.0
#pragma once

// The driver's side of the bandwidth limits (ADR 0017 §4): a splice's copy loop waits here,
// before each write, until its chunk may go through its lease's bucket and then the relay's.
// It runs on the executor of the copy loop (a worker's with Options::threads > 1); the buckets
// are thread-safe (portal/relay/rate.hpp), everything else here is the caller's.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>

#include "portal/relay/core.hpp"
#include "portal/relay/rate.hpp"

namespace portal::relay::detail {

/// A waiting copy loop looks at its bucket again at least this often: a new limit
/// (Core::set_lease_rate()) reaches it within this, and so does the relay's shutdown.
inline constexpr std::chrono::milliseconds kRatePoll{100};

/// Waits until `n` bytes may go through `bucket` (null: at once). Gives up early when `stop` is
/// set (the relay is closing; the write that follows then fails on its closed stream) or `cut`
/// (the splice ended with an error: stream::SpliceOptions::pace).
inline boost::asio::awaitable<void> pace_one(std::shared_ptr<RateBucket> bucket, std::size_t n,
                                             std::shared_ptr<const std::atomic<bool>> stop,
                                             const std::atomic<bool>& cut) {
  if (!bucket) co_return;
  const auto start = std::chrono::steady_clock::now();
  const auto ticket = bucket->reserve(n, start);
  auto wait = bucket->wait(ticket, start);
  if (wait.count() == 0) co_return;
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  auto now = start;
  while (wait.count() > 0 && !stop->load() && !cut.load()) {
    timer.expires_after(std::min<std::chrono::nanoseconds>(wait, kRatePoll));
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    now = std::chrono::steady_clock::now();
    if (ec) break;
    wait = bucket->wait(ticket, now);
  }
  bucket->waited(now - start);
}

/// Waits until `n` bytes may go through `rate`: its lease's bucket first, then the relay's (so a
/// chunk a lease's limit holds back takes no share of the relay's).
inline boost::asio::awaitable<void> pace(Core::SpliceRate rate, std::size_t n,
                                         std::shared_ptr<const std::atomic<bool>> stop,
                                         const std::atomic<bool>& cut) {
  co_await pace_one(rate.lease, n, stop, cut);
  if (cut.load()) co_return;
  co_await pace_one(rate.relay, n, stop, cut);
}

}  // namespace portal::relay::detail
