// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shared by the benches that drive Asio from one thread: running a coroutine to completion, and
// the raw-socket baseline that several tables compare against.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <exception>
#include <optional>

#include "portal/base/bytes.hpp"

namespace portal::bench {

/// Runs `a` on `io` until it completes and returns its value; rethrows its exception.
template <class T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> a) {
  std::optional<T> out;
  boost::asio::co_spawn(io, std::move(a), [&](std::exception_ptr e, T v) {
    if (e) std::rethrow_exception(e);
    out.emplace(std::move(v));
  });
  io.restart();
  while (!out) io.run_one();
  return std::move(*out);
}

/// Sends `total` bytes from `a` to `b` (two connected TCP sockets on `io`) in `chunk`-sized
/// writes while reading them on `b`; returns the seconds it took.
inline double socket_transfer(boost::asio::io_context& io, boost::asio::ip::tcp::socket& a,
                              boost::asio::ip::tcp::socket& b, std::size_t total,
                              std::size_t chunk = 256 * 1024) {
  namespace asio = boost::asio;
  bool done = false;
  const auto start = std::chrono::steady_clock::now();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        base::Bytes data(chunk, 7);
        for (std::size_t n = 0; n < total; n += data.size()) {
          co_await asio::async_write(a, asio::buffer(data), asio::use_awaitable);
        }
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        base::Bytes buf(chunk);
        for (std::size_t got = 0; got < total;) {
          got += co_await b.async_read_some(asio::buffer(buf), asio::use_awaitable);
        }
        done = true;
      },
      asio::detached);
  io.restart();
  while (!done) io.run_one();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace portal::bench
