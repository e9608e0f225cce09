// SPDX-License-Identifier: Apache-2.0
#include "relay/threads.hpp"

#include "portal/base/log.hpp"

namespace portal::relay::detail {

namespace asio = boost::asio;

Workers::Workers(std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    auto w = std::make_unique<Worker>();
    executors_.emplace_back(w->io.get_executor());
    workers_.push_back(std::move(w));
  }
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    auto* w = workers_[i].get();
    w->thread = std::thread([w, i] {
      for (;;) {
        try {
          w->io.run();
          break;
        } catch (const std::exception& e) {  // a handler threw: logged, the loop goes on
          base::log(base::LogLevel::Error, "relay",
                    "worker " + std::to_string(i + 1) + ": " + e.what());
        }
      }
      w->done = true;
    });
  }
}

Workers::~Workers() { stop(std::chrono::milliseconds(0)); }

void Workers::stop(std::chrono::milliseconds grace) noexcept {
  if (stopped_) return;
  stopped_ = true;
  for (auto& w : workers_) w->guard.reset();
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    bool all = true;
    for (auto& w : workers_) all = all && w->done;
    if (all || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (auto& w : workers_) w->io.stop();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

RemoteStream::RemoteStream(std::shared_ptr<stream::ByteStream> inner, asio::any_io_executor owner,
                           bool copy_writes)
    : inner_(std::move(inner)),
      owner_(std::move(owner)),
      copy_writes_(copy_writes),
      peer_(inner_->peer_info()) {}

asio::awaitable<base::Result<std::size_t>> RemoteStream::async_read_some(
    base::MutableByteSpan buffer) {
  // The buffer is the caller's, who waits here until the read is over.
  // Every function object given to run_on() is a local (see run_on()).
  auto read = [s = inner_, buffer]() { return s->async_read_some(buffer); };
  co_return co_await run_on<base::Result<std::size_t>>(owner_, read);
}

asio::awaitable<base::Result<void>> RemoteStream::async_write(base::ByteSpan data) {
  if (copy_writes_) {
    auto copy = std::make_shared<base::Bytes>(data.begin(), data.end());
    auto write = [s = inner_, copy]() { return s->async_write(*copy); };
    co_return co_await run_on<base::Result<void>>(owner_, write);
  }
  auto write = [s = inner_, data]() { return s->async_write(data); };
  co_return co_await run_on<base::Result<void>>(owner_, write);
}

asio::awaitable<base::Result<void>> RemoteStream::async_shutdown_write() {
  auto shut = [s = inner_]() { return s->async_shutdown_write(); };
  co_return co_await run_on<base::Result<void>>(owner_, shut);
}

void RemoteStream::close() noexcept {
  try {
    asio::dispatch(owner_, [s = inner_]() { s->close(); });
  } catch (...) {  // allocation failure: nothing to do but leave it to its owner's end
  }
}

}  // namespace portal::relay::detail
