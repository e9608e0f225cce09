// SPDX-License-Identifier: Apache-2.0
// End-to-end encrypted traffic through the real portal-relay, as users run it: three processes
// (the relay, a lease holder, a dialer; this process is the dialer), the client SDK at both
// ends, the SDK's default channel (the negotiated one of docs/adr/0014 between our peers) and
// the active cipher implementation (client::assemble picks the fastest plugin; --ciphers sets
// the list). Every relay row runs over each transport asked for (ws://, tcp://, and the
// TLS transports tls:// and wss:// with a throwaway certificate). Tables (--rows):
//   - bulk: download (holder -> dialer) and upload (dialer -> holder) of one stream, with the
//     relay's CPU per GiB; baselines in the same run: direct TCP between the two processes (no
//     encryption), the same through a plain copy relay (a child process that copies bytes),
//     the direct secure channel (no relay), and the secure channel through the copy relay;
//   - streams: aggregate download over 1, 8, 64... concurrent streams (E2EE, one relay session
//     per side), against the direct secure channel with as many connections;
//   - rtt: 64-byte round trips over one open connection, p50 and p99, against direct TCP and the
//     direct secure channel;
//   - conn: new E2EE connections (dial by ID: the relay's ConnectionRequest and the v1
//     handshake, one 32-byte echo, both ends close), sequential and with 32 in parallel, against
//     the direct secure channel (TCP connect and the same handshake);
//   - fleet: two more relays, A and B, sharing a Redis directory of their own (a redis-server
//     child) and listing each other as peers (docs/fleet.md, "Peering"); the holder's lease is
//     on A. The same bulk transfer (with both relays' CPU per GiB) and sequential new
//     connections, dialed by lease ID on A (same relay) and on B (B forwards to A over its
//     peer session), by the same method: a mux session to the relay, a ConnectionRequest
//     (client::request_connection) and the handshake. tcp:// only.
//   - rate (not in the default rows): bandwidth limits (ADR 0017 §4). One more relay, whose
//     config limits one lease identity (limits.lease_bytes_per_second_by_id, --rate-limit-mib,
//     default 16 MiB/s) and not another. The limited lease downloads, then uploads, --rate-mib
//     (default 64) while the unlimited lease transfers the same way on the same relay at the
//     same time; the table gives the limit, the limited lease's delivered rate and its
//     deviation from the limit, and the unlimited lease's rate meanwhile next to its rate alone
//     (the same transfer with nothing else running, in the same run). tcp:// only.
//
//   build/release/bench/portal-bench-e2e [MiB per bulk row, default 1024] [options]
//     --json                one JSON object per row on stdout instead of tables
//     --rows bulk,streams,rtt,conn,fleet,rate   --transports ws,tcp,tls,wss
//     --rate-mib 64         --rate-limit-mib 16
//     --streams 1,8,64      --stream-mib 512 (in all, split over the streams)
//     --rtts 2000           --seq 500   --par 1000   --parallel 32   --budget 10 (s per row)
//     --relay-json '{...}'  extra top-level members of the relay's config (e.g. threads)
//     --ciphers aes-256-gcm,chacha20-poly1305  the client config's `ciphers` at both ends
//     --cipher-file portal-cipher-openssl.so   the one cipher plugin both ends load (default:
//                           all, and each process takes the fastest, as client::assemble does);
//                           the fleet table's relays A and B load only it too (their peer
//                           sessions' cipher; default: every plugin of the build)

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "bench_io.hpp"
#include "bench_process.hpp"
#include "portal/base/log.hpp"
#include "portal/base/random.hpp"
#include "portal/client/client.hpp"
#include "portal/client/control.hpp"
#include "portal/platform/key_file.hpp"
#include "portal/secure_stream/secure_stream.hpp"
#include "portal/transport/transport.hpp"

namespace {

namespace asio = boost::asio;
namespace client = portal::client;
using portal::base::Byte;
using portal::base::Bytes;
using portal::bench::cpu_seconds;
using portal::bench::JsonLine;
using portal::bench::run;
using Clock = std::chrono::steady_clock;
using StreamPtr = std::unique_ptr<portal::stream::ByteStream>;

constexpr std::size_t kChunk = 256 * 1024;
constexpr std::size_t kRtt = 64;   // bytes per round trip
constexpr std::size_t kPing = 32;  // bytes echoed per new connection
constexpr const char* kAlpn = "bench/1";
constexpr int kFleetHeartbeatMs = 500;  // the fleet table's relays' fleet.heartbeat_ms

struct Args {
  bool json = false;
  std::uint64_t bulk = std::uint64_t{1024} << 20;
  std::set<std::string> rows{"bulk", "streams", "rtt", "conn", "fleet"};
  std::vector<std::string> transports{"ws", "tcp", "tls", "wss"};
  std::vector<int> streams{1, 8, 64};
  std::uint64_t stream_total = std::uint64_t{512} << 20;
  int rtts = 2000, seq = 500, par = 1000, parallel = 32;
  double budget = 10;
  // --cipher-file: the only cipher plugin file both ends load (empty: every one present, and
  // each process takes the fastest, as client::assemble does).
  std::string cipher_file;
  // --ciphers: the client config's `ciphers` at both ends, most preferred first (empty: the
  // default list; the negotiated channel takes the first both have).
  std::vector<std::string> ciphers;
  std::string plugin_dir = PORTAL_BUILD_PLUGIN_DIR;
  // The rate table: bytes the limited lease moves each way, and its limit in bytes per second.
  std::uint64_t rate_total = std::uint64_t{64} << 20;
  std::uint64_t rate_limit = std::uint64_t{16} << 20;
};
Args args;
// The rate table's lease identities (seeds), by the holder's lease label: made before the
// holder forks, so that the rate relay's config can name the limited one.
std::map<std::string, Bytes> holder_seeds;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "portal-bench-e2e: %s\n", what.c_str());
  std::exit(1);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto comma = s.find(',', start);
    const auto end = comma == std::string::npos ? s.size() : comma;
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

long number(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < 0) fail(flag + ": not a number: '" + text + "'");
  return v;
}

// Nearest-rank percentile of `v`.
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

std::shared_ptr<client::Stack> stack_for(const std::vector<std::string>& relays,
                                         const std::string& ca_file) {
  portal::config::ClientConfig cfg;
  cfg.plugin_dirs = {args.plugin_dir};
  cfg.relays = relays;
  cfg.transport_settings["tls"]["ca_file"] = ca_file;
  cfg.transport_settings["wss"]["ca_file"] = ca_file;
  for (const auto& c : args.ciphers) cfg.ciphers.push_back({c, {}});
  if (!args.ciphers.empty() && std::find(args.ciphers.begin(), args.ciphers.end(),
                                         "chacha20-poly1305") == args.ciphers.end()) {
    cfg.channel = "negotiated";
  }
  std::string error;
  auto s = client::assemble(cfg, error);
  if (!s) fail("stack: " + error);
  return s;
}

// The implementation (plugin id) of the stack's first cipher.
std::string first_plugin(const client::Stack& stack) {
  if (stack.ciphers.empty() || stack.ciphers.front().candidates.empty()) return "?";
  return stack.ciphers.front().algorithm + ":" + stack.ciphers.front().candidates.front().plugin_id;
}

// ---- the lease holder ------------------------------------------------------------------------

asio::awaitable<bool> read_exact(portal::stream::ByteStream& s, portal::base::MutableByteSpan buf) {
  for (std::size_t got = 0; got < buf.size();) {
    auto n = co_await s.async_read_some(buf.subspan(got));
    if (!n || *n == 0) co_return false;
    got += *n;
  }
  co_return true;
}

// The protocol between the two ends, chosen by the first byte:
//   'u': the dialer sends until its FIN, the holder answers one byte;
//   'd' and 8 bytes (big endian): the holder sends that many bytes;
//   'e': the holder echoes everything until the dialer's FIN.
// The holder half-closes at the end of each.
asio::awaitable<void> serve(std::shared_ptr<portal::stream::ByteStream> s) {
  std::array<Byte, 9> head{};
  if (!co_await read_exact(*s, portal::base::MutableByteSpan(head.data(), 1))) co_return;
  Bytes buf(kChunk);
  if (head[0] == 'u') {
    for (;;) {
      auto n = co_await s->async_read_some(buf);
      if (!n || *n == 0) break;
    }
    const Byte ack = 'k';
    if (!co_await s->async_write(portal::base::ByteSpan(&ack, 1))) co_return;
  } else if (head[0] == 'e') {
    for (;;) {
      auto n = co_await s->async_read_some(buf);
      if (!n || *n == 0) break;
      if (!co_await s->async_write(portal::base::ByteSpan(buf.data(), *n))) co_return;
    }
  } else if (head[0] == 'd') {
    if (!co_await read_exact(*s, portal::base::MutableByteSpan(head.data() + 1, 8))) co_return;
    std::uint64_t total = 0;
    for (std::size_t i = 1; i < 9; ++i) total = (total << 8) | head[i];
    for (std::uint64_t sent = 0; sent < total; sent += kChunk) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, total - sent));
      if (!co_await s->async_write(portal::base::ByteSpan(buf.data(), n))) co_return;
    }
  } else {
    co_return;
  }
  (void)co_await s->async_shutdown_write();
}

// Accepts on `server`; with `secure`, runs the holder's handshake first (the secure-channel
// baselines), otherwise serves the raw TCP stream (the direct TCP baselines).
asio::awaitable<void> direct_accept_loop(portal::transport::Listener* server,
                                         const portal::stream::SecureStreamConfig* secure,
                                         portal::handshake::ReplayCache* replay) {
  const std::vector<std::string> alpns{kAlpn};
  for (;;) {
    auto raw = co_await server->async_accept();
    if (!raw) co_return;
    auto ex = co_await asio::this_coro::executor;
    if (!secure) {
      asio::co_spawn(ex, serve(std::shared_ptr<portal::stream::ByteStream>(std::move(*raw))),
                     asio::detached);
      continue;
    }
    asio::co_spawn(
        ex,
        [](StreamPtr in, const portal::stream::SecureStreamConfig* cfg,
           portal::handshake::ReplayCache* cache) -> asio::awaitable<void> {
          auto s = co_await portal::stream::async_secure_accept(
              std::move(in), *cfg, std::vector<std::string>(1, kAlpn), *cache);
          if (!s) co_return;
          co_await serve(std::shared_ptr<portal::stream::ByteStream>(std::move(*s)));
        }(std::move(*raw), secure, replay),
        asio::detached);
  }
}

// The lease holder process: a lease on each (transport, relay URI), a raw TCP port and a secure
// TCP port; reports "<raw port> <secure port> <direct ID> <cipher plugin> <transport>=<ID>..." on
// `report`, then serves until killed.
[[noreturn]] void holder(const std::vector<std::pair<std::string, std::string>>& relays,
                         const std::string& ca_file, int report) {
  asio::io_context io(1);
  std::vector<std::string> uris;
  for (const auto& r : relays) uris.push_back(r.second);
  auto stack = stack_for(uris, ca_file);
  auto me = *portal::identity::Credential::generate(portal::base::OsRandom::instance());
  const std::string id = me.id();
  portal::stream::SecureStreamConfig secure;
  auto direct_cred = *portal::identity::Credential::from_seed(me.seed().span());
  secure.credential = &direct_cred;
  client::use_ciphers(*stack, secure);
  portal::handshake::ReplayCache replay;
  auto tcp = *portal::transport::resolve(*stack->host, "tcp://127.0.0.1:0");
  const auto any = *portal::transport::parse_uri("tcp://127.0.0.1:0");
  auto raw_listener = *tcp->listen(io.get_executor(), any, {});
  auto secure_listener = *tcp->listen(io.get_executor(), any, {});
  // One identity and one lease per transport: an identity's lease lives on its newest relay
  // connection (spec), so one identity on every transport would put the holder's end of every
  // row on whichever transport registered last.
  std::vector<std::shared_ptr<client::Client>> clients;
  std::string ids;
  for (const auto& [transport, uri] : relays) {
    auto cred = holder_seeds.count(transport) != 0
                    ? *portal::identity::Credential::from_seed(holder_seeds.at(transport))
                    : *portal::identity::Credential::generate(portal::base::OsRandom::instance());
    ids += " " + transport + "=" + cred.id();
    client::Options options;
    options.relays = {uri};
    auto c = run(io, client::Client::connect(io.get_executor(), std::move(cred), stack, options));
    if (!c) std::_Exit(3);
    auto l = run(io, (*c)->listen("bench-e2e-" + transport, {kAlpn}));
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
    clients.push_back(std::move(*c));
  }
  asio::co_spawn(io, direct_accept_loop(raw_listener.get(), nullptr, &replay), asio::detached);
  asio::co_spawn(io, direct_accept_loop(secure_listener.get(), &secure, &replay), asio::detached);
  const std::string plugin = first_plugin(*stack);
  const std::string line = std::to_string(raw_listener->local_uri().port) + " " +
                           std::to_string(secure_listener->local_uri().port) + " " + id + " " +
                           plugin + ids + "\n";
  (void)!::write(report, line.data(), line.size());
  ::close(report);
  io.restart();
  io.run();
  std::_Exit(0);
}

// ---- the copy relay (baseline) -------------------------------------------------------------

// A child process that listens on one port per target and, for each connection, connects to
// its target port and copies bytes both ways (no framing, no mux): the floor for any relay.
pid_t start_copy_relay(const std::vector<std::uint16_t>& targets,
                       std::vector<std::uint16_t>& ports) {
  int fds[2];
  if (::pipe(fds) != 0) fail("pipe");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    asio::io_context io(1);
    std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors;
    const auto loopback = asio::ip::make_address("127.0.0.1");
    for (const auto target : targets) {
      acceptors.push_back(
          std::make_unique<asio::ip::tcp::acceptor>(io, asio::ip::tcp::endpoint{loopback, 0}));
      const std::uint16_t p = acceptors.back()->local_endpoint().port();
      (void)!::write(fds[1], &p, sizeof p);
      asio::co_spawn(
          io,
          [&acc = *acceptors.back(), target, loopback]() -> asio::awaitable<void> {
            for (;;) {
              auto in = std::make_shared<asio::ip::tcp::socket>(
                  co_await acc.async_accept(asio::use_awaitable));
              auto out = std::make_shared<asio::ip::tcp::socket>(acc.get_executor());
              co_await out->async_connect({loopback, target}, asio::use_awaitable);
              in->set_option(asio::ip::tcp::no_delay(true));
              out->set_option(asio::ip::tcp::no_delay(true));
              auto pump = [](std::shared_ptr<asio::ip::tcp::socket> from,
                             std::shared_ptr<asio::ip::tcp::socket> to) -> asio::awaitable<void> {
                std::vector<char> buf(64 * 1024);
                for (;;) {
                  boost::system::error_code ec;
                  const std::size_t n = co_await from->async_read_some(
                      asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
                  if (ec) break;
                  co_await asio::async_write(*to, asio::buffer(buf.data(), n),
                                             asio::redirect_error(asio::use_awaitable, ec));
                  if (ec) break;
                }
                boost::system::error_code ignored;
                to->shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
              };
              asio::co_spawn(acc.get_executor(), pump(in, out), asio::detached);
              asio::co_spawn(acc.get_executor(), pump(out, in), asio::detached);
            }
          },
          asio::detached);
    }
    ::close(fds[1]);
    io.run();
    std::_Exit(0);
  }
  ::close(fds[1]);
  portal::bench::children().push_back(pid);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    std::uint16_t p = 0;
    if (::read(fds[0], &p, sizeof p) != sizeof p) fail("the copy relay did not start");
    ports.push_back(p);
  }
  ::close(fds[0]);
  return pid;
}

// ---- the dialer --------------------------------------------------------------------------------

// One way to reach the holder: opens a new stream (a direct TCP connection, with or without the
// secure handshake, or a dial through a relay).
struct Target {
  std::string name;       // row label
  std::string transport;  // "ws", ..., or "direct"
  pid_t relay_pid = -1;   // whose CPU is charged to the row (-1: none)
  std::function<asio::awaitable<StreamPtr>()> open;
};

struct World {
  // Every Stack outlives the io_context (its plugins' handlers may still be queued there).
  std::vector<std::shared_ptr<client::Stack>> stacks;
  asio::io_context io{1};
  std::shared_ptr<client::Stack> stack;
  std::unique_ptr<portal::identity::Credential> me;
  portal::stream::SecureStreamConfig secure;
  std::string holder_id;                         // the direct (no relay) rows
  std::map<std::string, std::string> lease_ids;  // by transport: the relay rows
  pid_t holder_pid = -1;
  std::map<std::string, std::shared_ptr<client::Client>> clients;  // by transport

  asio::awaitable<StreamPtr> connect_tcp(std::uint16_t port) {
    auto tcp = *portal::transport::resolve(*stack->host, "tcp://127.0.0.1:0");
    auto raw = co_await tcp->async_connect(
        io.get_executor(), *portal::transport::parse_uri("tcp://127.0.0.1:" + std::to_string(port)),
        {});
    if (!raw) fail("connect to port " + std::to_string(port) + ": " + raw.error().message());
    co_return std::move(*raw);
  }
  asio::awaitable<StreamPtr> connect_secure(std::uint16_t port) {
    auto s = co_await portal::stream::async_secure_connect(co_await connect_tcp(port), secure,
                                                           holder_id, kAlpn);
    if (!s) fail("direct handshake: " + s.error().message());
    co_return std::move(*s);
  }
  asio::awaitable<StreamPtr> dial(const std::string& transport) {
    std::string detail;
    auto s = co_await clients.at(transport)->dial(lease_ids.at(transport), kAlpn, &detail);
    if (!s) fail("dial over " + transport + "://: " + s.error().message() + " " + detail);
    co_return std::move(*s);
  }
};

asio::awaitable<bool> write_all(portal::stream::ByteStream& s, portal::base::ByteSpan b) {
  co_return static_cast<bool>(co_await s.async_write(b));
}

// Moves `total` bytes in one direction over `s` (the stream is done after it).
asio::awaitable<bool> transfer(portal::stream::ByteStream& s, bool upload, std::uint64_t total) {
  Bytes buf(kChunk, 7);
  if (upload) {
    const Byte u = 'u';
    if (!co_await write_all(s, portal::base::ByteSpan(&u, 1))) co_return false;
    for (std::uint64_t sent = 0; sent < total; sent += kChunk) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, total - sent));
      if (!co_await write_all(s, portal::base::ByteSpan(buf.data(), n))) co_return false;
    }
    if (!co_await s.async_shutdown_write()) co_return false;
    Byte ack = 0;
    co_return co_await read_exact(s, portal::base::MutableByteSpan(&ack, 1)) && ack == 'k';
  }
  std::array<Byte, 9> head{'d'};
  for (std::size_t i = 0; i < 8; ++i) head[8 - i] = static_cast<Byte>(total >> (8 * i));
  if (!co_await write_all(s, head)) co_return false;
  std::uint64_t got = 0;
  for (;;) {
    auto n = co_await s.async_read_some(buf);
    if (!n || *n == 0) break;
    got += *n;
  }
  co_return got == total;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A stuck run must not hang: after `limit`, exits (std::exit kills the children) naming `what`.
std::unique_ptr<asio::steady_timer> watchdog(asio::io_context& io, std::string what,
                                             double limit_s) {
  auto t = std::make_unique<asio::steady_timer>(
      io, std::chrono::milliseconds(static_cast<long>(limit_s * 1000)));
  t->async_wait([what = std::move(what)](const boost::system::error_code& ec) {
    if (!ec) fail(what + ": no result in time, giving up");
  });
  return t;
}

// One download then one upload of args.bulk bytes on new streams of `t`: the seconds of each
// (a failed transfer or one past its watchdog ends the run).
std::array<double, 2> bulk_seconds(World& w, const Target& t) {
  std::array<double, 2> secs{};
  for (int up = 0; up < 2; ++up) {
    auto dog = watchdog(w.io, "bulk " + t.name, 120 + static_cast<double>(args.bulk) / 20e6);
    auto s = run(w.io, t.open());
    const auto start = Clock::now();
    const bool ok = run(w.io, transfer(*s, up == 1, args.bulk));
    secs[static_cast<std::size_t>(up)] = seconds_since(start);
    dog->cancel();
    if (!ok) fail("bulk " + t.name + ": transfer failed");
  }
  return secs;
}

void bulk_rows(World& w, const std::vector<Target>& targets) {
  if (!args.json) {
    std::printf("| %-44s | %-13s | %-13s | %-18s | %-19s |\n", "end-to-end bulk, one stream",
                "download", "upload", "relay CPU", "both ends' CPU");
    std::printf("|%s|%s|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(15, '-').c_str(),
                std::string(15, '-').c_str(), std::string(20, '-').c_str(),
                std::string(21, '-').c_str());
  }
  const double mb = static_cast<double>(args.bulk) / 1e6;
  const double gib = 2.0 * static_cast<double>(args.bulk) / (1024.0 * 1024.0 * 1024.0);
  for (const auto& t : targets) {
    const double cpu0 = t.relay_pid > 0 ? cpu_seconds(t.relay_pid) : 0;
    const double ends0 = cpu_seconds(::getpid()) + cpu_seconds(w.holder_pid);
    const auto secs = bulk_seconds(w, t);
    const double cpu = t.relay_pid > 0 ? (cpu_seconds(t.relay_pid) - cpu0) / gib : -1;
    const double ends = (cpu_seconds(::getpid()) + cpu_seconds(w.holder_pid) - ends0) / gib;
    if (args.json) {
      JsonLine line;
      line.str("bench", "e2e")
          .str("table", "bulk")
          .str("row", t.name)
          .str("transport", t.transport)
          .num("bytes", static_cast<double>(args.bulk))
          .num("down_MBps", mb / secs[0])
          .num("up_MBps", mb / secs[1])
          .num("ends_cpu_s_per_GiB", ends);
      if (cpu >= 0) line.num("relay_cpu_s_per_GiB", cpu);
      line.print();
    } else {
      char c[32] = "-";
      if (cpu >= 0) std::snprintf(c, sizeof c, "%.2f CPU-s/GiB", cpu);
      std::printf("| %-44s | %8.0f MB/s | %8.0f MB/s | %18s | %9.2f CPU-s/GiB |\n", t.name.c_str(),
                  mb / secs[0], mb / secs[1], c, ends);
    }
  }
}

void stream_rows(World& w, const std::vector<Target>& targets) {
  if (!args.json) {
    std::printf("\n| %-44s | %7s | %13s |\n", "aggregate download, concurrent streams", "streams",
                "throughput");
    std::printf("|%s|---------|---------------|\n", std::string(46, '-').c_str());
  }
  for (const auto& t : targets) {
    for (const int k : args.streams) {
      if (k <= 0) continue;
      auto dog =
          watchdog(w.io, "streams " + t.name, 120 + static_cast<double>(args.stream_total) / 20e6);
      std::vector<StreamPtr> streams;
      for (int i = 0; i < k; ++i) streams.push_back(run(w.io, t.open()));
      const std::uint64_t each = args.stream_total / static_cast<std::uint64_t>(k);
      int done = 0, failed = 0;
      const auto start = Clock::now();
      for (auto& s : streams) {
        asio::co_spawn(
            w.io,
            [&, s = s.get()]() -> asio::awaitable<void> {
              if (!co_await transfer(*s, false, each)) ++failed;
              ++done;
            },
            asio::detached);
      }
      w.io.restart();
      while (done < k) w.io.run_one();
      const double secs = seconds_since(start);
      dog->cancel();
      if (failed > 0) fail("streams " + t.name + ": " + std::to_string(failed) + " failed");
      const double rate = static_cast<double>(each) * k / secs / 1e6;
      if (args.json) {
        JsonLine()
            .str("bench", "e2e")
            .str("table", "streams")
            .str("row", t.name)
            .str("transport", t.transport)
            .num("streams", k)
            .num("bytes", static_cast<double>(each) * k)
            .num("MBps", rate)
            .print();
      } else {
        std::printf("| %-44s | %7d | %8.0f MB/s |\n", t.name.c_str(), k, rate);
      }
    }
  }
}

void rtt_rows(World& w, const std::vector<Target>& targets) {
  if (!args.json) {
    std::printf("\n| %-44s | %6s | %9s | %9s |\n", "64-byte round trips, open connection", "count",
                "p50 us", "p99 us");
    std::printf("|%s|--------|-----------|-----------|\n", std::string(46, '-').c_str());
  }
  for (const auto& t : targets) {
    auto dog = watchdog(w.io, "round trips " + t.name, 60 + args.rtts * 0.01);
    auto s = run(w.io, t.open());
    std::vector<double> us;
    const bool ok = run(w.io, [&]() -> asio::awaitable<bool> {
      const Byte e = 'e';
      if (!co_await write_all(*s, portal::base::ByteSpan(&e, 1))) co_return false;
      Bytes ping(kRtt, 9), pong(kRtt);
      const int warmup = 50;
      for (int i = 0; i < args.rtts + warmup; ++i) {
        const auto t0 = Clock::now();
        if (!co_await write_all(*s, ping)) co_return false;
        if (!co_await read_exact(*s, pong) || pong != ping) co_return false;
        if (i >= warmup) {
          us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        }
      }
      if (!co_await s->async_shutdown_write()) co_return false;
      for (;;) {
        auto n = co_await s->async_read_some(pong);
        if (!n || *n == 0) break;
      }
      co_return true;
    }());
    dog->cancel();
    if (!ok) fail("round trips " + t.name + ": echo failed");
    if (args.json) {
      JsonLine()
          .str("bench", "e2e")
          .str("table", "rtt")
          .str("row", t.name)
          .str("transport", t.transport)
          .num("count", static_cast<double>(us.size()))
          .num("p50_us", percentile(us, 0.50))
          .num("p99_us", percentile(us, 0.99))
          .print();
    } else {
      std::printf("| %-44s | %6zu | %9.1f | %9.1f |\n", t.name.c_str(), us.size(),
                  percentile(us, 0.50), percentile(us, 0.99));
    }
  }
}

// One new connection: open, 'e' and kPing bytes, read the echo, FIN, read the holder's FIN.
asio::awaitable<bool> one_connection(const Target& t) {
  auto s = co_await t.open();
  Bytes msg(kPing + 1, 7), echo(kPing);
  msg[0] = 'e';
  if (!co_await write_all(*s, msg)) co_return false;
  if (!co_await read_exact(*s, echo)) co_return false;
  if (!co_await s->async_shutdown_write()) co_return false;
  for (;;) {
    auto n = co_await s->async_read_some(echo);
    if (!n || *n == 0) break;
  }
  co_return true;
}

void conn_rows(World& w, const std::vector<Target>& targets) {
  if (!args.json) {
    std::printf("\n| %-44s | %8s | %5s | %9s | %7s | %7s |\n", "new E2EE connections", "parallel",
                "done", "rate", "p50 ms", "p99 ms");
    std::printf("|%s|----------|-------|-----------|---------|---------|\n",
                std::string(46, '-').c_str());
  }
  for (const auto& t : targets) {
    for (const int width : {1, args.parallel}) {
      const int n = width == 1 ? args.seq : args.par;
      if (n <= 0 || width <= 0) continue;
      auto dog = watchdog(w.io, "connections " + t.name, args.budget + 60);
      std::vector<double> ms;
      int started = 0, finished = 0, failed = 0;
      const auto start = Clock::now();
      const auto budget = std::chrono::duration<double>(args.budget);
      for (int worker = 0; worker < width; ++worker) {
        asio::co_spawn(
            w.io,
            [&]() -> asio::awaitable<void> {
              while (started < n && Clock::now() - start < budget) {
                ++started;
                const auto t0 = Clock::now();
                if (!co_await one_connection(t)) {
                  ++failed;
                } else {
                  ms.push_back(
                      std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
                }
              }
              ++finished;
            },
            asio::detached);
      }
      w.io.restart();
      while (finished < width) w.io.run_one();
      const double secs = seconds_since(start);
      dog->cancel();
      if (failed > 0) fail("connections " + t.name + ": " + std::to_string(failed) + " failed");
      const double rate = static_cast<double>(ms.size()) / secs;
      if (args.json) {
        JsonLine()
            .str("bench", "e2e")
            .str("table", "conn")
            .str("row", t.name)
            .str("transport", t.transport)
            .num("parallel", width)
            .num("done", static_cast<double>(ms.size()))
            .num("seconds", secs)
            .num("per_s", rate)
            .num("p50_ms", percentile(ms, 0.50))
            .num("p99_ms", percentile(ms, 0.99))
            .print();
      } else {
        std::printf("| %-44s | %8d | %5zu | %7.0f/s | %7.2f | %7.2f |\n", t.name.c_str(), width,
                    ms.size(), rate, percentile(ms, 0.50), percentile(ms, 0.99));
      }
    }
  }
}

// ---- the fleet table --------------------------------------------------------------------------

// Relays A and B of the fleet table and their directory: a redis-server of their own, identity
// key files made beforehand (so that each relay's config can list the other's ID) and each other
// in fleet.peers. Each relay's first listener is tcp://, the address its peer dials.
struct Fleet {
  std::string dir;  // the key files
  std::unique_ptr<portal::bench::RedisChild> redis;
  std::unique_ptr<portal::bench::RelayChild> a, b;
  std::string a_id, b_id;
  Clock::time_point started;

  Fleet() {
    namespace fs = std::filesystem;
    dir = "/tmp/portal-bench-fleet-" + std::to_string(::getpid());
    std::error_code ec;
    fs::create_directory(dir, ec);
    if (ec) fail("fleet: cannot create " + dir + ": " + ec.message());
    fs::permissions(dir, fs::perms::owner_all, ec);
    // The keys go when the bench ends, also by fail() (std::exit runs this, ~Fleet does not).
    static std::string keys;
    keys = dir;
    static const pid_t owner = ::getpid();
    std::atexit([] {
      std::error_code ignored;
      if (::getpid() == owner) std::filesystem::remove_all(keys, ignored);
    });
    auto key = [this](const std::string& name) {
      auto c = portal::identity::Credential::generate(portal::base::OsRandom::instance());
      if (!c) fail("fleet: cannot make a relay key: " + c.error().message());
      auto saved = portal::platform::save_key_file(fs::path(dir) / (name + ".key"), *c,
                                                   portal::platform::Overwrite::Yes);
      if (!saved) fail("fleet: cannot write " + name + ".key: " + saved.error().message());
      return c->id();
    };
    a_id = key("a");
    b_id = key("b");
    redis = std::make_unique<portal::bench::RedisChild>(PORTAL_REDIS_SERVER);
    const std::string prefix = "portal-bench-" + std::to_string(::getpid()) + ":";
    // With --cipher-file the relays load the same plugin directory as the ends: their peer
    // sessions' ChaCha20-Poly1305 is then that plugin's. Without it, all of the build's plugins,
    // and the relay takes the one it takes in a default install.
    const std::string plugins =
        args.cipher_file.empty() ? "" : R"("plugin_dirs": [")" + args.plugin_dir + R"("], )";
    auto config = [&](const std::string& name, const std::string& peer) {
      return plugins + R"("identity_key_file": ")" + dir + "/" + name +
             R"(.key", "directory": {"name": "redis", "settings": {"url": ")" + redis->url(0) +
             R"(", "key_prefix": ")" + prefix + R"("}}, "fleet": {"peers": [")" + peer +
             R"("], "heartbeat_ms": )" + std::to_string(kFleetHeartbeatMs) + "}";
    };
    a = std::make_unique<portal::bench::RelayChild>("{}", false, config("a", b_id));
    b = std::make_unique<portal::bench::RelayChild>("{}", false, config("b", a_id));
    started = Clock::now();
  }
  ~Fleet() {
    a.reset();
    b.reset();
    redis.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

// Whether relay `name` (pid `pid`) still runs, or how it ended: for the failure messages.
std::string relay_state(const std::string& name, pid_t pid) {
  int status = 0;
  const pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r == 0) return "relay " + name + " is running";
  if (r != pid) return "relay " + name + ": no status";
  std::erase(portal::bench::children(), pid);
  if (WIFSIGNALED(status)) {
    return "relay " + name + " was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  }
  return "relay " + name + " exited with status " + std::to_string(WEXITSTATUS(status));
}

// A mux session to the relay at `uri` on the dialer's stack, as Client opens one (its
// transport's settings, the mux factory and settings), without the Client around it: Client
// dials by what the relay's RelayInfo lists, which holds only the relay's own leases.
std::shared_ptr<portal::mux::Session> open_session(World& w, const std::string& uri) {
  auto factory = portal::transport::resolve(*w.stack->host, uri);
  if (!factory) fail("fleet: transport for " + uri + ": " + factory.error().message());
  auto parsed = portal::transport::parse_uri(uri);
  if (!parsed) fail("fleet: " + uri + ": " + parsed.error().message());
  portal::transport::Settings settings;
  if (auto it = w.stack->transport_settings.find(parsed->scheme);
      it != w.stack->transport_settings.end()) {
    settings = it->second;
  }
  auto st = run(w.io, (*factory)->async_connect(w.io.get_executor(), *parsed, settings));
  if (!st) fail("fleet: connect to " + uri + ": " + st.error().message());
  auto session =
      w.stack->mux->create(std::move(*st), portal::mux::Role::Client, w.stack->mux_settings);
  if (!session) fail("fleet: mux session to " + uri + ": " + session.error().message());
  return *session;
}

// The dialer of one fleet row: its own identity, so that each row starts with an empty share of
// the holder's replay cache (which keeps at most ReplayCache::kDefaultPerIdentity, 4,096,
// handshakes of one identity for 30 s, and resets the streams of further ones), and the
// dialer's channel settings (client::use_ciphers) with that identity.
struct FleetDialer {
  std::unique_ptr<portal::identity::Credential> me;
  portal::stream::SecureStreamConfig secure;
  std::shared_ptr<portal::mux::Session> session;  // to the relay dialed
};

// One connection to `lease_id` through the relay of `dialer->session`: a ConnectionRequest on a
// new stream (client::request_connection, with the dialer's identity as Client sends it), then the
// handshake on the relayed stream as Client::dial runs it. Anything but ACCEPTED ends the bench.
asio::awaitable<StreamPtr> fleet_dial(Fleet& f, std::shared_ptr<FleetDialer> dialer,
                                      std::string lease_id, std::string relay) {
  static std::map<std::string, int> dials;  // accepted, by relay: for the failure messages
  auto states = [&f, &relay] {
    return " (after " + std::to_string(dials[relay]) + " dials through it); " +
           relay_state("A", f.a->pid) + ", " + relay_state("B", f.b->pid) +
           " (relay logs: stderr above; configs in " + f.a->dir + " and " + f.b->dir + ")";
  };
  auto d = co_await client::request_connection(*dialer->session, lease_id, dialer->me->identity(),
                                               std::chrono::seconds(20));
  if (!d) {
    fail("fleet: ConnectionRequest on relay " + relay + ": " + d.error().message() + states());
  }
  if (d->code != portal::wire::ResponseCode::Accepted || !d->stream) {
    fail("fleet: relay " + relay +
         " refused the dial to the lease on A: " + portal::wire::to_string(d->code) + states());
  }
  ++dials[relay];
  auto s = co_await portal::stream::async_secure_connect(std::move(d->stream), dialer->secure,
                                                         lease_id, kAlpn);
  if (!s) fail("fleet: handshake through relay " + relay + ": " + s.error().message() + states());
  co_return std::move(*s);
}

// `text` padded with spaces to `width` characters (UTF-8: the arrow of a row label is one).
std::string pad(const std::string& text, std::size_t width) {
  std::size_t chars = 0;
  for (const char c : text) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return chars >= width ? text : text + std::string(width - chars, ' ');
}

void fleet_rows(World& w, Fleet& f, const std::string& lease_id) {
  // B learns where A is (A's membership record, fleet.peer_uri or its first listener) at its
  // heartbeat: three heartbeats after both started, it has read it at least twice.
  const auto ready = f.started + std::chrono::milliseconds(3 * kFleetHeartbeatMs);
  if (Clock::now() < ready) std::this_thread::sleep_until(ready);
  auto dialer = [&w](const std::string& uri) {
    auto d = std::make_shared<FleetDialer>();
    d->me = std::make_unique<portal::identity::Credential>(
        *portal::identity::Credential::generate(portal::base::OsRandom::instance()));
    d->secure.credential = d->me.get();
    client::use_ciphers(*w.stack, d->secure);
    d->session = open_session(w, uri);
    return d;
  };
  auto on_a = dialer(f.a->tcp);
  auto on_b = dialer(f.b->tcp);
  const std::vector<Target> targets{
      {"fleet: dialer on A (same relay)", "tcp", f.a->pid,
       [&f, on_a, lease_id]() { return fleet_dial(f, on_a, lease_id, "A"); }},
      {"fleet: dialer on B → A (across relays)", "tcp", f.b->pid,
       [&f, on_b, lease_id]() { return fleet_dial(f, on_b, lease_id, "B"); }}};
  const std::string relay_plugins = args.cipher_file.empty() ? "all" : args.cipher_file;
  if (!args.json) {
    std::printf("\nfleet relays' cipher plugins: %s\n", relay_plugins.c_str());
    std::printf("| %-44s | %-13s | %-13s | %-15s | %-15s | %-9s | %7s | %7s | %-12s |\n",
                "fleet: E2EE over tcp://, lease on relay A", "download", "upload", "relay A CPU",
                "relay B CPU", "new conns", "p50 ms", "p99 ms", "relays' CPU");
    std::printf(
        "|%s|---------------|---------------|-----------------|-----------------|"
        "-----------|---------|---------|--------------|\n",
        std::string(46, '-').c_str());
  }
  const double mb = static_cast<double>(args.bulk) / 1e6;
  const double gib = 2.0 * static_cast<double>(args.bulk) / (1024.0 * 1024.0 * 1024.0);
  for (const auto& t : targets) {
    // Bulk: one stream each way, as the bulk table.
    const double a0 = cpu_seconds(f.a->pid), b0 = cpu_seconds(f.b->pid);
    const double ends0 = cpu_seconds(::getpid()) + cpu_seconds(w.holder_pid);
    const auto secs = bulk_seconds(w, t);
    const double a_cpu = (cpu_seconds(f.a->pid) - a0) / gib;
    const double b_cpu = (cpu_seconds(f.b->pid) - b0) / gib;
    const double ends = (cpu_seconds(::getpid()) + cpu_seconds(w.holder_pid) - ends0) / gib;
    // New connections, one at a time, as the conn table's sequential row.
    std::vector<double> ms;
    const double ca0 = cpu_seconds(f.a->pid) + cpu_seconds(f.b->pid);
    const double redis0 = cpu_seconds(f.redis->pid());
    const auto start = Clock::now();
    if (args.seq > 0) {
      auto dog = watchdog(w.io, "connections " + t.name, args.budget + 60);
      const auto budget = std::chrono::duration<double>(args.budget);
      while (static_cast<int>(ms.size()) < args.seq && Clock::now() - start < budget) {
        const auto t0 = Clock::now();
        if (!run(w.io, one_connection(t))) fail("connections " + t.name + ": echo failed");
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
      dog->cancel();
    }
    const double conn_secs = seconds_since(start);
    const double rate = ms.empty() ? 0 : static_cast<double>(ms.size()) / conn_secs;
    const double conns = static_cast<double>(std::max<std::size_t>(ms.size(), 1));
    const double conn_cpu_ms = (cpu_seconds(f.a->pid) + cpu_seconds(f.b->pid) - ca0) * 1e3 / conns;
    const double redis_cpu_ms = (cpu_seconds(f.redis->pid()) - redis0) * 1e3 / conns;
    if (args.json) {
      JsonLine line;
      line.str("bench", "e2e")
          .str("table", "fleet")
          .str("row", t.name)
          .str("transport", t.transport)
          .str("relay_cipher_plugins", relay_plugins)
          .num("bytes", static_cast<double>(args.bulk))
          .num("down_MBps", mb / secs[0])
          .num("up_MBps", mb / secs[1])
          .num("relay_a_cpu_s_per_GiB", a_cpu)
          .num("relay_b_cpu_s_per_GiB", b_cpu)
          .num("relays_cpu_s_per_GiB", a_cpu + b_cpu)
          .num("ends_cpu_s_per_GiB", ends);
      if (!ms.empty()) {
        line.num("done", static_cast<double>(ms.size()))
            .num("seconds", conn_secs)
            .num("per_s", rate)
            .num("p50_ms", percentile(ms, 0.50))
            .num("p99_ms", percentile(ms, 0.99))
            .num("relays_cpu_ms_per_conn", conn_cpu_ms)
            .num("redis_cpu_ms_per_conn", redis_cpu_ms);
      }
      line.print();
    } else {
      std::printf(
          "| %s | %8.0f MB/s | %8.0f MB/s | %5.2f CPU-s/GiB | %5.2f CPU-s/GiB | %7.0f/s | %7.2f "
          "| %7.2f | %5.2f ms/conn |\n",
          pad(t.name, 44).c_str(), mb / secs[0], mb / secs[1], a_cpu, b_cpu, rate,
          percentile(ms, 0.50), percentile(ms, 0.99), conn_cpu_ms);
    }
  }
  on_a->session->close();
  on_b->session->close();
}

// ---- the rate table ---------------------------------------------------------------------------

// Progress of one counted_transfer().
struct Flow {
  std::uint64_t got = 0;  // bytes read (download) or written (upload) so far
  bool ok = false;        // all of it, and the end acknowledged as transfer() does
  bool done = false;
};

// transfer(), counting as it goes; the caller may close `s` to end it early.
asio::awaitable<void> counted_transfer(std::shared_ptr<portal::stream::ByteStream> s, bool upload,
                                       std::uint64_t total, std::shared_ptr<Flow> f) {
  Bytes buf(kChunk, 7);
  if (upload) {
    const Byte u = 'u';
    bool ok = co_await write_all(*s, portal::base::ByteSpan(&u, 1));
    while (ok && f->got < total) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, total - f->got));
      ok = co_await write_all(*s, portal::base::ByteSpan(buf.data(), n));
      if (ok) f->got += n;
    }
    if (ok && co_await s->async_shutdown_write()) {
      Byte ack = 0;
      f->ok = co_await read_exact(*s, portal::base::MutableByteSpan(&ack, 1)) && ack == 'k';
    }
  } else {
    std::array<Byte, 9> head{'d'};
    for (std::size_t i = 0; i < 8; ++i) head[8 - i] = static_cast<Byte>(total >> (8 * i));
    if (co_await write_all(*s, head)) {
      for (;;) {
        auto n = co_await s->async_read_some(buf);
        if (!n || *n == 0) break;
        f->got += *n;
      }
      f->ok = f->got == total;
    }
  }
  f->done = true;
}

// The rate relay's two leases: "rate-limited" (limited to args.rate_limit) and "rate-free".
void rate_rows(World& w) {
  const double mib = 1024.0 * 1024.0;
  const double limit = static_cast<double>(args.rate_limit) / mib;
  const double total = static_cast<double>(args.rate_total) / mib;
  if (!args.json) {
    std::printf("\n| %-44s | %-9s | %-15s | %-15s | %-9s | %-15s | %-19s |\n",
                "rate: one lease limited, one not, tcp://", "direction", "limit", "delivered",
                "deviation", "unlimited alone", "unlimited meanwhile");
    std::printf(
        "|%s|-----------|-----------------|-----------------|-----------|"
        "-----------------|---------------------|\n",
        std::string(46, '-').c_str());
  }
  for (int up = 0; up < 2; ++up) {
    const char* direction = up == 1 ? "upload" : "download";
    // The unlimited lease alone: the baseline.
    double alone = 0;
    {
      auto dog = watchdog(w.io, "rate: unlimited lease alone", 120);
      auto s = run(w.io, w.dial("rate-free"));
      const auto start = Clock::now();
      if (!run(w.io, transfer(*s, up == 1, args.rate_total))) fail("rate: transfer failed");
      alone = total / seconds_since(start);
      dog->cancel();
    }
    // Both at once: the unlimited lease moves as much as it can while the limited one moves
    // args.rate_total.
    auto dog = watchdog(w.io, "rate: limited lease", 120 + 4 * total / limit);
    auto free_stream = std::shared_ptr<portal::stream::ByteStream>(run(w.io, w.dial("rate-free")));
    auto limited_stream =
        std::shared_ptr<portal::stream::ByteStream>(run(w.io, w.dial("rate-limited")));
    auto free_flow = std::make_shared<Flow>();
    auto limited_flow = std::make_shared<Flow>();
    const auto start = Clock::now();
    asio::co_spawn(w.io, counted_transfer(free_stream, up == 1, std::uint64_t{1} << 50, free_flow),
                   asio::detached);
    asio::co_spawn(w.io, counted_transfer(limited_stream, up == 1, args.rate_total, limited_flow),
                   asio::detached);
    while (!limited_flow->done) {
      w.io.restart();
      w.io.run_for(std::chrono::milliseconds(5));
    }
    const double secs = seconds_since(start);
    const double meanwhile = static_cast<double>(free_flow->got) / mib / secs;
    free_stream->close();
    for (int i = 0; i < 1000 && !free_flow->done; ++i) {
      w.io.restart();
      w.io.run_for(std::chrono::milliseconds(5));
    }
    dog->cancel();
    if (!limited_flow->ok) fail("rate: the limited lease's transfer failed");
    const double delivered = total / secs;
    const double deviation = (delivered - limit) / limit * 100;
    if (args.json) {
      JsonLine()
          .str("bench", "e2e")
          .str("table", "rate")
          .str("row", direction)
          .str("transport", "tcp")
          .num("bytes", static_cast<double>(args.rate_total))
          .num("limit_MiBps", limit)
          .num("delivered_MiBps", delivered)
          .num("deviation_pct", deviation)
          .num("unlimited_alone_MiBps", alone)
          .num("unlimited_meanwhile_MiBps", meanwhile)
          .print();
    } else {
      char row[64];
      std::snprintf(row, sizeof row, "%.0f MiB, lease limited to %.0f MiB/s", total, limit);
      std::printf(
          "| %-44s | %-9s | %9.2f MiB/s | %9.2f MiB/s | %+8.2f%% | %9.1f MiB/s | %13.1f MiB/s |\n",
          row, direction, limit, delivered, deviation, alone, meanwhile);
    }
  }
}

// For --cipher-file: a private directory of links to every plugin of the build except the
// other cipher plugins (portal-cipher-*), so that both ends load exactly one implementation.
void restrict_cipher_plugins() {
  namespace fs = std::filesystem;
  const fs::path build(PORTAL_BUILD_PLUGIN_DIR);
  if (!fs::is_regular_file(build / args.cipher_file)) {
    fail("--cipher-file: no " + args.cipher_file + " in " + build.string());
  }
  static std::string dir;  // removed at exit
  dir = "/tmp/portal-bench-plugins-" + std::to_string(::getpid());
  std::error_code ec;
  fs::create_directory(dir, ec);
  if (ec) fail("cannot create " + dir + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, ec);
  for (const auto& entry : fs::directory_iterator(build)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("portal-cipher-", 0) == 0 && name != args.cipher_file) continue;
    fs::create_symlink(entry.path(), fs::path(dir) / name, ec);
    if (ec) fail("cannot link " + name + " into " + dir + ": " + ec.message());
  }
  args.plugin_dir = dir;
  static const pid_t owner = ::getpid();
  std::atexit([] {
    if (::getpid() == owner) {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  });
}

void parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail(a + " needs a value");
      return argv[++i];
    };
    if (a == "--json") {
      args.json = true;
    } else if (a == "--rows") {
      const auto v = split(value());
      args.rows = {v.begin(), v.end()};
      for (const auto& r : args.rows) {
        if (r != "bulk" && r != "streams" && r != "rtt" && r != "conn" && r != "fleet" &&
            r != "rate") {
          fail("unknown row " + r);
        }
      }
    } else if (a == "--transports") {
      args.transports = split(value());
      for (const auto& t : args.transports) {
        if (t != "ws" && t != "tcp" && t != "tls" && t != "wss") fail("unknown transport " + t);
      }
    } else if (a == "--streams") {
      args.streams.clear();
      for (const auto& s : split(value())) args.streams.push_back(static_cast<int>(number(a, s)));
    } else if (a == "--stream-mib") {
      args.stream_total = static_cast<std::uint64_t>(number(a, value())) << 20;
    } else if (a == "--rtts") {
      args.rtts = static_cast<int>(number(a, value()));
    } else if (a == "--seq") {
      args.seq = static_cast<int>(number(a, value()));
    } else if (a == "--par") {
      args.par = static_cast<int>(number(a, value()));
    } else if (a == "--parallel") {
      args.parallel = static_cast<int>(number(a, value()));
    } else if (a == "--budget") {
      args.budget = static_cast<double>(number(a, value()));
    } else if (a == "--cipher-file") {
      args.cipher_file = value();
      if (args.cipher_file.find('/') != std::string::npos || args.cipher_file.empty()) {
        fail("--cipher-file: a file name in the build's plugin directory");
      }
    } else if (a == "--ciphers") {
      args.ciphers = split(value());
    } else if (a == "--rate-mib") {
      args.rate_total = static_cast<std::uint64_t>(number(a, value())) << 20;
    } else if (a == "--rate-limit-mib") {
      args.rate_limit = static_cast<std::uint64_t>(number(a, value())) << 20;
    } else if (a == "--relay-json") {
      if (!portal::bench::set_relay_config_extra(value())) fail("--relay-json: not a {...} object");
    } else if (!a.empty() && a[0] != '-') {
      args.bulk = static_cast<std::uint64_t>(number("MiB", a)) << 20;
    } else {
      fail("unknown option " + a);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  parse(argc, argv);
  std::atexit(portal::bench::kill_children);
  if (!args.cipher_file.empty()) restrict_cipher_plugins();
  portal::base::set_log_level(portal::base::LogLevel::Warn);
  // Up to 64 streams, 32 connections in flight: far below any limit, but raise it anyway.
  std::string why;
  portal::bench::raise_descriptor_limit(why);
  portal::bench::RelayChild relay("{}", true);
  const std::map<std::string, std::string> uris{
      {"ws", relay.ws}, {"tcp", relay.tcp}, {"tls", relay.tls}, {"wss", relay.wss}};
  // The fleet table's relays, before the holder starts: its lease "fleet" is on relay A.
  std::unique_ptr<Fleet> fleet;
  if (args.rows.count("fleet")) fleet = std::make_unique<Fleet>();
  // The rate table's relay: one lease identity limited in its config, another not.
  std::unique_ptr<portal::bench::RelayChild> rate_relay;
  if (args.rows.count("rate")) {
    for (const char* label : {"rate-limited", "rate-free"}) {
      auto c = *portal::identity::Credential::generate(portal::base::OsRandom::instance());
      holder_seeds[label] = Bytes(c.seed().span().begin(), c.seed().span().end());
    }
    const auto limited = *portal::identity::Credential::from_seed(holder_seeds["rate-limited"]);
    rate_relay = std::make_unique<portal::bench::RelayChild>(
        "{}", false, "",
        R"("lease_bytes_per_second_by_id": {")" + limited.id() +
            "\": " + std::to_string(args.rate_limit) + "}");
  }

  int fds[2];
  if (::pipe(fds) != 0) return 1;
  const pid_t holder_pid = ::fork();
  if (holder_pid == 0) {
    ::close(fds[0]);
    std::vector<std::pair<std::string, std::string>> leases;
    for (const auto& t : args.transports) leases.emplace_back(t, uris.at(t));
    if (fleet) leases.emplace_back("fleet", fleet->a->tcp);
    if (rate_relay) {
      leases.emplace_back("rate-limited", rate_relay->tcp);
      leases.emplace_back("rate-free", rate_relay->tcp);
    }
    holder(leases, relay.ca_file, fds[1]);
  }
  portal::bench::children().push_back(holder_pid);
  ::close(fds[1]);
  std::string line;
  char ch = 0;
  while (::read(fds[0], &ch, 1) == 1 && ch != '\n') line.push_back(ch);
  ::close(fds[0]);
  std::uint16_t raw_port = 0, secure_port = 0;
  char id[128] = {}, holder_cipher[128] = {};
  if (std::sscanf(line.c_str(), "%hu %hu %127s %127s", &raw_port, &secure_port, id,
                  holder_cipher) != 4) {
    fail("the holder did not start");
  }
  std::map<std::string, std::string> lease_ids;
  {
    std::istringstream rest(line);
    std::string word;
    for (int skip = 0; skip < 4 && rest >> word; ++skip) {
    }
    while (rest >> word) {
      const auto eq = word.find('=');
      if (eq != std::string::npos) lease_ids[word.substr(0, eq)] = word.substr(eq + 1);
    }
  }
  for (const auto& t : args.transports) {
    if (!lease_ids.count(t)) fail("the holder has no lease over " + t + "://");
  }
  if (fleet && !lease_ids.count("fleet")) fail("the holder has no lease on the fleet's relay A");
  std::vector<std::uint16_t> copy_ports;
  const pid_t copy = start_copy_relay({raw_port, secure_port}, copy_ports);

  World w;
  w.holder_id = id;
  w.lease_ids = std::move(lease_ids);
  w.holder_pid = holder_pid;
  w.stack = stack_for({relay.tcp}, relay.ca_file);
  w.stacks.push_back(w.stack);
  w.me = std::make_unique<portal::identity::Credential>(
      *portal::identity::Credential::generate(portal::base::OsRandom::instance()));
  w.secure.credential = w.me.get();
  client::use_ciphers(*w.stack, w.secure);
  // Each process times the cipher plugins present and takes the fastest (client::assemble): say
  // which each end took, since on a loaded machine the two may differ.
  const std::string dialer_cipher = first_plugin(*w.stack);
  if (args.json) {
    JsonLine()
        .str("bench", "e2e")
        .str("table", "info")
        .str("cipher", w.stack->ciphers.front().algorithm)
        .str("dialer_cipher_plugin", dialer_cipher)
        .str("holder_cipher_plugin", holder_cipher)
        .print();
  } else {
    std::printf("cipher: %s; dialer's plugin %s, holder's %s\n\n",
                w.stack->ciphers.front().algorithm.c_str(), dialer_cipher.c_str(), holder_cipher);
  }
  for (const auto& t : args.transports) {
    auto me = *portal::identity::Credential::generate(portal::base::OsRandom::instance());
    client::Options options;
    options.relays = {uris.at(t)};
    w.stacks.push_back(stack_for({uris.at(t)}, relay.ca_file));
    auto c = run(w.io, client::Client::connect(w.io.get_executor(), std::move(me), w.stacks.back(),
                                               options));
    if (!c) fail("client over " + t + "://: " + c.error().message());
    w.clients[t] = std::move(*c);
  }

  if (rate_relay) {
    for (const char* label : {"rate-limited", "rate-free"}) {
      if (!w.lease_ids.count(label)) fail(std::string("the holder has no lease ") + label);
      auto me = *portal::identity::Credential::generate(portal::base::OsRandom::instance());
      client::Options options;
      options.relays = {rate_relay->tcp};
      w.stacks.push_back(stack_for({rate_relay->tcp}, relay.ca_file));
      auto c = run(w.io, client::Client::connect(w.io.get_executor(), std::move(me),
                                                 w.stacks.back(), options));
      if (!c) fail("client of the rate relay: " + c.error().message());
      w.clients[label] = std::move(*c);
    }
  }

  const Target direct_tcp{"direct TCP, no encryption (baseline)", "direct", -1,
                          [&w, raw_port]() { return w.connect_tcp(raw_port); }};
  const Target copy_tcp{"plain copy relay, no encryption (baseline)", "copy", copy,
                        [&w, p = copy_ports[0]]() { return w.connect_tcp(p); }};
  const Target direct_secure{"direct secure channel, no relay (baseline)", "direct", -1,
                             [&w, secure_port]() { return w.connect_secure(secure_port); }};
  const Target copy_secure{"secure channel through the copy relay", "copy", copy,
                           [&w, p = copy_ports[1]]() { return w.connect_secure(p); }};
  std::vector<Target> through;
  for (const auto& t : args.transports) {
    through.push_back(
        {"E2EE through portal-relay, " + t + "://", t, relay.pid, [&w, t]() { return w.dial(t); }});
  }
  auto with = [&](std::vector<Target> head) {
    head.insert(head.end(), through.begin(), through.end());
    return head;
  };
  if (args.rows.count("bulk"))
    bulk_rows(w, with({direct_tcp, copy_tcp, direct_secure, copy_secure}));
  if (args.rows.count("streams")) {
    std::vector<Target> t{direct_secure};
    for (const auto& x : through) {
      if (x.transport == "ws" || x.transport == "tcp") t.push_back(x);
    }
    stream_rows(w, t);
  }
  if (args.rows.count("rtt")) rtt_rows(w, with({direct_tcp, direct_secure}));
  if (args.rows.count("conn")) conn_rows(w, with({direct_secure}));
  if (fleet) fleet_rows(w, *fleet, w.lease_ids.at("fleet"));
  if (rate_relay) rate_rows(w);

  for (auto& entry : w.clients) {
    auto& c = entry.second;  // a named reference: clang 14 cannot capture a structured binding
    run(w.io, [&c]() -> asio::awaitable<bool> {
      co_await c->close();
      co_return true;
    }());
  }
  w.clients.clear();
  for (const pid_t pid : {holder_pid, copy}) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    std::erase(portal::bench::children(), pid);
  }
  fleet.reset();
  rate_relay.reset();
  return 0;
}
