// SPDX-License-Identifier: Apache-2.0
// yamux session throughput and idle memory, with baselines from the same run:
//   - raw loopback TCP (the transport-tcp stream, no multiplexer),
//   - yamux with 1 and 64 streams over an in-memory pipe and over loopback TCP,
//   - heap bytes per idle stream (both ends in this process, so each stream is counted twice).
//
//   build/release/bench/portal-bench-yamux [MiB per run, default 256]
//
// Everything runs on one thread (one io_context), as a relay connection does: the numbers are
// per core.

#include <malloc.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "driver/yamux_session.hpp"
#include "portal/stream/memory_pipe.hpp"
#include "tcp_transport.hpp"

namespace {

namespace asio = boost::asio;
using portal::base::Bytes;
using portal::stream::ByteStream;
using Pair = std::pair<std::unique_ptr<ByteStream>, std::unique_ptr<ByteStream>>;

// A connected pair through the transport-tcp plugin's code (linked statically).
Pair tcp_pair(asio::io_context& io) {
  auto& tcp = portal::plugins::tcp::factory();
  auto listener =
      tcp.listen(io.get_executor(), *portal::transport::parse_uri("tcp://127.0.0.1:0"), {}).value();
  Pair p;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto c = co_await tcp.async_connect(io.get_executor(), listener->local_uri(), {});
        auto s = co_await listener->async_accept();
        if (c && s) p = {std::move(*c), std::move(*s)};
        done = true;
      },
      asio::detached);
  io.restart();
  while (!done) io.run_one();
  return p;
}

Pair memory_pair(asio::io_context& io) {
  return portal::stream::make_memory_pipe(io.get_executor(), 1024 * 1024);
}

// Sends `total` bytes from `from` to `to` and returns the seconds it took.
double transfer(asio::io_context& io, ByteStream& from, ByteStream& to, std::size_t total) {
  bool done = false;
  bool sent_all = false;
  const auto start = std::chrono::steady_clock::now();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Bytes chunk(256 * 1024, 0x5a);
        for (std::size_t sent = 0; sent < total; sent += chunk.size()) {
          if (!co_await from.async_write(chunk)) co_return;
        }
        (void)co_await from.async_shutdown_write();
        sent_all = true;
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Bytes buf(256 * 1024);
        std::size_t got = 0;
        while (got < total) {
          auto n = co_await to.async_read_some(buf);
          if (!n || *n == 0) break;
          got += *n;
        }
        done = true;
      },
      asio::detached);
  io.restart();  // a previous run may have left the context stopped
  while (!done || !sent_all) io.run_one();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Opens `streams` yamux streams over `link` and moves `total` bytes split across them.
double yamux_transfer(asio::io_context& io, Pair link, int streams, std::size_t total) {
  auto client =
      portal::yamux::start_session(std::move(link.first), portal::yamux::Role::Client, {});
  auto server =
      portal::yamux::start_session(std::move(link.second), portal::yamux::Role::Server, {});
  const std::size_t per = total / static_cast<std::size_t>(streams);
  int finished = 0;
  const auto start = std::chrono::steady_clock::now();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < streams; ++i) {
          auto s = co_await server->async_accept();
          if (!s) co_return;
          asio::co_spawn(
              io,
              [&, st = std::shared_ptr<ByteStream>(std::move(*s))]() -> asio::awaitable<void> {
                Bytes buf(64 * 1024);
                for (;;) {
                  auto n = co_await st->async_read_some(buf);
                  if (!n || *n == 0) break;
                }
                ++finished;
              },
              asio::detached);
        }
      },
      asio::detached);
  for (int i = 0; i < streams; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto s = co_await client->async_open();
          if (!s) co_return;
          Bytes chunk(64 * 1024, 0x5a);
          for (std::size_t sent = 0; sent < per; sent += chunk.size()) {
            if (!co_await (*s)->async_write(chunk)) co_return;
          }
          (void)co_await (*s)->async_shutdown_write();
        },
        asio::detached);
  }
  io.restart();
  while (finished < streams) io.run_one();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  client->close();
  server->close();
  io.restart();
  io.run_for(std::chrono::milliseconds(50));
  return secs;
}

std::size_t heap_in_use() { return mallinfo2().uordblks; }

void idle_memory(asio::io_context& io, int streams) {
  auto link = memory_pair(io);
  auto client =
      portal::yamux::start_session(std::move(link.first), portal::yamux::Role::Client, {});
  auto server =
      portal::yamux::start_session(std::move(link.second), portal::yamux::Role::Server, {});
  std::vector<std::unique_ptr<ByteStream>> a, b;
  io.restart();
  io.run_for(std::chrono::milliseconds(20));
  const std::size_t before = heap_in_use();
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < streams; ++i) {
          auto s = co_await client->async_open();
          if (s) a.push_back(std::move(*s));
          auto t = co_await server->async_accept();
          if (t) b.push_back(std::move(*t));
        }
        done = true;
      },
      asio::detached);
  io.restart();
  while (!done) io.run_one();
  io.run_for(std::chrono::milliseconds(50));
  const std::size_t after = heap_in_use();
  std::printf("| idle streams (%d, both ends) | heap per stream per end | %8.0f B |\n", streams,
              static_cast<double>(after - before) / (2.0 * streams));
  a.clear();
  b.clear();
  client->close();
  server->close();
  io.run_for(std::chrono::milliseconds(50));
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256;
  const std::size_t total = mib * 1024 * 1024;
  asio::io_context io;
  auto row = [&](const char* what, const char* streams, double secs) {
    std::printf("| %-28s | %-23s | %8.0f MB/s |\n", what, streams,
                static_cast<double>(total) / secs / 1e6);
  };
  std::printf("| %-28s | %-23s | %13s |\n", "link", "streams", "throughput");
  std::printf("|------------------------------|-------------------------|---------------|\n");
  {
    auto p = tcp_pair(io);
    row("raw loopback TCP (baseline)", "-", transfer(io, *p.first, *p.second, total));
  }
  {
    auto p = memory_pair(io);
    row("raw memory pipe (baseline)", "-", transfer(io, *p.first, *p.second, total));
  }
  row("yamux over memory pipe", "1", yamux_transfer(io, memory_pair(io), 1, total));
  row("yamux over memory pipe", "64", yamux_transfer(io, memory_pair(io), 64, total));
  row("yamux over loopback TCP", "1", yamux_transfer(io, tcp_pair(io), 1, total));
  row("yamux over loopback TCP", "64", yamux_transfer(io, tcp_pair(io), 64, total));
  idle_memory(io, 1000);
  return 0;
}
