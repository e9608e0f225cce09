// SPDX-License-Identifier: Apache-2.0
// End-to-end encrypted bulk transfer through the real portal-relay, as users run it: three
// processes (the relay, a lease holder, a dialer; this process is the dialer), the client SDK at
// both ends, ChaCha20-Poly1305 from the cipher plugin. Rows: download (holder -> dialer) and
// upload (dialer -> holder) over ws:// and tcp://, next to the same secure channel over a direct
// loopback TCP connection (no relay) measured in the same run.
//
//   build/release/bench/portal-bench-e2e [MiB per row, default 1024]

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>

#include <array>
#include <cstring>
#include <optional>

#include "bench_io.hpp"
#include "bench_process.hpp"
#include "portal/base/log.hpp"
#include "portal/base/random.hpp"
#include "portal/client/client.hpp"
#include "portal/secure_stream/secure_stream.hpp"
#include "portal/transport/transport.hpp"

namespace {

namespace asio = boost::asio;
namespace client = portal::client;
using portal::base::Byte;
using portal::base::Bytes;
using portal::bench::cpu_seconds;
using portal::bench::run;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kChunk = 256 * 1024;
constexpr const char* kAlpn = "bench/1";

std::shared_ptr<client::Stack> stack_for(const std::vector<std::string>& relays) {
  portal::config::ClientConfig cfg;
  cfg.plugin_dirs = {PORTAL_BUILD_PLUGIN_DIR};
  cfg.relays = relays;
  std::string error;
  auto s = client::assemble(cfg, error);
  if (!s) {
    std::fprintf(stderr, "stack: %s\n", error.c_str());
    std::exit(1);
  }
  return s;
}

// The protocol between the two ends: one byte, 'u' (the dialer sends until EOF, the holder
// answers one byte) or 'd' followed by 8 bytes (the holder sends that many bytes).
asio::awaitable<void> serve(std::shared_ptr<portal::stream::ByteStream> s) {
  std::array<Byte, 9> head{};
  std::size_t got = 0;
  while (got < 1) {
    auto n = co_await s->async_read_some(portal::base::MutableByteSpan(head.data(), 1));
    if (!n || *n == 0) co_return;
    got += *n;
  }
  Bytes buf(kChunk);
  if (head[0] == 'u') {
    for (;;) {
      auto n = co_await s->async_read_some(buf);
      if (!n || *n == 0) break;
    }
    const Byte ack = 'k';
    (void)co_await s->async_write(portal::base::ByteSpan(&ack, 1));
  } else {
    while (got < 9) {
      auto n =
          co_await s->async_read_some(portal::base::MutableByteSpan(head.data() + got, 9 - got));
      if (!n || *n == 0) co_return;
      got += *n;
    }
    std::uint64_t total = 0;
    for (std::size_t i = 1; i < 9; ++i) total = (total << 8) | head[i];
    for (std::uint64_t sent = 0; sent < total; sent += kChunk) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, total - sent));
      if (!co_await s->async_write(portal::base::ByteSpan(buf.data(), n))) co_return;
    }
  }
  (void)co_await s->async_shutdown_write();
}

// Serves the direct (no relay) secure channel: the baseline.
asio::awaitable<void> direct_accept_loop(portal::transport::Listener* server,
                                         const portal::stream::SecureStreamConfig* secure,
                                         portal::handshake::ReplayCache* replay) {
  const std::vector<std::string> alpns{kAlpn};
  for (;;) {
    auto raw = co_await server->async_accept();
    if (!raw) co_return;
    auto s = co_await portal::stream::async_secure_accept(std::move(*raw), *secure, alpns, *replay);
    if (!s) continue;
    auto shared = std::shared_ptr<portal::stream::ByteStream>(std::move(*s));
    asio::co_spawn(shared->get_executor(), serve(shared), asio::detached);
  }
}

// The lease holder process: listens on every relay and on a direct TCP port; reports the port
// and its ID on `report`, then serves until killed.
[[noreturn]] void holder(const std::vector<std::string>& relays, int report) {
  asio::io_context io(1);
  auto stack = stack_for(relays);
  auto me = *portal::identity::Credential::generate(portal::base::OsRandom::instance());
  const std::string id = me.id();
  portal::stream::SecureStreamConfig secure;
  auto direct_cred = *portal::identity::Credential::from_seed(me.seed().span());
  secure.credential = &direct_cred;
  secure.cipher = stack->cipher;
  portal::handshake::ReplayCache replay;
  auto tcp = *portal::transport::resolve(*stack->host, "tcp://127.0.0.1:0");
  auto listener =
      *tcp->listen(io.get_executor(), *portal::transport::parse_uri("tcp://127.0.0.1:0"), {});
  client::Options options;
  options.relays = relays;
  auto c = run(io, client::Client::connect(io.get_executor(), std::move(me), stack, options));
  if (!c) std::_Exit(3);
  auto l = run(io, (*c)->listen("bench-e2e", {kAlpn}));
  if (!l) std::_Exit(4);
  asio::co_spawn(
      io,
      [l = *l]() -> asio::awaitable<void> {
        for (;;) {
          auto s = co_await l->accept();
          if (!s) co_return;
          asio::co_spawn(co_await asio::this_coro::executor,
                         serve(std::shared_ptr<portal::stream::ByteStream>(std::move(*s))),
                         asio::detached);
        }
      },
      asio::detached);
  asio::co_spawn(io, direct_accept_loop(listener.get(), &secure, &replay), asio::detached);
  const std::string line = std::to_string(listener->local_uri().port) + " " + id + "\n";
  (void)!::write(report, line.data(), line.size());
  ::close(report);
  io.restart();
  io.run();
  std::_Exit(0);
}

// Moves `total` bytes in one direction over `s`; returns the seconds it took.
double transfer(asio::io_context& io, portal::stream::ByteStream& s, bool upload,
                std::uint64_t total) {
  const auto start = Clock::now();
  const bool ok = run(io, [&]() -> asio::awaitable<bool> {
    Bytes buf(kChunk, 7);
    if (upload) {
      const Byte u = 'u';
      if (!co_await s.async_write(portal::base::ByteSpan(&u, 1))) co_return false;
      for (std::uint64_t sent = 0; sent < total; sent += kChunk) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, total - sent));
        if (!co_await s.async_write(portal::base::ByteSpan(buf.data(), n))) co_return false;
      }
      if (!co_await s.async_shutdown_write()) co_return false;
      auto n = co_await s.async_read_some(buf);  // the ack
      co_return n&&* n == 1;
    }
    std::array<Byte, 9> head{'d'};
    for (std::size_t i = 0; i < 8; ++i) head[8 - i] = static_cast<Byte>(total >> (8 * i));
    if (!co_await s.async_write(head)) co_return false;
    std::uint64_t got = 0;
    for (;;) {
      auto n = co_await s.async_read_some(buf);
      if (!n || *n == 0) break;
      got += *n;
    }
    co_return got == total;
  }());
  if (!ok) {
    std::fprintf(stderr, "transfer failed\n");
    std::exit(1);
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void row(const char* what, double down_s, double up_s, double relay_cpu, std::uint64_t total) {
  const double mb = static_cast<double>(total) / 1e6;
  const double gib = static_cast<double>(total) * 2 / (1024.0 * 1024.0 * 1024.0);
  if (relay_cpu < 0) {
    std::printf("| %-38s | %8.0f MB/s | %8.0f MB/s | %16s |\n", what, mb / down_s, mb / up_s, "-");
  } else {
    std::printf("| %-38s | %8.0f MB/s | %8.0f MB/s | %9.2f CPU-s/GiB |\n", what, mb / down_s,
                mb / up_s, relay_cpu / gib);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t total = (argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1024) << 20;
  std::atexit(portal::bench::kill_children);
  portal::base::set_log_level(portal::base::LogLevel::Warn);
  portal::bench::RelayChild relay;

  int fds[2];
  if (::pipe(fds) != 0) return 1;
  const pid_t holder_pid = ::fork();
  if (holder_pid == 0) {
    ::close(fds[0]);
    holder({relay.ws, relay.tcp}, fds[1]);
  }
  portal::bench::children().push_back(holder_pid);
  ::close(fds[1]);
  std::string line;
  char ch = 0;
  while (::read(fds[0], &ch, 1) == 1 && ch != '\n') line.push_back(ch);
  ::close(fds[0]);
  const auto space = line.find(' ');
  if (space == std::string::npos) {
    std::fprintf(stderr, "the holder did not start\n");
    return 1;
  }
  const std::string direct_port = line.substr(0, space), holder_id = line.substr(space + 1);

  asio::io_context io(1);
  std::printf("| %-38s | %-13s | %-13s | %-18s |\n", "end-to-end encrypted, 3 processes",
              "download", "upload", "relay CPU");
  std::printf(
      "|----------------------------------------|---------------|---------------|--------------"
      "------|\n");
  {
    // Baseline: the same secure channel, direct over loopback TCP.
    auto stack = stack_for({relay.tcp});
    auto me = *portal::identity::Credential::generate(portal::base::OsRandom::instance());
    portal::stream::SecureStreamConfig secure;
    secure.credential = &me;
    secure.cipher = stack->cipher;
    auto tcp = *portal::transport::resolve(*stack->host, "tcp://127.0.0.1:0");
    double secs[2];
    for (int up = 0; up < 2; ++up) {
      auto raw = run(io, tcp->async_connect(
                             io.get_executor(),
                             *portal::transport::parse_uri("tcp://127.0.0.1:" + direct_port), {}));
      auto s =
          run(io, portal::stream::async_secure_connect(std::move(*raw), secure, holder_id, kAlpn));
      if (!s) {
        std::fprintf(stderr, "direct handshake: %s\n", s.error().message().c_str());
        return 1;
      }
      secs[up] = transfer(io, **s, up == 1, total);
    }
    row("direct secure channel, no relay (base)", secs[0], secs[1], -1, total);
  }
  for (const auto& [uri, name] : {std::pair{relay.ws, "through portal-relay, ws://"},
                                  std::pair{relay.tcp, "through portal-relay, tcp://"}}) {
    auto me = *portal::identity::Credential::generate(portal::base::OsRandom::instance());
    client::Options options;
    options.relays = {uri};
    auto c = run(
        io, client::Client::connect(io.get_executor(), std::move(me), stack_for({uri}), options));
    if (!c) return 1;
    const double cpu0 = cpu_seconds(relay.pid);
    double secs[2];
    for (int up = 0; up < 2; ++up) {
      std::string detail;
      auto s = run(io, (*c)->dial("bench-e2e", kAlpn, &detail));
      if (!s) {
        std::fprintf(stderr, "dial: %s %s\n", s.error().message().c_str(), detail.c_str());
        return 1;
      }
      secs[up] = transfer(io, **s, up == 1, total);
    }
    row(name, secs[0], secs[1], cpu_seconds(relay.pid) - cpu0, total);
    run(io, [&]() -> asio::awaitable<bool> {
      co_await (*c)->close();
      co_return true;
    }());
  }
  ::kill(holder_pid, SIGKILL);
  ::waitpid(holder_pid, nullptr, 0);
  std::erase(portal::bench::children(), holder_pid);
  return 0;
}
