// SPDX-License-Identifier: Apache-2.0
#include "portal/stream/memory_pipe.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include "portal/base/byte_buffer.hpp"
#include "portal/stream/async_signal.hpp"

namespace portal::stream {
namespace {

namespace asio = boost::asio;

// One direction of the pipe.
struct Direction {
  Direction(const asio::any_io_executor& ex, std::size_t capacity)
      : buffer(capacity), readable(ex), writable(ex) {}
  base::ByteBuffer buffer;
  bool write_closed = false;  // the writer half-closed: EOF after the buffered bytes
  bool writer_gone = false;   // the writer aborted: reset after the buffered bytes
  bool reader_gone = false;   // the reader aborted: writes fail
  AsyncSignal readable;
  AsyncSignal writable;
};

struct Shared {
  Shared(const asio::any_io_executor& ex, std::size_t capacity)
      : executor(ex), a_to_b(ex, capacity), b_to_a(ex, capacity) {}
  asio::any_io_executor executor;
  Direction a_to_b;
  Direction b_to_a;
};

class PipeEnd final : public ByteStream {
 public:
  PipeEnd(std::shared_ptr<Shared> shared, Direction& in, Direction& out)
      : shared_(std::move(shared)), in_(in), out_(out) {}
  ~PipeEnd() override { close(); }

  asio::any_io_executor get_executor() override { return shared_->executor; }

  asio::awaitable<base::Result<std::size_t>> async_read_some(base::MutableByteSpan buf) override {
    auto keep = shared_;
    for (;;) {
      if (closed_) co_return base::ErrorCode(asio::error::operation_aborted);
      if (!in_.buffer.empty()) {
        const std::size_t n = std::min(buf.size(), in_.buffer.size());
        std::copy_n(in_.buffer.readable().data(), n, buf.data());
        in_.buffer.consume(n);
        in_.buffer.release_if_empty();
        in_.writable.notify();
        co_return n;
      }
      if (in_.write_closed) co_return std::size_t{0};
      if (in_.writer_gone) co_return base::ErrorCode(asio::error::connection_reset);
      co_await in_.readable.wait();
    }
  }

  asio::awaitable<base::Result<void>> async_write(base::ByteSpan data) override {
    auto keep = shared_;
    while (!data.empty()) {
      if (closed_) co_return base::ErrorCode(asio::error::operation_aborted);
      if (out_.reader_gone || out_.write_closed)
        co_return base::ErrorCode(asio::error::broken_pipe);
      const std::size_t room = out_.buffer.limit() - out_.buffer.size();
      if (room == 0) {
        co_await out_.writable.wait();
        continue;
      }
      const std::size_t n = std::min(room, data.size());
      (void)out_.buffer.append(data.first(n));  // cannot fail: n fits
      data = data.subspan(n);
      out_.readable.notify();
    }
    co_return base::Result<void>{};
  }

  asio::awaitable<base::Result<void>> async_shutdown_write() override {
    if (closed_) co_return base::ErrorCode(asio::error::operation_aborted);
    out_.write_closed = true;
    out_.readable.notify();
    co_return base::Result<void>{};
  }

  void close() noexcept override {
    if (closed_) return;
    closed_ = true;
    out_.writer_gone = true;
    in_.reader_gone = true;
    in_.readable.notify();
    in_.writable.notify();
    out_.readable.notify();
    out_.writable.notify();
  }

 private:
  std::shared_ptr<Shared> shared_;
  Direction& in_;
  Direction& out_;
  bool closed_ = false;
};

}  // namespace

std::pair<std::unique_ptr<ByteStream>, std::unique_ptr<ByteStream>> make_memory_pipe(
    asio::any_io_executor executor, std::size_t capacity) {
  auto shared = std::make_shared<Shared>(executor, capacity == 0 ? 1 : capacity);
  auto a = std::make_unique<PipeEnd>(shared, shared->b_to_a, shared->a_to_b);
  auto b = std::make_unique<PipeEnd>(shared, shared->a_to_b, shared->b_to_a);
  return {std::move(a), std::move(b)};
}

}  // namespace portal::stream
