// SPDX-License-Identifier: Apache-2.0
// Hostile peers against the real portal-relay on loopback (ctest label "hostile": heavy, run
// once, unsanitized). Each attack is bounded in count and time and stops by itself; the relay's
// CPU-seconds per attack are printed as a figure, never asserted.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include <boost/asio/ip/tcp.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "portal/stream/descriptor_stream.hpp"
#include "relay/relay_harness.hpp"

namespace portal::test {
namespace {

using namespace std::chrono_literals;
using wire::ResponseCode;

// utime + stime of `pid` in seconds (/proc/<pid>/stat fields 14 and 15).
double cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const auto close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i) fields >> skip;
  double utime = 0, stime = 0;
  fields >> utime >> stime;
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Resident memory of `pid` in bytes (/proc/<pid>/status VmRSS).
std::int64_t rss_bytes(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

class HostileRelay : public RelayClientTest {
 protected:
  struct Watched {
    std::int64_t peak_rss = 0;  ///< the relay's largest RSS seen
    bool served = false;        ///< a fresh client from 127.0.0.1 got an accepted RelayInfo
  };
  // While an attack runs: every 100 ms lets the client side run and samples the relay's RSS,
  // and from `serve_after` on has fresh clients ask `relay` for RelayInfo until one answer
  // passes `check` (any answer, when empty). Stops after `duration` or once `done()` is true.
  Watched watch(RelayProcess& relay, std::chrono::milliseconds duration,
                std::function<bool(const wire::RelayInfo&)> check = {},
                std::chrono::milliseconds serve_after = {}, std::function<bool()> done = {}) {
    const int pid = relay.child().pid();
    Watched w{rss_bytes(pid), false};
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < duration && !(done && done())) {
      pump(100ms);
      w.peak_rss = std::max(w.peak_rss, rss_bytes(pid));
      if (!w.served && std::chrono::steady_clock::now() - start >= serve_after) {
        auto fresh = session(relay.ws);
        auto info = run(client::relay_info(*fresh), 10s);
        w.served = info && (!check || check(*info));
      }
    }
    w.peak_rss = std::max(w.peak_rss, rss_bytes(pid));
    return w;
  }

  // Fills one round's chunk of 12-byte yamux frames.
  using FrameFill = std::function<void(std::vector<unsigned char>& chunk, std::uint64_t round)>;
  void flood_without_reading(RelayProcess& relay, const std::string& what, FrameFill fill);
};

// The relay at its descriptor limit (128, soft and hard), flooded with 400 idle connections to
// its ws listener: accept fails with EMFILE for as long as the flood lasts. The listener must
// pause between attempts instead of spinning, count the failures, and serve again afterwards.
TEST_F(HostileRelay, DescriptorExhaustionOnTheWsListener) {
  struct rlimit rl {};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
  rl.rlim_cur = rl.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &rl), 0);
  ASSERT_GE(rl.rlim_cur, 1024u) << "the flood needs 400 descriptors in this process";

  RelayProcess relay(R"({"limits": {"max_connections_per_ip": 100000}})", "ws://127.0.0.1:0/relay",
                     "tcp://127.0.0.1:0", "ulimit -n 128");
  ASSERT_TRUE(relay.alive());
  const int pid = relay.child().pid();
  const auto port = transport::parse_uri(relay.ws)->port;

  const double before = cpu_seconds(pid);
  const auto flood_time = 2s;
  std::vector<asio::ip::tcp::socket> flood;
  flood.reserve(400);
  for (int i = 0; i < 400; ++i) {
    flood.emplace_back(io_);
    boost::system::error_code ec;
    flood.back().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    ASSERT_FALSE(ec) << "connection " << i << ": " << ec.message();
  }
  std::this_thread::sleep_for(flood_time);
  const double during = cpu_seconds(pid) - before;
  std::cout << "[ figure ] relay CPU during a " << flood_time.count()
            << " s flood of 400 connections at 128 descriptors: " << during << " s\n";
  RecordProperty("relay_cpu_seconds_during_flood", std::to_string(during));
  EXPECT_TRUE(relay.alive());

  for (auto& s : flood) s.close();
  flood.clear();
  std::this_thread::sleep_for(500ms);

  // Served again afterwards, over both listeners.
  auto fresh = session(relay.ws);
  EXPECT_TRUE(run(client::relay_info(*fresh), 10s));
  EXPECT_EQ(update(*fresh, credential(), "after-the-flood"), wire::ResponseCode::Accepted);
  auto other = session(relay.tcp);
  EXPECT_EQ(info(*other).leases.size(), 1u);
  const auto metrics = curl(relay.http + "/metrics");
  // The listener paused between attempts: about one failed accept per 100 ms of the flood
  // (~20-30 here), where retrying at once fails hundreds of thousands of times.
  const auto failed = metric_value(metrics, R"(portal_accept_errors_total{reason="descriptors"})");
  EXPECT_GT(failed, 0) << metrics;
  EXPECT_LT(failed, 500) << metrics;
  EXPECT_NE(relay.err().find("out of file descriptors"), std::string::npos) << relay.err();
}

// A yamux client session from the loopback address `source` (the attacker's; the relay counts
// per address, and fresh clients on 127.0.0.1 must not share its budget).
std::shared_ptr<mux::Session> session_from(asio::io_context& io, mux::MuxFactory& mux,
                                           const std::string& source, std::uint16_t port) {
  asio::ip::tcp::socket sock(io);
  sock.open(asio::ip::tcp::v4());
  sock.bind({asio::ip::make_address(source), 0});
  sock.connect({asio::ip::make_address("127.0.0.1"), port});
  const int fd = sock.release();
  auto s =
      mux.create(stream::make_descriptor_stream(io.get_executor(), fd, fd), mux::Role::Client, {});
  if (!s) throw std::runtime_error("mux session: " + s.error().message());
  return *s;
}

// Amplification: a peer registers leases as large as allowed, then sends a flood of RelayInfo
// requests (each answered with the whole table) on as many streams as it may open, and reads
// nothing. Each stream gets one answer at a time, every answer is one shared buffer, and the
// peer's unread requests stay within its stream windows.
TEST_F(HostileRelay, RelayInfoAmplificationFromAPeerThatNeverReads) {
  RelayProcess relay;
  ASSERT_TRUE(relay.alive());
  const int pid = relay.child().pid();
  auto attacker = session_from(io_, *mux_, "127.0.0.2", transport::parse_uri(relay.tcp)->port);
  for (int i = 0; i < 64; ++i) {
    wire::Lease lease;
    lease.name = "big-" + std::to_string(i);
    lease.alpn = {"http/1.1"};
    lease.metadata = std::string(4096 - lease.name.size() - 8, 'm');  // max_lease_bytes
    lease.expires = base::unix_seconds(base::SystemClock::instance().system_now()) + 30;
    auto r = run(client::update_lease(*attacker, credential(), std::move(lease),
                                      base::OsRandom::instance(), base::SystemClock::instance()));
    ASSERT_TRUE(r && *r == wire::ResponseCode::Accepted) << i;
  }
  const auto rss_before = rss_bytes(pid);
  const double cpu_before = cpu_seconds(pid);
  // 64 streams (the per-session cap), each sent 1 MiB of zero-length RelayInfo requests in the
  // background; writes stop when the relay stops reading them.
  const base::Bytes request =
      wire::encode_packet_wire(wire::Packet{wire::PacketType::RelayInfoRequest, {}});
  base::Bytes flood;
  while (flood.size() < 1024 * 1024) flood.insert(flood.end(), request.begin(), request.end());
  auto shared_flood = std::make_shared<const base::Bytes>(std::move(flood));
  std::vector<std::shared_ptr<stream::ByteStream>> streams;
  for (int i = 0; i < 64; ++i) {
    auto st = run(attacker->async_open());
    ASSERT_TRUE(st);
    std::shared_ptr<stream::ByteStream> s(std::move(*st));
    streams.push_back(s);
    asio::co_spawn(
        io_,
        [](std::shared_ptr<stream::ByteStream> to, std::shared_ptr<const base::Bytes> bytes)
            -> asio::awaitable<void> { (void)co_await to->async_write(*bytes); }(s, shared_flood),
        asio::detached);
  }
  const auto w = watch(relay, 5s, [](const wire::RelayInfo& i) { return i.leases.size() == 64; });
  const auto peak = std::max(rss_before, w.peak_rss);
  const bool served = w.served;
  const double cpu = cpu_seconds(pid) - cpu_before;
  std::cout << "[ figure ] RelayInfo amplification (64 leases of 4 KiB, 64 streams x 1 MiB of "
               "requests, never read): relay RSS "
            << rss_before / 1024 << " KiB -> peak " << peak / 1024 << " KiB; relay CPU " << cpu
            << " s in 5 s\n";
  RecordProperty("relay_cpu_seconds_relay_info_flood", std::to_string(cpu));
  EXPECT_TRUE(served);
  EXPECT_LT(peak - rss_before, 32 * 1024 * 1024);
  for (auto& s : streams) s->close();
}

// Opens `count` streams on `s`, writes `prefix` on each and keeps them in `kept`.
asio::awaitable<void> hoard_streams(
    std::shared_ptr<mux::Session> s, int count, base::Bytes prefix,
    std::shared_ptr<std::vector<std::shared_ptr<stream::ByteStream>>> kept) {
  for (int i = 0; i < count; ++i) {
    auto st = co_await s->async_open();
    if (!st) co_return;
    std::shared_ptr<stream::ByteStream> h(std::move(*st));
    kept->push_back(h);
    (void)co_await h->async_write(prefix);
  }
}

// Stream hoarding: streams opened, given the first 4 bytes of a packet (a length prefix), and
// left there, from many sessions of one address. Each session may hold 64 such streams and so may
// the address (which also bounds the request bytes it can park in stream windows); each must
// bring a complete packet within 10 s. The relay's memory stays bounded,
// and clients from another address are served throughout.
TEST_F(HostileRelay, StreamHoardingFromOneAddress) {
  RelayProcess relay;
  ASSERT_TRUE(relay.alive());
  const int pid = relay.child().pid();
  const auto port = transport::parse_uri(relay.tcp)->port;
  const auto rss_before = rss_bytes(pid);
  const double cpu_before = cpu_seconds(pid);
  std::vector<std::shared_ptr<mux::Session>> attackers;
  auto hoard = std::make_shared<std::vector<std::shared_ptr<stream::ByteStream>>>();
  const base::Bytes prefix{0, 0, 0x10, 0};  // "4096 bytes follow", and none do
  for (int s = 0; s < 16; ++s) {
    attackers.push_back(session_from(io_, *mux_, "127.0.0.2", port));
    asio::co_spawn(io_, hoard_streams(attackers.back(), 100, prefix, hoard), asio::detached);
    pump(50ms);
  }
  const auto w = watch(relay, 3s);  // fresh clients from 127.0.0.1
  const auto peak = std::max(rss_before, w.peak_rss);
  const bool served_during = w.served;
  const double cpu = cpu_seconds(pid) - cpu_before;
  const auto metrics = curl(relay.http + "/metrics");
  std::cout << "[ figure ] stream hoarding (16 sessions x 100 streams from 127.0.0.2): relay RSS "
            << rss_before / 1024 << " KiB -> peak " << peak / 1024 << " KiB; relay CPU " << cpu
            << " s\n";
  RecordProperty("relay_cpu_seconds_stream_hoarding", std::to_string(cpu));
  EXPECT_TRUE(served_during);
  EXPECT_LT(peak - rss_before, 32 * 1024 * 1024);
  // 64 streams fit the address's cap (the first session's): every other one was reset at once,
  // by one cap or the other.
  const auto by_ip =
      metric_value(metrics, R"(portal_refusals_total{limit="control_streams_per_ip"})");
  const auto by_session =
      metric_value(metrics, R"(portal_refusals_total{limit="control_streams_per_session"})");
  EXPECT_GT(by_ip, 0) << metrics;
  EXPECT_GT(by_session, 0) << metrics;
  EXPECT_EQ(by_ip + by_session, 16 * 100 - 64) << metrics;
  EXPECT_EQ(hoard->size(), 16u * 100u);
  for (auto& a : attackers) a->close();
}

// A raw TCP peer on the relay's tcp:// port that writes yamux frames and never reads what it is
// owed. `fill(chunk, round)` writes round `round`'s 64 KiB of 12-byte frames. The relay must stop
// reading from it once 64 KiB of control frames are owed and close it when they are not drained
// within 10 s (the defaults), keep its memory bounded and serve fresh clients throughout.
void HostileRelay::flood_without_reading(RelayProcess& relay, const std::string& what,
                                         FrameFill fill) {
  ASSERT_TRUE(relay.alive());
  const int pid = relay.child().pid();
  const auto port = transport::parse_uri(relay.tcp)->port;
  const auto rss_before = rss_bytes(pid);
  const double cpu_before = cpu_seconds(pid);

  std::atomic<std::uint64_t> sent{0};
  std::atomic<bool> ended{false};
  std::thread attacker([port, &sent, &ended, fill] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{0, 200'000};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      ended = true;
      return;
    }
    std::vector<unsigned char> chunk(64 * 1024 - 64 * 1024 % 12);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    for (std::uint64_t round = 0;
         sent < 64u * 1024 * 1024 && std::chrono::steady_clock::now() < deadline; ++round) {
      fill(chunk, round);
      std::size_t off = 0;
      while (off < chunk.size() && std::chrono::steady_clock::now() < deadline) {
        const ssize_t n = ::send(fd, chunk.data() + off, chunk.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
          sent += static_cast<std::uint64_t>(n);
          off += static_cast<std::size_t>(n);
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          ::close(fd);  // the relay closed the connection
          ended = true;
          return;
        }
      }
    }
    ::close(fd);
    ended = true;
  });

  const auto start = std::chrono::steady_clock::now();
  const auto w = watch(relay, 35s, {}, 1s, [&ended] { return ended.load(); });
  attacker.join();
  const auto peak = std::max({rss_before, w.peak_rss, rss_bytes(pid)});
  const double cpu = cpu_seconds(pid) - cpu_before;
  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start);
  std::cout << "[ figure ] " << what << ": " << sent / (1024 * 1024) << " MiB sent in "
            << elapsed.count() << " s; relay RSS " << rss_before / 1024 << " KiB -> peak "
            << peak / 1024 << " KiB; relay CPU " << cpu << " s\n";
  ::testing::Test::RecordProperty("relay_cpu_seconds", std::to_string(cpu));
  EXPECT_TRUE(w.served);
  EXPECT_LT(peak - rss_before, 32 * 1024 * 1024);
  // The relay ended the attacker's session (it did not just stop reading forever).
  EXPECT_LT(sent.load(), 64u * 1024 * 1024);
  const auto metrics = curl(relay.http + "/metrics");
  EXPECT_EQ(metric_value(metrics, R"(portal_refusals_total{limit="peer_not_reading"})"), 1)
      << metrics;
  auto after = session(relay.tcp);
  EXPECT_TRUE(run(client::relay_info(*after), 10s));
}

// Pings (v1's yamux queues every answer).
TEST_F(HostileRelay, PingFloodFromAPeerThatNeverReads) {
  RelayProcess relay;
  flood_without_reading(relay, "ping flood", [](std::vector<unsigned char>& chunk, std::uint64_t) {
    for (std::size_t i = 0; i + 12 <= chunk.size(); i += 12) {
      chunk[i + 1] = 2;  // type: ping
      chunk[i + 3] = 1;  // flags: SYN
      chunk[i + 11] = static_cast<unsigned char>(i);
    }
  });
}

// New streams (SYN), each on a fresh odd stream ID: the first 64 are open control streams (then
// reset by the first-packet timeout), every later one is answered with a RST the peer never
// reads.
TEST_F(HostileRelay, SynFloodFromAPeerThatNeverReads) {
  RelayProcess relay;
  flood_without_reading(
      relay, "SYN flood", [](std::vector<unsigned char>& chunk, std::uint64_t round) {
        const std::uint64_t per_chunk = chunk.size() / 12;
        for (std::size_t i = 0; i + 12 <= chunk.size(); i += 12) {
          const auto id = static_cast<std::uint32_t>(2 * (round * per_chunk + i / 12) + 1);
          chunk[i + 0] = 0;  // version
          chunk[i + 1] = 1;  // type: window update
          chunk[i + 2] = 0;
          chunk[i + 3] = 1;  // flags: SYN
          chunk[i + 4] = static_cast<unsigned char>(id >> 24);
          chunk[i + 5] = static_cast<unsigned char>(id >> 16);
          chunk[i + 6] = static_cast<unsigned char>(id >> 8);
          chunk[i + 7] = static_cast<unsigned char>(id);
          for (int k = 8; k < 12; ++k) chunk[i + static_cast<std::size_t>(k)] = 0;  // delta 0
        }
      });
}

// `count` connection requests on `dialer`, one after the other (concurrent ones would meet the
// cap on open control streams first).
asio::awaitable<void> dial_in_turn(
    std::shared_ptr<mux::Session> dialer, std::string id, int count, std::shared_ptr<int> accepted,
    std::shared_ptr<int> rejected,
    std::shared_ptr<std::vector<std::unique_ptr<stream::ByteStream>>> streams) {
  for (int i = 0; i < count; ++i) {
    co_await dial_and_count(dialer, id, accepted, rejected, streams);
  }
}

// Idle spliced streams: one address dials a lease from several sessions as often as it can and
// leaves every accepted stream idle. It gets at most max_spliced_per_dialer_ip of the lease's
// max_streams_per_lease slots, so another dialer still gets through; and the idle streams are
// closed after spliced_idle_timeout_ms (3 s here; 15 min by default).
TEST_F(HostileRelay, IdleSplicedStreamsFromOneAddressDoNotLockALeaseOut) {
  RelayProcess relay(R"({"limits": {"spliced_idle_timeout_ms": 3000}})");
  ASSERT_TRUE(relay.alive());
  const int pid = relay.child().pid();
  const auto port = transport::parse_uri(relay.tcp)->port;
  auto holder = session(relay.ws);
  auto me = credential();
  ASSERT_EQ(update(*holder, me, "locked"), ResponseCode::Accepted);
  auto kept = std::make_shared<std::vector<std::unique_ptr<stream::ByteStream>>>();
  (void)hold(holder, ResponseCode::Accepted, keep_in(kept));
  const auto rss_before = rss_bytes(pid);
  const double cpu_before = cpu_seconds(pid);

  std::vector<std::shared_ptr<mux::Session>> attackers;
  auto idle = std::make_shared<std::vector<std::unique_ptr<stream::ByteStream>>>();
  auto accepted = std::make_shared<int>(0);
  auto rejected = std::make_shared<int>(0);
  for (int s = 0; s < 4; ++s) {
    attackers.push_back(session_from(io_, *mux_, "127.0.0.2", port));
    asio::co_spawn(io_, dial_in_turn(attackers.back(), me.id(), 80, accepted, rejected, idle),
                   asio::detached);
  }
  for (int i = 0; i < 500 && *accepted + *rejected < 320; ++i) pump(20ms);
  EXPECT_EQ(*accepted, 128);  // max_spliced_per_dialer_ip
  EXPECT_EQ(*rejected, 320 - 128);
  // Another address still reaches the lease while the attacker holds its slots.
  auto fresh = session(relay.tcp);
  auto d = run(client::request_connection(*fresh, me.id()), 10s);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->code, ResponseCode::Accepted);
  const auto peak = std::max(rss_before, rss_bytes(pid));
  // The attacker's idle streams are closed by the relay (the fresh one too: it is idle as well).
  const auto w = watch(relay, 10s, {}, {}, [&] {
    return metric_value(curl(relay.http + "/metrics"), "portal_relayed_streams") == 0;
  });
  const auto metrics = curl(relay.http + "/metrics");
  const double cpu = cpu_seconds(pid) - cpu_before;
  std::cout << "[ figure ] idle spliced streams (4 sessions x 80 dials from 127.0.0.2): relay RSS "
            << rss_before / 1024 << " KiB -> peak " << std::max(peak, w.peak_rss) / 1024
            << " KiB; relay CPU " << cpu << " s\n";
  RecordProperty("relay_cpu_seconds_idle_splices", std::to_string(cpu));
  EXPECT_LT(std::max(peak, w.peak_rss) - rss_before, 32 * 1024 * 1024);
  EXPECT_EQ(metric_value(metrics, "portal_relayed_streams"), 0) << metrics;
  EXPECT_EQ(metric_value(metrics, R"(portal_refusals_total{limit="spliced_idle_timeout"})"), 129)
      << metrics;
  // By one cap or the other (an absent series reads -1).
  const auto refused = [&](const char* series) {
    return std::max(0LL, metric_value(metrics, series));
  };
  EXPECT_EQ(refused(R"(portal_refusals_total{limit="spliced_per_dialer_ip"})") +
                refused(R"(portal_refusals_total{limit="spliced_per_dialer_session"})"),
            320 - 128)
      << metrics;
  for (auto& a : attackers) a->close();
}

}  // namespace
}  // namespace portal::test
