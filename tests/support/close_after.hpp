// SPDX-License-Identifier: Apache-2.0
#pragma once

// A deadline for one stream in a test: it is closed (its reads and writes fail) if it is still
// in use after `after`, so that a test waiting on a silent peer ends instead of hanging.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <memory>

#include "portal/stream/byte_stream.hpp"

namespace portal::test {

// Arms the deadline; cancel the returned timer to disarm it.
inline boost::asio::awaitable<std::shared_ptr<boost::asio::steady_timer>> close_after(
    std::shared_ptr<stream::ByteStream> s, std::chrono::steady_clock::duration after) {
  namespace asio = boost::asio;
  const auto ex = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(ex, after);
  asio::co_spawn(
      ex,
      [](std::shared_ptr<asio::steady_timer> t,
         std::shared_ptr<stream::ByteStream> victim) -> asio::awaitable<void> {
        auto [ec] = co_await t->async_wait(asio::as_tuple(asio::use_awaitable));
        if (!ec) victim->close();
      }(timer, std::move(s)),
      asio::detached);
  co_return timer;
}

}  // namespace portal::test
