// SPDX-License-Identifier: Apache-2.0
#include "portal/stream/memory_pipe.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace portal::stream {
namespace {

namespace asio = boost::asio;
using base::Bytes;

TEST(StreamMemoryPipe, CarriesBytesWithBackpressureAndHalfClose) {
  asio::io_context io;
  auto pipe = make_memory_pipe(io.get_executor(), 1000);  // no structured binding: clang 14
  auto& a = pipe.first;
  auto& b = pipe.second;
  Bytes sent(10000);
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<base::Byte>(i * 13);
  Bytes received;
  bool wrote = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        EXPECT_TRUE(co_await a->async_write(sent));  // 10x the capacity: must wait for reads
        EXPECT_TRUE(co_await a->async_shutdown_write());
        wrote = true;
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Bytes buf(333);
        for (;;) {
          auto n = co_await b->async_read_some(buf);
          EXPECT_TRUE(n);
          if (!n || *n == 0) break;
          EXPECT_LE(*n, 333u);
          received.insert(received.end(), buf.begin(), buf.begin() + static_cast<long>(*n));
        }
      },
      asio::detached);
  io.run();
  EXPECT_TRUE(wrote);
  EXPECT_EQ(received, sent);
}

TEST(StreamMemoryPipe, CloseAbortsBothEnds) {
  asio::io_context io;
  auto pipe = make_memory_pipe(io.get_executor(), 64);
  auto& a = pipe.first;
  auto& b = pipe.second;
  base::ErrorCode read_error;
  base::ErrorCode local_error;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Bytes buf(10);
        auto n = co_await b->async_read_some(buf);  // waits, then the peer aborts
        read_error = n ? base::ErrorCode{} : n.error();
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        a->close();
        Bytes buf(10);
        auto n = co_await a->async_read_some(buf);
        local_error = n ? base::ErrorCode{} : n.error();
        co_return;
      },
      asio::detached);
  io.run();
  EXPECT_EQ(read_error, asio::error::connection_reset);
  EXPECT_EQ(local_error, asio::error::operation_aborted);
}

}  // namespace
}  // namespace portal::stream
