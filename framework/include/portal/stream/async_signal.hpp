// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace portal::stream {

/// A wake-up signal for coroutines on one single-threaded executor: wait() suspends until the
/// next notify(); notify() wakes every current waiter. Waiters re-check their condition after
/// waking (wake-ups may be spurious). Because the executor is single-threaded, a condition
/// checked just before wait() cannot change before the wait is registered, so no wake-up is lost.
class AsyncSignal {
 public:
  /// A signal whose waiters run on `executor` (single-threaded: one thread's io_context or a
  /// strand).
  explicit AsyncSignal(const boost::asio::any_io_executor& executor) : timer_(executor) {
    timer_.expires_at(boost::asio::steady_timer::time_point::max());
  }

  /// Suspends until the next notify() or until the signal is destroyed; never fails. Call from the
  /// signal's executor.
  boost::asio::awaitable<void> wait() {
    (void)co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }

  /// Wakes every coroutine waiting now; a later wait() waits for the next notify() (no wake-up is
  /// stored).
  void notify() noexcept { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
};

}  // namespace portal::stream
