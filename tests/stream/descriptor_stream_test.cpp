// SPDX-License-Identifier: Apache-2.0
#include "portal/stream/descriptor_stream.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace portal::stream {
namespace {

namespace asio = boost::asio;

TEST(StreamDescriptor, SocketpairCarriesBytesAndHalfClose) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  asio::io_context io;
  auto a = make_descriptor_stream(io.get_executor(), fds[0], fds[0]);
  auto b = make_descriptor_stream(io.get_executor(), fds[1], fds[1]);
  base::Bytes got;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        EXPECT_TRUE(co_await a->async_write(base::as_bytes("over the socket")));
        EXPECT_TRUE(co_await a->async_shutdown_write());
        base::Bytes buf(4);
        for (;;) {
          auto n = co_await b->async_read_some(buf);
          EXPECT_TRUE(n);
          if (!n || *n == 0) break;
          got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(*n));
        }
        // b can still write after a's half-close.
        EXPECT_TRUE(co_await b->async_write(base::as_bytes("reply")));
        auto n = co_await a->async_read_some(buf);
        EXPECT_TRUE(n && *n > 0);
        done = true;
      },
      asio::detached);
  io.run();
  EXPECT_TRUE(done);
  EXPECT_EQ(base::as_chars(got), "over the socket");
}

TEST(StreamDescriptor, PipePairAndCloseAborts) {
  int p1[2], p2[2];
  ASSERT_EQ(::pipe2(p1, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(p2, O_CLOEXEC), 0);
  asio::io_context io;
  auto a = make_descriptor_stream(io.get_executor(), p1[0], p2[1]);
  auto b = make_descriptor_stream(io.get_executor(), p2[0], p1[1]);
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        EXPECT_TRUE(co_await a->async_write(base::as_bytes("x")));
        base::Bytes buf(4);
        EXPECT_EQ((co_await b->async_read_some(buf)).value(), 1u);
        b->close();
        auto n = co_await a->async_read_some(buf);  // the writer end is gone: end of stream
        EXPECT_TRUE(n);
        if (n) {
          EXPECT_EQ(*n, 0u);
        }
        done = true;
      },
      asio::detached);
  io.run();
  EXPECT_TRUE(done);
}

}  // namespace
}  // namespace portal::stream
