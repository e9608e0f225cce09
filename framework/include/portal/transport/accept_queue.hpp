// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <deque>
#include <memory>

#include "portal/base/result.hpp"
#include "portal/stream/async_signal.hpp"
#include "portal/stream/byte_stream.hpp"
#include "portal/transport/transport.hpp"

namespace portal::transport {

/// The streams a listener's own accept loop has made ready (after an upgrade, a PROXY header)
/// and Listener::async_accept() has not taken yet. Bounded: past `capacity`, or once closed, a
/// pushed stream is closed instead of kept. Use from the listener's executor; whoever awaits
/// next() keeps the queue alive until it returns.
class AcceptQueue {
 public:
  /// An open, empty queue on `executor` (the listener's, single-threaded) that holds at most
  /// `capacity` streams not yet taken.
  AcceptQueue(const boost::asio::any_io_executor& executor, std::size_t capacity)
      : ready_(executor), capacity_(capacity) {}

  /// Hands a ready stream to the next next(). When the queue is closed or holds `capacity` streams
  /// already, `s` is closed and dropped instead (the client sees its connection end).
  void push(std::unique_ptr<stream::ByteStream> s) {
    if (closed_ || pending_.size() >= capacity_) {
      s->close();
      return;
    }
    pending_.push_back(std::move(s));
    ready_.notify();
  }

  /// The next stream, in order. Errors: Errc::Closed once close() was called.
  boost::asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>> next() {
    for (;;) {
      if (!pending_.empty()) {
        auto s = std::move(pending_.front());
        pending_.pop_front();
        co_return s;
      }
      if (closed_) co_return make_error_code(Errc::Closed);
      co_await ready_.wait();
    }
  }

  /// Closes what waits and ends every next(), now and later.
  void close() noexcept {
    closed_ = true;
    pending_.clear();
    ready_.notify();
  }
  /// True once close() was called: push() drops everything and next() fails.
  [[nodiscard]] bool closed() const noexcept { return closed_; }

  /// Closes the queue when it goes out of scope. An accept loop holds one, so that however the
  /// loop ends (the acceptor closed, or an exception), async_accept() ends too.
  class CloseOnExit {
   public:
    /// Closes `queue`, which must outlive this guard, when the guard is destroyed.
    explicit CloseOnExit(AcceptQueue& queue) noexcept : queue_(queue) {}
    ~CloseOnExit() { queue_.close(); }
    CloseOnExit(const CloseOnExit&) = delete;
    CloseOnExit& operator=(const CloseOnExit&) = delete;

   private:
    AcceptQueue& queue_;
  };

 private:
  std::deque<std::unique_ptr<stream::ByteStream>> pending_;
  stream::AsyncSignal ready_;
  std::size_t capacity_;
  bool closed_ = false;
};

}  // namespace portal::transport
