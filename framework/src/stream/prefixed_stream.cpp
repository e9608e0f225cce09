// SPDX-License-Identifier: Apache-2.0
#include "portal/stream/prefixed_stream.hpp"

#include <algorithm>
#include <cstring>

namespace portal::stream {
namespace {

namespace asio = boost::asio;

class PrefixedStream final : public ByteStream {
 public:
  PrefixedStream(std::unique_ptr<ByteStream> inner, base::Bytes prefix)
      : inner_(std::move(inner)), prefix_(std::move(prefix)) {}

  asio::any_io_executor get_executor() override { return inner_->get_executor(); }

  asio::awaitable<base::Result<std::size_t>> async_read_some(base::MutableByteSpan b) override {
    if (offset_ < prefix_.size()) {
      const std::size_t n = std::min(b.size(), prefix_.size() - offset_);
      std::memcpy(b.data(), prefix_.data() + offset_, n);
      offset_ += n;
      if (offset_ == prefix_.size()) base::Bytes().swap(prefix_), offset_ = 0;
      co_return n;
    }
    co_return co_await inner_->async_read_some(b);
  }

  asio::awaitable<base::Result<void>> async_write(base::ByteSpan d) override {
    co_return co_await inner_->async_write(d);
  }

  asio::awaitable<base::Result<void>> async_shutdown_write() override {
    co_return co_await inner_->async_shutdown_write();
  }

  PeerInfo peer_info() const override { return inner_->peer_info(); }
  void close() noexcept override { inner_->close(); }

 private:
  std::unique_ptr<ByteStream> inner_;
  base::Bytes prefix_;
  std::size_t offset_ = 0;
};

}  // namespace

std::unique_ptr<ByteStream> make_prefixed_stream(std::unique_ptr<ByteStream> inner,
                                                 base::Bytes prefix) {
  if (prefix.empty()) return inner;
  return std::make_unique<PrefixedStream>(std::move(inner), std::move(prefix));
}

}  // namespace portal::stream
