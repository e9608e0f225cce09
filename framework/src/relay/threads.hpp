// SPDX-License-Identifier: Apache-2.0
#pragma once

// The relay's threads (ADR 0013): the worker event loops it owns, and the few tools that let the
// control executor use objects living on a worker (and back) without sharing them: every
// operation on such an object runs on its owner, and its last reference is dropped there.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "portal/base/bytes.hpp"
#include "portal/stream/byte_stream.hpp"

namespace portal::relay::detail {

/// Event loops, one thread each, that the relay owns. Kept alive (shared) by everything that may
/// still post to them, so a late post never reaches a destroyed io_context; the threads are
/// joined by stop(), which the Relay calls before it lets go of its state.
class Workers {
 public:
  explicit Workers(std::size_t count);
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;
  ~Workers();

  /// The executors, one per thread.
  [[nodiscard]] const std::vector<boost::asio::any_io_executor>& executors() const noexcept {
    return executors_;
  }
  /// Lets each loop run out of work for up to `grace`, then stops the rest and joins every
  /// thread. Idempotent; never call it from one of the workers.
  void stop(std::chrono::milliseconds grace) noexcept;

 private:
  struct Worker {
    boost::asio::io_context io{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{
        io.get_executor()};
    std::atomic<bool> done{false};
    std::thread thread;
  };
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<boost::asio::any_io_executor> executors_;
  bool stopped_ = false;
};

/// `p` as a shared_ptr whose last reference, wherever it is dropped, destroys the object on
/// `owner` (posted there). `keep` (may be null) is held until the post is made: the worker pool,
/// so the post always has a live io_context to go to. The posted handler holds only the object
/// (never the pool, which would keep itself alive through its own queue).
template <class T>
std::shared_ptr<T> owned_by(boost::asio::any_io_executor owner, std::shared_ptr<T> p,
                            std::shared_ptr<const void> keep) {
  T* raw = p.get();
  return std::shared_ptr<T>(
      raw, [owner = std::move(owner), p = std::move(p), keep = std::move(keep)](T*) mutable {
        // Destroyed when the handler runs, or with an io_context that never ran it (after its
        // thread is gone: the objects it destroys are that io_context's own).
        boost::asio::post(owner, [p = std::move(p)]() mutable { p.reset(); });
      });
}

/// Runs `f()` (an awaitable) on `ex` and resumes the caller on its own executor with the result.
/// `f` is taken by reference and must be a local of the caller (alive until this completes), not
/// a temporary: GCC 12 neither moves a by-value closure parameter of a coroutine properly (a
/// captured unique_ptr was destroyed twice) nor keeps a temporary of a co_await expression alive
/// across the suspension.
template <class T, class F>
boost::asio::awaitable<T> run_on(boost::asio::any_io_executor ex, F&& f) {
  std::optional<T> out;
  co_await boost::asio::co_spawn(
      std::move(ex), [&out, &f]() -> boost::asio::awaitable<void> { out.emplace(co_await f()); },
      boost::asio::use_awaitable);
  co_return std::move(*out);
}

/// A stream that lives on another executor (its owner), used from this one: each operation runs
/// on the owner and completes here; close() is dispatched to the owner. The stream is shared
/// (the same object may be driven here and then spliced elsewhere): hand it in through
/// owned_by(), so that its destruction happens on the owner too.
class RemoteStream final : public stream::ByteStream {
 public:
  /// `copy_writes`: a write's bytes are copied before they go to the owner (the caller's buffer
  /// may change while the write waits there, as the relay core's output may).
  RemoteStream(std::shared_ptr<stream::ByteStream> inner, boost::asio::any_io_executor owner,
               bool copy_writes);

  /// The owner's executor.
  boost::asio::any_io_executor get_executor() override { return owner_; }
  boost::asio::awaitable<base::Result<std::size_t>> async_read_some(
      base::MutableByteSpan buffer) override;
  boost::asio::awaitable<base::Result<void>> async_write(base::ByteSpan data) override;
  boost::asio::awaitable<base::Result<void>> async_shutdown_write() override;
  stream::PeerInfo peer_info() const override { return peer_; }
  void close() noexcept override;

  /// The stream itself (use only on its owner).
  [[nodiscard]] const std::shared_ptr<stream::ByteStream>& inner() const noexcept { return inner_; }

 private:
  std::shared_ptr<stream::ByteStream> inner_;
  boost::asio::any_io_executor owner_;
  bool copy_writes_;
  stream::PeerInfo peer_;
};

/// Counts reported from a worker to the control executor at most one post at a time: activity
/// piles up here while a report is on its way, and the report takes all of it when it runs.
struct Tally {
  std::atomic<std::uint64_t> pending[2] = {0, 0};
  std::atomic<bool> posted{false};

  /// Adds `n` to counter `which`; true when the caller must post a report (none is on its way).
  bool add(int which, std::uint64_t n) noexcept {
    pending[which].fetch_add(n);
    return !posted.exchange(true);
  }
  /// In the report: allows the next one, then takes what piled up.
  std::uint64_t take(int which) noexcept { return pending[which].exchange(0); }
  void reported() noexcept { posted.store(false); }
};

}  // namespace portal::relay::detail
