// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shared by the yamux scenario, driver and interop tests.

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>

#include "portal/base/bytes.hpp"
#include "portal/mux/mux.hpp"

namespace portal::yamux::test {

/// Deterministic bytes for stream `stream` (xorshift32). The Go interop peer computes the same.
inline base::Bytes pattern(std::uint32_t stream, std::size_t size) {
  base::Bytes b(size);
  std::uint32_t x = stream * 2654435761u + 1;
  for (auto& v : b) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    v = static_cast<base::Byte>(x);
  }
  return b;
}

/// Accepts streams on `session` until it ends (or `count` were accepted, if positive) and echoes
/// each until end of stream, then half-closes it. `on_echoed` runs after each stream.
inline void spawn_echo_server(
    boost::asio::io_context& io, std::shared_ptr<mux::Session> session, int count,
    std::function<void()> on_echoed = [] {}, std::function<void()> on_session_end = [] {}) {
  namespace asio = boost::asio;
  asio::co_spawn(
      io,
      [&io, session, count, on_echoed, on_session_end]() -> asio::awaitable<void> {
        for (int i = 0; count <= 0 || i < count; ++i) {
          auto s = co_await session->async_accept();
          if (!s) break;
          asio::co_spawn(
              io,
              [st = std::shared_ptr<stream::ByteStream>(std::move(*s)),
               on_echoed]() -> asio::awaitable<void> {
                base::Bytes buf(32 * 1024);
                for (;;) {
                  auto n = co_await st->async_read_some(buf);
                  EXPECT_TRUE(n) << n.error().message();
                  if (!n || *n == 0) break;
                  EXPECT_TRUE(co_await st->async_write(base::ByteSpan(buf).first(*n)));
                }
                EXPECT_TRUE(co_await st->async_shutdown_write());
                on_echoed();
              },
              asio::detached);
        }
        on_session_end();
      },
      asio::detached);
}

}  // namespace portal::yamux::test
