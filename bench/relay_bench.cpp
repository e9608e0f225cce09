// SPDX-License-Identifier: Apache-2.0
// The relay's cost, measured on the real portal-relay binary (a child process):
//   - CPU-seconds per GiB relayed through a spliced stream (dialer → relay → holder, over
//     yamux on tcp://, tls://, ws:// and wss://), next to a plain copy relay in the same run (a
//     child process that copies between two TCP sockets, no framing: the floor for any relay);
//   - RSS per idle lease connection at N connections (each a yamux session with one lease);
//   - sequential connection setup: a dialer reaches a lease holder through the relay, one
//     connection after another (request, one small round trip, both ends close), over tcp://,
//     ws://, ws:// with TCP_NODELAY off at both ends (the configuration before it was set), and
//     tls:// and wss:// (a throwaway certificate), each against its plaintext row. Each row's
//     connections are streams of one session per side, so the TLS handshake is paid once per
//     session, not per connection: these rows show what TLS adds to the per-connection path;
//   - new sessions, one after another (transport connect with a full TLS handshake on tls:// and
//     wss://, yamux, one RelayInfo): the rate, and the relay's CPU per session.
//
//   build/release/bench/portal-bench-relay [MiB per row, default 1024] [idle connections, 1000]
//                                          [connections per setup row, 500] [options]
// A count of 0 skips its table; the idle count may be a list (1000,10000), one row per count
// and transport. Options:
//   --json               one JSON object per row of the bulk and idle tables on stdout (the
//                        setup tables are not printed then: give 0 connections per setup row)
//   --relay-json '{...}' extra top-level members of every relay child's config (e.g. threads)
//   PORTAL_BENCH_RELAY_THREADS=N (environment): every relay with "threads": N (ADR 0013)

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bench_io.hpp"
#include "bench_process.hpp"
#include "portal/base/random.hpp"
#include "portal/client/control.hpp"
#include "portal/plugin/host.hpp"
#include "portal/transport/transport.hpp"

namespace {

namespace asio = boost::asio;
using portal::base::Bytes;
using portal::bench::children;
using portal::bench::cpu_seconds;
using portal::bench::JsonLine;
using portal::bench::kill_children;
using portal::bench::RelayChild;
using portal::bench::rss_bytes;
using portal::bench::run;
using Clock = std::chrono::steady_clock;
constexpr std::size_t kChunk = 256 * 1024;
bool json = false;  // --json

// The baseline: a child process that accepts two TCP connections and copies between them.
pid_t start_copy_relay(std::uint16_t& port) {
  int fds[2];
  if (::pipe(fds) != 0) std::exit(1);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    asio::io_context io(1);
    asio::ip::tcp::acceptor acc(io, {asio::ip::make_address("127.0.0.1"), 0});
    const std::uint16_t p = acc.local_endpoint().port();
    (void)!::write(fds[1], &p, sizeof p);
    asio::ip::tcp::socket a = acc.accept(), b = acc.accept();
    auto pump = [](asio::ip::tcp::socket& from,
                   asio::ip::tcp::socket& to) -> asio::awaitable<void> {
      std::vector<char> buf(64 * 1024);
      for (;;) {
        boost::system::error_code ec;
        const std::size_t n = co_await from.async_read_some(
            asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        co_await asio::async_write(to, asio::buffer(buf.data(), n),
                                   asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
      }
      boost::system::error_code ignored;
      to.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    };
    asio::co_spawn(io, pump(a, b), asio::detached);
    asio::co_spawn(io, pump(b, a), asio::detached);
    io.run();
    std::_Exit(0);
  }
  ::close(fds[1]);
  children().push_back(pid);
  (void)!::read(fds[0], &port, sizeof port);
  ::close(fds[0]);
  return pid;
}

struct Stack {
  std::unique_ptr<portal::plugin::Host> host;
  std::shared_ptr<portal::mux::MuxFactory> mux;

  asio::awaitable<std::shared_ptr<portal::mux::Session>> session(
      asio::io_context& io, std::string uri, portal::transport::Settings settings = {}) {
    auto tf = portal::transport::resolve(*host, uri);
    auto st = co_await (*tf)->async_connect(io.get_executor(), *portal::transport::parse_uri(uri),
                                            std::move(settings));
    if (!st) {
      std::fprintf(stderr, "connect %s: %s\n", uri.c_str(), st.error().message().c_str());
      std::exit(1);
    }
    co_return *mux->create(std::move(*st), portal::mux::Role::Client, {});
  }
};

// Registers a lease for a new identity on `s` (one hour); exits if the relay refuses it.
portal::identity::Credential register_lease(asio::io_context& io, portal::mux::Session& s,
                                            std::string name, std::string alpn) {
  auto me = *portal::identity::Credential::generate(portal::base::OsRandom::instance());
  portal::wire::Lease lease;
  lease.name = std::move(name);
  lease.alpn = {std::move(alpn)};
  lease.expires =
      portal::base::unix_seconds(portal::base::SystemClock::instance().system_now()) + 3600;
  auto code = run(io, portal::client::update_lease(s, me, lease, portal::base::OsRandom::instance(),
                                                   portal::base::SystemClock::instance()));
  if (!code || *code != portal::wire::ResponseCode::Accepted) {
    std::fprintf(stderr, "lease %s refused\n", lease.name.c_str());
    std::exit(1);
  }
  return me;
}

// Moves `total` bytes dialer → holder through the portal relay over `uri`; returns seconds.
double portal_transfer(asio::io_context& io, Stack& stack, const std::string& uri,
                       std::size_t total, const portal::transport::Settings& settings = {}) {
  auto holder = run(io, stack.session(io, uri, settings));
  auto dialer = run(io, stack.session(io, uri, settings));
  const auto me = register_lease(io, *holder, "bench", "bench");
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto st = co_await holder->async_accept();
        auto in = co_await portal::client::read_incoming(std::move(*st));
        auto s = co_await portal::client::answer_incoming(std::move(*in),
                                                          portal::wire::ResponseCode::Accepted);
        Bytes buf(kChunk);
        for (std::size_t got = 0; got < total;) {
          auto n = co_await (*s)->async_read_some(buf);
          if (!n || *n == 0) break;
          got += *n;
        }
        done = true;
      },
      asio::detached);
  auto dialed = run(io, portal::client::request_connection(*dialer, me.id()));
  if (!dialed || !dialed->stream) std::exit(1);
  const auto start = Clock::now();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Bytes chunk(kChunk, 7);
        for (std::size_t n = 0; n < total; n += chunk.size()) {
          if (!co_await dialed->stream->async_write(chunk)) break;
        }
      },
      asio::detached);
  io.restart();
  while (!done) io.run_one();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  holder->close();
  dialer->close();
  io.restart();
  io.run_for(std::chrono::milliseconds(100));
  return secs;
}

double copy_transfer(asio::io_context& io, std::uint16_t port, std::size_t total) {
  asio::ip::tcp::socket a(io), b(io);
  a.connect({asio::ip::make_address("127.0.0.1"), port});
  b.connect({asio::ip::make_address("127.0.0.1"), port});
  return portal::bench::socket_transfer(io, a, b, total, kChunk);
}

void row(const char* what, const std::string& transport, double secs, double cpu,
         std::size_t total) {
  const double gib = static_cast<double>(total) / (1024.0 * 1024.0 * 1024.0);
  if (json) {
    JsonLine()
        .str("bench", "relay")
        .str("table", "bulk")
        .str("row", what)
        .str("transport", transport)
        .num("bytes", static_cast<double>(total))
        .num("MBps", static_cast<double>(total) / secs / 1e6)
        .num("relay_cpu_s_per_GiB", cpu / gib)
        .print();
    return;
  }
  std::printf("| %-34s | %8.0f MB/s | %6.2f CPU-s/GiB |\n", what,
              static_cast<double>(total) / secs / 1e6, cpu / gib);
}

// Each row gets a fresh relay, so memory freed by an earlier row cannot hide this row's cost.
void idle_leases(asio::io_context& io, Stack& stack, bool ws, const char* name, int n) {
  RelayChild relay;
  const std::string& uri = ws ? relay.ws : relay.tcp;
  const char* tag = ws ? "ws" : "tcp";
  const double before = rss_bytes(relay.pid);
  std::vector<std::shared_ptr<portal::mux::Session>> sessions;
  for (int i = 0; i < n; ++i) {
    auto s = run(io, stack.session(io, uri));
    (void)register_lease(io, *s, "idle-" + std::string(tag) + "-" + std::to_string(i), "http/1.1");
    sessions.push_back(std::move(s));
  }
  io.restart();
  io.run_for(std::chrono::milliseconds(500));
  const double after = rss_bytes(relay.pid);
  if (json) {
    JsonLine()
        .str("bench", "relay")
        .str("table", "idle")
        .str("row", name)
        .str("transport", tag)
        .num("connections", n)
        .num("rss_before_MiB", before / 1048576.0)
        .num("rss_after_MiB", after / 1048576.0)
        .num("KiB_per_connection", (after - before) / n / 1024.0)
        .print();
  } else {
    std::printf("| %-34s | %6d leases | %7.1f KiB per connection |\n", name, n,
                (after - before) / n / 1024.0);
  }
  for (auto& s : sessions) s->close();
  io.restart();
  io.run_for(std::chrono::milliseconds(200));
}

// ---- sequential connection setup ---------------------------------------------------------

constexpr std::size_t kPing = 32;                       // bytes of the one round trip
constexpr auto kRateBudget = std::chrono::seconds(10);  // a setup row stops after this long
constexpr auto kRateWatchdog = std::chrono::seconds(60);

// A relay that stops answering must not hang the bench: after kRateWatchdog, exits (std::exit
// kills the children) naming `what`. Cancel the timer when the row ends.
std::unique_ptr<asio::steady_timer> arm_watchdog(asio::io_context& io, std::string what) {
  auto t = std::make_unique<asio::steady_timer>(io, kRateWatchdog);
  t->async_wait([what = std::move(what)](const boost::system::error_code& ec) {
    if (ec) return;
    std::fprintf(stderr, "%s: no progress, giving up\n", what.c_str());
    std::exit(1);
  });
  return t;
}

// Reads exactly buf.size() bytes; false on error or end of stream.
asio::awaitable<bool> read_exact(portal::stream::ByteStream& s, portal::base::MutableByteSpan buf) {
  for (std::size_t got = 0; got < buf.size();) {
    auto n = co_await s.async_read_some(buf.subspan(got));
    if (!n || *n == 0) co_return false;
    got += *n;
  }
  co_return true;
}

// Reads until the peer's FIN (or an error).
asio::awaitable<void> read_to_end(portal::stream::ByteStream& s) {
  Bytes buf(kPing);
  for (;;) {
    auto n = co_await s.async_read_some(buf);
    if (!n || *n == 0) co_return;
  }
}

// The lease holder: answers every forwarded request ACCEPTED, echoes kPing bytes, half-closes
// and waits for the dialer's FIN (as tests/relay/relay_harness.hpp hold() does, plus the echo).
asio::awaitable<void> hold_echo(std::shared_ptr<portal::mux::Session> s) {
  auto ex = co_await asio::this_coro::executor;
  for (;;) {
    auto st = co_await s->async_accept();
    if (!st) co_return;
    asio::co_spawn(
        ex,
        [](std::unique_ptr<portal::stream::ByteStream> raw) -> asio::awaitable<void> {
          auto in = co_await portal::client::read_incoming(std::move(raw));
          if (!in) co_return;
          auto r = co_await portal::client::answer_incoming(std::move(*in),
                                                            portal::wire::ResponseCode::Accepted);
          if (!r || !*r) co_return;
          auto& stream = **r;
          Bytes buf(kPing);
          if (!co_await read_exact(stream, buf)) co_return;
          if (!co_await stream.async_write(buf)) co_return;
          (void)co_await stream.async_shutdown_write();
          co_await read_to_end(stream);
        }(std::move(*st)),
        asio::detached);
  }
}

struct RateResult {
  int done = 0;
  double secs = 0;
  std::vector<double> total_ms;    // request to both FINs, per connection
  std::vector<double> request_ms;  // request_connection alone (the relay's ACCEPTED)
};

// Nearest-rank percentile of `v` (sorted here), in the same unit.
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

// Up to `n` connections one after another through the relay at `uri`, both sessions connected
// with `settings`; stops after kRateBudget.
RateResult connection_rate(asio::io_context& io, Stack& stack, const std::string& uri,
                           const portal::transport::Settings& settings, int n) {
  auto holder = run(io, stack.session(io, uri, settings));
  auto dialer = run(io, stack.session(io, uri, settings));
  const auto me = register_lease(io, *holder, "rate", "bench");
  asio::co_spawn(io, hold_echo(holder), asio::detached);
  auto watchdog = arm_watchdog(io, "connection setup over " + uri);
  RateResult out;
  const auto start = Clock::now();
  out.done = run(io, [&]() -> asio::awaitable<int> {
    const Bytes ping(kPing, 7);
    Bytes echo(kPing);
    int i = 0;
    for (; i < n && Clock::now() - start < kRateBudget; ++i) {
      const auto t0 = Clock::now();
      auto dialed = co_await portal::client::request_connection(*dialer, me.id());
      if (!dialed || dialed->code != portal::wire::ResponseCode::Accepted || !dialed->stream) {
        std::fprintf(stderr, "connection %d over %s refused or failed\n", i, uri.c_str());
        std::exit(1);
      }
      const auto t1 = Clock::now();
      auto& s = *dialed->stream;
      if (!co_await s.async_write(ping) || !co_await read_exact(s, echo) || echo != ping) {
        std::fprintf(stderr, "connection %d over %s: no echo\n", i, uri.c_str());
        std::exit(1);
      }
      (void)co_await s.async_shutdown_write();
      co_await read_to_end(s);
      const auto t2 = Clock::now();
      out.request_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      out.total_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
    }
    co_return i;
  }());
  out.secs = std::chrono::duration<double>(Clock::now() - start).count();
  watchdog->cancel();
  holder->close();
  dialer->close();
  io.restart();
  io.run_for(std::chrono::milliseconds(100));
  return out;
}

void rate_row(const char* what, const RateResult& r, const std::string& note) {
  std::printf("| %-40s | %5d | %8.0f/s | %7.2f | %7.2f | %7.2f | %-50s |\n", what, r.done,
              r.done / r.secs, percentile(r.total_ms, 0.50), percentile(r.total_ms, 0.99),
              percentile(r.request_ms, 0.50), note.c_str());
}

// ---- new sessions, sequential -------------------------------------------------------------

struct SessionResult {
  int done = 0;
  double secs = 0;
  double relay_cpu = 0;          // seconds, the relay's, over the row
  std::vector<double> total_ms;  // connect (TCP, TLS, WebSocket) + yamux + RelayInfo answered
};

// Up to `n` new sessions one after another to the relay at `uri` (pid `relay`): each connects
// its transport (a full TLS handshake on tls:// and wss://: the client keeps no session),
// starts yamux, asks RelayInfo and closes. Stops after kRateBudget.
SessionResult session_rate(asio::io_context& io, Stack& stack, const std::string& uri,
                           const portal::transport::Settings& settings, int n, pid_t relay) {
  auto watchdog = arm_watchdog(io, "new sessions over " + uri);
  SessionResult out;
  const double cpu0 = cpu_seconds(relay);
  const auto start = Clock::now();
  out.done = run(io, [&]() -> asio::awaitable<int> {
    int i = 0;
    for (; i < n && Clock::now() - start < kRateBudget; ++i) {
      const auto t0 = Clock::now();
      auto s = co_await stack.session(io, uri, settings);
      auto info = co_await portal::client::relay_info(*s);
      if (!info) {
        std::fprintf(stderr, "session %d over %s: no RelayInfo (%s)\n", i, uri.c_str(),
                     info.error().message().c_str());
        std::exit(1);
      }
      out.total_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      s->close();
    }
    co_return i;
  }());
  out.secs = std::chrono::duration<double>(Clock::now() - start).count();
  watchdog->cancel();
  io.restart();
  io.run_for(std::chrono::milliseconds(100));
  out.relay_cpu = cpu_seconds(relay) - cpu0;
  return out;
}

void session_row(const char* what, const SessionResult& r, const std::string& note) {
  std::printf("| %-28s | %5d | %8.0f/s | %7.2f | %7.2f | %9.3f | %-30s |\n", what, r.done,
              r.done / r.secs, percentile(r.total_ms, 0.50), percentile(r.total_ms, 0.99),
              r.done > 0 ? 1000 * r.relay_cpu / r.done : 0.0, note.c_str());
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "portal-bench-relay: %s\n", why.c_str());
  std::exit(2);
}

long count(const std::string& text) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < 0) usage("not a count: '" + text + "'");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--relay-json") {
      if (i + 1 >= argc || !portal::bench::set_relay_config_extra(argv[++i])) {
        usage("--relay-json needs a JSON object");
      }
    } else if (a.rfind("--", 0) == 0) {
      usage("unknown option " + a);
    } else {
      positional.push_back(a);
    }
  }
  const std::size_t total =
      static_cast<std::size_t>(positional.size() > 0 ? count(positional[0]) : 1024) << 20;
  std::vector<int> idle_counts;
  {
    const std::string list = positional.size() > 1 ? positional[1] : "1000";
    std::size_t start = 0;
    while (start <= list.size()) {
      const auto comma = std::min(list.find(',', start), list.size());
      const int n = static_cast<int>(count(list.substr(start, comma - start)));
      if (n > 0) idle_counts.push_back(n);
      start = comma + 1;
    }
  }
  const int setups = positional.size() > 2 ? static_cast<int>(count(positional[2])) : 500;
  if (json && setups > 0) usage("--json prints only the bulk and idle tables: give 0 setups");
  std::string limit_error;
  const rlim_t fd_limit = portal::bench::raise_descriptor_limit(limit_error);
  std::atexit(kill_children);
  std::uint16_t copy_port = 0;
  const pid_t copy = start_copy_relay(copy_port);

  asio::io_context io(1);
  Stack stack;
  portal::plugin::HostOptions ho;
  ho.directories = {PORTAL_BUILD_PLUGIN_DIR};
  stack.host = std::make_unique<portal::plugin::Host>(ho);
  stack.host->load_all();
  stack.mux = *(*stack.host->find_provider(portal::plugin::Kind::Mux, "yamux"))
                   ->factory<portal::mux::MuxFactory>();
  RelayChild relay("{}", true);
  const portal::transport::Settings trust{{"ca_file", relay.ca_file}};

  if (total > 0) {
    if (!json) {
      std::printf("| %-34s | %-13s | %-16s |\n", "relay (one direction)", "throughput",
                  "relay CPU");
      std::printf("|------------------------------------|---------------|------------------|\n");
    }
    double c0 = cpu_seconds(copy);
    double secs = copy_transfer(io, copy_port, total);
    row("plain copy relay, TCP (baseline)", "copy", secs, cpu_seconds(copy) - c0, total);
    for (const auto& [uri, name, tag] :
         {std::tuple{relay.tcp, "portal-relay, yamux over tcp://", "tcp"},
          std::tuple{relay.tls, "portal-relay, yamux over tls://", "tls"},
          std::tuple{relay.ws, "portal-relay, yamux over ws://", "ws"},
          std::tuple{relay.wss, "portal-relay, yamux over wss://", "wss"}}) {
      c0 = cpu_seconds(relay.pid);
      secs = portal_transfer(
          io, stack, uri, total,
          uri == relay.tls || uri == relay.wss ? trust : portal::transport::Settings{});
      row(name, tag, secs, cpu_seconds(relay.pid) - c0, total);
    }
  }
  ::kill(copy, SIGTERM);
  ::waitpid(copy, nullptr, 0);
  std::erase(children(), copy);

  if (!idle_counts.empty()) {
    double fresh_rss = 0;  // a relay that has served nothing yet (`relay` above has)
    {
      RelayChild fresh;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      fresh_rss = rss_bytes(fresh.pid);
    }
    if (json) {
      JsonLine()
          .str("bench", "relay")
          .str("table", "idle")
          .str("row", "portal-relay, no connections")
          .str("transport", "-")
          .num("connections", 0)
          .num("rss_after_MiB", fresh_rss / 1048576.0)
          .print();
    } else {
      std::printf("\n| %-34s | %-13s | %-26s |\n", "idle lease connections", "count", "relay RSS");
      std::printf(
          "|------------------------------------|---------------|----------------------------|\n");
      std::printf("| %-34s | %13s | %17.1f MiB total |\n", "portal-relay, no connections", "-",
                  fresh_rss / 1048576.0);
    }
    for (const int n : idle_counts) {
      // Each connection takes one descriptor here and one in the relay (which raises its own
      // soft limit to the hard one, inherited from this process), plus a few for the rest.
      const rlim_t needed = static_cast<rlim_t>(n) + 256;
      if (fd_limit < needed) {
        const std::string why = "descriptor limit " + std::to_string(fd_limit) + " < " +
                                std::to_string(needed) + " needed" +
                                (limit_error.empty() ? "" : " (" + limit_error + ")") +
                                "; raise the hard limit (ulimit -Hn) to run this row";
        for (const char* tag : {"ws", "tcp"}) {
          if (json) {
            JsonLine()
                .str("bench", "relay")
                .str("table", "idle")
                .str("row", std::string("portal-relay over ") + tag + "://")
                .str("transport", tag)
                .num("connections", n)
                .str("error", why)
                .print();
          } else {
            std::printf("| portal-relay over %s:// | %6d leases | not run: %s |\n", tag, n,
                        why.c_str());
          }
        }
        continue;
      }
      idle_leases(io, stack, true, "portal-relay over ws://", n);
      idle_leases(io, stack, false, "portal-relay over tcp://", n);
    }
  }

  if (setups > 0) {
    // Each row gets a fresh relay; the last one has TCP_NODELAY off on the relay's accepted ws
    // sockets and on the bench's ws client sockets: the behaviour before nodelay was set.
    std::printf("\n| %-40s | %5s | %10s | %7s | %7s | %7s | %-50s |\n",
                "connection setup, sequential", "done", "rate", "p50 ms", "p99 ms", "req p50",
                "note");
    std::printf(
        "|------------------------------------------|-------|------------|---------|---------|"
        "---------|----------------------------------------------------|\n");
    RateResult tcp, ws, before;
    {
      RelayChild r;
      tcp = connection_rate(io, stack, r.tcp, {}, setups);
    }
    rate_row("portal-relay, tcp://", tcp, "baseline");
    {
      RelayChild r;
      ws = connection_rate(io, stack, r.ws, {}, setups);
    }
    const double tcp_rate = tcp.done / tcp.secs, ratio = ws.done / ws.secs / tcp_rate;
    char note[96];
    std::snprintf(note, sizeof note, "must be within 20 %% of tcp: %.0f %% of it, %s", 100 * ratio,
                  ratio >= 0.8 ? "met" : "NOT MET");
    rate_row("portal-relay, ws:// (default, nodelay)", ws, note);
    {
      RelayChild r(R"({"ws": {"nodelay": "false"}})");
      before = connection_rate(io, stack, r.ws, {{"nodelay", "false"}}, setups);
    }
    std::snprintf(note, sizeof note, "BEFORE the fix (Nagle + delayed ACK): %.1f %% of tcp",
                  100 * before.done / before.secs / tcp_rate);
    rate_row("ws://, nodelay=false both ends (before)", before, note);
    // TLS: the sessions are made once per row, so this is the per-connection path inside TLS.
    for (const bool secure_ws : {false, true}) {
      RateResult r;
      {
        RelayChild child("{}", true);
        r = connection_rate(io, stack, secure_ws ? child.wss : child.tls,
                            {{"ca_file", child.ca_file}}, setups);
      }
      std::snprintf(note, sizeof note, "%.0f %% of the plaintext row (%s)",
                    100 * r.done / r.secs / (secure_ws ? ws.done / ws.secs : tcp_rate),
                    secure_ws ? "ws://" : "tcp://");
      rate_row(secure_ws ? "portal-relay, wss://" : "portal-relay, tls://", r, note);
    }

    // New sessions: what a client pays to arrive, and what the relay pays per arrival (the
    // TLS handshake is in every tls:// and wss:// one).
    std::printf("\n| %-28s | %5s | %10s | %7s | %7s | %9s | %-30s |\n", "new sessions, sequential",
                "done", "rate", "p50 ms", "p99 ms", "relay CPU", "note");
    std::printf(
        "|------------------------------|-------|------------|---------|---------|------"
        "-----|--------------------------------|\n");
    RelayChild child("{}", true);
    const portal::transport::Settings ca{{"ca_file", child.ca_file}};
    // Each TLS scheme against its plaintext twin, both on the same relay.
    for (const auto& [plain, secure, name] :
         {std::tuple{child.tcp, child.tls, std::string("tcp://")},
          std::tuple{child.ws, child.wss, std::string("ws://")}}) {
      const auto base = session_rate(io, stack, plain, {}, setups, child.pid);
      session_row(name.c_str(), base, "baseline; relay CPU in ms each");
      const auto tls = session_rate(io, stack, secure, ca, setups, child.pid);
      std::snprintf(note, sizeof note, "%.0f %% of %s's rate",
                    100 * tls.done / tls.secs / (base.done / base.secs), name.c_str());
      const std::string row =
          (name == "tcp://" ? "tls://" : "wss://") + std::string(" (full handshake)");
      session_row(row.c_str(), tls, note);
    }
  }
  return 0;
}
