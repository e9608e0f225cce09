// SPDX-License-Identifier: Apache-2.0
// Throughput through each transport plugin against raw loopback TCP in the same run, and memory
// per idle connection at 1,000 connections (both ends live in this process).
//
//   build/release/bench/portal-bench-transport [MiB per row, default 256]

#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "bench_io.hpp"
#include "tcp_transport.hpp"
#include "ws_transport.hpp"

namespace {

namespace asio = boost::asio;
using portal::base::Bytes;
using portal::stream::ByteStream;
using portal::transport::TransportFactory;
using Clock = std::chrono::steady_clock;

double raw_tcp(asio::io_context& io, std::size_t total) {
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket a(io), b(io);
  a.connect(acceptor.local_endpoint());
  acceptor.accept(b);
  return portal::bench::socket_transfer(io, a, b, total);
}

struct Pair {
  std::unique_ptr<ByteStream> client, server;
  std::unique_ptr<portal::transport::Listener> listener;
};

Pair connect_pair(asio::io_context& io, TransportFactory& f, const char* uri) {
  Pair p;
  p.listener = f.listen(io.get_executor(), *portal::transport::parse_uri(uri), {}).value();
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto c = co_await f.async_connect(io.get_executor(), p.listener->local_uri(), {});
        auto s = co_await p.listener->async_accept();
        if (c && s) {
          p.client = std::move(*c);
          p.server = std::move(*s);
        }
        done = true;
      },
      asio::detached);
  io.restart();
  while (!done) io.run_one();
  return p;
}

double plugin_transfer(asio::io_context& io, TransportFactory& f, const char* uri,
                       std::size_t total) {
  Pair p = connect_pair(io, f, uri);
  if (!p.client) return -1;
  bool done = false;
  bool sent = false;
  const auto start = Clock::now();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Bytes chunk(256 * 1024, 1);
        for (std::size_t n = 0; n < total; n += chunk.size()) {
          if (!co_await p.client->async_write(chunk)) break;
        }
        sent = true;
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Bytes buf(256 * 1024);
        for (std::size_t got = 0; got < total;) {
          auto n = co_await p.server->async_read_some(buf);
          if (!n || *n == 0) break;
          got += *n;
        }
        done = true;
      },
      asio::detached);
  io.restart();
  while (!done || !sent) io.run_one();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

void idle(asio::io_context& io, TransportFactory& f, const char* uri, const char* name, int n) {
  auto listener = f.listen(io.get_executor(), *portal::transport::parse_uri(uri), {}).value();
  std::vector<std::unique_ptr<ByteStream>> ends;
  ends.reserve(2 * static_cast<std::size_t>(n));
  const std::size_t before = rss_bytes();
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < n; ++i) {
          auto c = co_await f.async_connect(io.get_executor(), listener->local_uri(), {});
          auto s = co_await listener->async_accept();
          if (!c || !s) break;
          ends.push_back(std::move(*c));
          ends.push_back(std::move(*s));
        }
        done = true;
      },
      asio::detached);
  io.restart();
  while (!done) io.run_one();
  const std::size_t after = rss_bytes();
  std::printf("| %-22s | idle, %d connections | %6.1f KiB per end (RSS) |\n", name, n,
              static_cast<double>(after - before) / (2.0 * n) / 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t total = (argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256) << 20;
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  asio::io_context io;
  auto& tcp = portal::plugins::tcp::factory();
  auto& ws = portal::plugins::ws::factory();
  auto rate = [&](double secs) { return static_cast<double>(total) / secs / 1e6; };
  std::printf("| %-22s | %-21s | %-24s |\n", "transport", "measure", "result");
  std::printf("|------------------------|-----------------------|--------------------------|\n");
  std::printf("| %-22s | %-21s | %14.0f MB/s |\n", "raw loopback TCP", "one direction",
              rate(raw_tcp(io, total)));
  std::printf("| %-22s | %-21s | %14.0f MB/s |\n", "portal.transport.tcp", "one direction",
              rate(plugin_transfer(io, tcp, "tcp://127.0.0.1:0", total)));
  std::printf("| %-22s | %-21s | %14.0f MB/s |\n", "portal.transport.ws", "one direction",
              rate(plugin_transfer(io, ws, "ws://127.0.0.1:0/relay", total)));
  idle(io, tcp, "tcp://127.0.0.1:0", "portal.transport.tcp", 1000);
  idle(io, ws, "ws://127.0.0.1:0/relay", "portal.transport.ws", 1000);
  return 0;
}
