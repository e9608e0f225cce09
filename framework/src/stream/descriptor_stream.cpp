// SPDX-License-Identifier: Apache-2.0
#include "portal/stream/descriptor_stream.hpp"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <optional>

namespace portal::stream {
namespace {

namespace asio = boost::asio;

class DescriptorStream final : public ByteStream {
 public:
  DescriptorStream(const asio::any_io_executor& ex, int read_fd, int write_fd) : in_(ex, read_fd) {
    if (write_fd != read_fd) out_.emplace(ex, write_fd);
  }

  asio::any_io_executor get_executor() override { return in_.get_executor(); }

  asio::awaitable<base::Result<std::size_t>> async_read_some(base::MutableByteSpan b) override {
    auto [ec, n] = co_await in_.async_read_some(asio::buffer(b.data(), b.size()),
                                                asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::eof) co_return std::size_t{0};
    if (ec) co_return base::ErrorCode(ec);
    co_return n;
  }

  asio::awaitable<base::Result<void>> async_write(base::ByteSpan d) override {
    auto& out = out_ ? *out_ : in_;
    auto [ec, n] = co_await asio::async_write(out, asio::buffer(d.data(), d.size()),
                                              asio::as_tuple(asio::use_awaitable));
    if (ec) co_return base::ErrorCode(ec);
    co_return base::Result<void>{};
  }

  asio::awaitable<base::Result<void>> async_shutdown_write() override {
    boost::system::error_code ec;
    if (out_) {
      out_->close(ec);
    } else if (in_.is_open() && ::shutdown(in_.native_handle(), SHUT_WR) != 0 &&
               errno != ENOTSOCK) {
      co_return base::ErrorCode(errno, boost::system::system_category());
    }
    co_return base::Result<void>{};
  }

  void close() noexcept override {
    boost::system::error_code ec;
    in_.close(ec);
    if (out_) out_->close(ec);
  }

 private:
  asio::posix::stream_descriptor in_;
  std::optional<asio::posix::stream_descriptor> out_;
};

}  // namespace

std::unique_ptr<ByteStream> make_descriptor_stream(const asio::any_io_executor& executor,
                                                   int read_fd, int write_fd) {
  return std::make_unique<DescriptorStream>(executor, read_fd, write_fd);
}

}  // namespace portal::stream
