// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>

namespace portal::stream {

/// Bounds one wait: calls `on_expiry` (which closes whatever the wait is on, so the wait ends
/// with an error) when `timeout` passes before the guard goes away. A zero timeout never
/// expires. expired() tells a timeout from the wait's other errors. Use on `executor`, which
/// must be single-threaded.
class Deadline {
 public:
  /// Arms the timer on `executor`: `on_expiry` runs there once, `timeout` from now, unless this
  /// guard is destroyed first. A timeout of zero or less arms nothing.
  Deadline(const boost::asio::any_io_executor& executor, std::chrono::milliseconds timeout,
           std::function<void()> on_expiry) {
    if (timeout.count() <= 0) return;
    state_ = std::make_shared<State>(executor);
    state_->on_expiry = std::move(on_expiry);
    state_->timer.expires_after(timeout);
    state_->timer.async_wait([st = state_](const boost::system::error_code& ec) {
      // The guard may be gone while this handler was already queued: it clears the callback.
      if (ec || !st->on_expiry) return;
      st->expired = true;
      st->on_expiry();
    });
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  ~Deadline() {
    if (state_) {
      state_->on_expiry = nullptr;
      state_->timer.cancel();
    }
  }

  /// True once `on_expiry` has run: the wait's error is then a timeout, not the stream's own.
  [[nodiscard]] bool expired() const noexcept { return state_ && state_->expired; }

 private:
  struct State {
    explicit State(const boost::asio::any_io_executor& ex) : timer(ex) {}
    boost::asio::steady_timer timer;
    std::function<void()> on_expiry;
    bool expired = false;
  };
  std::shared_ptr<State> state_;
};

}  // namespace portal::stream
