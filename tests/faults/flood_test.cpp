// SPDX-License-Identifier: Apache-2.0
// Floods against the real portal-relay on loopback (issue 23; ctest label "faults"): 500
// slowloris connections on the HTTP listener while normal clients are served, and a connection
// flood from one address past limits.max_connections_per_ip, refused and counted. Each flood is
// bounded in count and time; times are printed as figures, asserted only against bounds that
// mean "hung".

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "faults/faults_harness.hpp"

namespace portal::test::faults {
namespace {

// A blocking TCP connection from `source` to 127.0.0.1:`port`; -1 on failure.
int connect_from(const char* source, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Whether the peer has closed `fd` (end of stream or a reset), without blocking.
bool closed_by_peer(int fd) {
  char b[256];
  const ssize_t n = ::recv(fd, b, sizeof b, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

// GET `url` with curl (10 s at most, a bound that means "hung"): whether it answered 200, and
// how long it took in ms.
std::pair<bool, long long> timed_get(const std::string& url) {
  const auto start = Clock::now();
  const auto r = run_process(
      {"/usr/bin/curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", url});
  return {r.exit_code == 0 && r.out == "200", ms_since(start)};
}

void raise_descriptor_limit() {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rl.rlim_cur = rl.rlim_max;
  (void)::setrlimit(RLIMIT_NOFILE, &rl);
}

class Floods : public FaultTest {
 protected:
  // Closes the test's relay sessions and waits (5 s at most) until the relay holds `baseline`
  // descriptors again: the count it ends with.
  int relay_descriptors_after(Relay& relay, int baseline) {
    for (auto& s : sessions_) s->close();
    int now = -1;
    (void)within(5s, [&] {
      now = proc_entries(relay.pid(), "fd");
      return now == baseline;
    });
    return now;
  }
};

// 7a. 500 slowloris connections on the HTTP (ws://) listener from 127.0.0.2, each sending a
// request a byte at a time (every 200 ms) that never ends: half a page request, half a WebSocket
// upgrade. Meanwhile curl fetches /healthz and a
// relay client from 127.0.0.1 asks for RelayInfo on the same port: both are served (10 s is the
// bound that means "hung"; the times are figures). The relay closes every slowloris connection by
// the ws transport's transports.ws.header_timeout_ms (4 s here), the whole request's deadline
// from accept. (limits.first_frame_timeout_ms, 60 s here, does not end them: until the upgrade
// completes there is no stream for the relay to time. These closes are not counted in any
// metric.)
TEST_F(Floods, SlowlorisOnTheHttpListenerDoesNotStopOthers) {
  constexpr int kSlow = 500;
  raise_descriptor_limit();
  Relay relay(R"({"limits": {"max_connections_per_ip": 2000, "first_frame_timeout_ms": 60000},
                  "transports": {"ws": {"header_timeout_ms": 4000}}})",
              {"ws://127.0.0.1:0/relay", "tcp://127.0.0.1:0"});
  ASSERT_TRUE(relay.alive());
  const int fds_before = proc_entries(relay.pid(), "fd");
  const auto port = transport::parse_uri(relay.uri("ws"))->port;
  std::vector<int> slow;
  for (int i = 0; i < kSlow; ++i) {
    const int fd = connect_from("127.0.0.2", port);
    ASSERT_GE(fd, 0) << "slowloris connection " << i << ": " << std::strerror(errno);
    slow.push_back(fd);
  }
  const auto start = Clock::now();
  std::atomic<bool> stop{false};
  std::atomic<int> closed{0};
  std::vector<long long> closed_at(kSlow, -1);
  std::thread loris([&] {
    // Even connections: a page request; odd ones: a WebSocket upgrade to the relay's path.
    const std::string page = "GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Slow: ";
    const std::string upgrade =
        "GET /relay HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Slow: ";
    for (std::size_t round = 0; !stop && ms_since(start) < 20'000; ++round) {
      for (std::size_t i = 0; i < slow.size(); ++i) {
        if (closed_at[i] >= 0) continue;
        const std::string& request = i % 2 == 0 ? page : upgrade;
        const char c = round < request.size() ? request[round] : 'a';
        if (closed_by_peer(slow[i]) || ::send(slow[i], &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
          closed_at[i] = ms_since(start);
          ++closed;
        }
      }
      if (closed == kSlow) break;
      std::this_thread::sleep_for(200ms);
    }
  });
  // Stops and joins the thread however the test body ends (an exception included).
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Joiner() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } joiner{stop, loris};
  // Normal clients while every slowloris connection is still open (well before 4 s).
  wait(1s);
  const int open_then = kSlow - closed.load();
  const auto [served1, took1] = timed_get(relay.http + "/healthz");
  auto fresh = session(relay.uri("ws"));
  const auto info_start = Clock::now();
  const auto info = run(client::relay_info(*fresh), 10s);
  const auto info_took = ms_since(info_start);
  const auto [served2, took2] = timed_get(relay.http + "/healthz");
  // Every slowloris connection closed by the relay (15 s: the bound that means "never").
  const auto all_closed = within(
      15s, [&] { return closed.load() == kSlow; }, 100ms);
  stop = true;
  if (loris.joinable()) loris.join();
  for (int fd : slow) ::close(fd);
  const int fds_after = relay_descriptors_after(relay, fds_before);
  const auto last = *std::max_element(closed_at.begin(), closed_at.end());
  const auto first = *std::min_element(closed_at.begin(), closed_at.end());
  std::cout << "[ figure ] " << kSlow << " slowloris connections (" << open_then
            << " open at the time): /healthz served in " << took1 << " ms and " << took2
            << " ms, RelayInfo on the same port in " << info_took << " ms; the relay closed "
            << closed.load() << " of them between " << first << " and " << last
            << " ms (header_timeout_ms 4000); relay descriptors " << fds_before << " -> "
            << fds_after << "\n";
  EXPECT_EQ(open_then, kSlow);
  EXPECT_TRUE(served1);
  EXPECT_TRUE(served2);
  EXPECT_TRUE(info);
  EXPECT_TRUE(all_closed) << closed.load() << " of " << kSlow << " closed";
  EXPECT_EQ(fds_after, fds_before);
  EXPECT_TRUE(relay.alive());
}

// 7b. A connection flood from one address (127.0.0.3) past limits.max_connections_per_ip (32
// here): 200 connections, of which the relay keeps 32 and closes the other 168 before reading a
// byte, counts each refusal, and still serves clients from 127.0.0.1.
TEST_F(Floods, ConnectionFloodPastThePerAddressLimitIsRefusedAndCounted) {
  constexpr int kFlood = 200;
  constexpr int kLimit = 32;
  raise_descriptor_limit();
  Relay relay(R"({"limits": {"max_connections_per_ip": 32, "first_frame_timeout_ms": 60000}})",
              {"ws://127.0.0.1:0/relay", "tcp://127.0.0.1:0"});
  ASSERT_TRUE(relay.alive());
  const int fds_before = proc_entries(relay.pid(), "fd");
  const auto port = transport::parse_uri(relay.uri("tcp"))->port;
  std::vector<int> flood;
  for (int i = 0; i < kFlood; ++i) {
    const int fd = connect_from("127.0.0.3", port);
    ASSERT_GE(fd, 0) << "connection " << i << ": " << std::strerror(errno);
    flood.push_back(fd);
  }
  std::vector<bool> closed(kFlood, false);
  const auto count_closed = [&] {
    int n = 0;
    for (std::size_t i = 0; i < flood.size(); ++i) {
      if (!closed[i] && closed_by_peer(flood[i])) closed[i] = true;
      n += closed[i] ? 1 : 0;
    }
    return n;
  };
  const auto start = Clock::now();
  const auto refused = within(
      10s, [&] { return count_closed() >= kFlood - kLimit; }, 50ms);
  const auto took = ms_since(start);
  wait(500ms);  // no more than that
  const int closed_n = count_closed();
  auto fresh = session(relay.uri("tcp"));
  const auto info = run(client::relay_info(*fresh), 10s);
  const auto [served, get_took] = timed_get(relay.http + "/healthz");
  const auto m = relay.metrics();
  for (int fd : flood) ::close(fd);
  const int fds_after = relay_descriptors_after(relay, fds_before);
  std::cout << "[ figure ] " << kFlood << " connections from one address at a limit of " << kLimit
            << ": " << closed_n << " closed by the relay within " << took
            << " ms; another address served (RelayInfo, /healthz in " << get_took
            << " ms); relay descriptors " << fds_before << " -> " << fds_after << "\n";
  ASSERT_TRUE(refused) << closed_n << " of " << kFlood - kLimit << " closed within 10 s";
  EXPECT_EQ(closed_n, kFlood - kLimit);
  EXPECT_EQ(metric_value(m, R"(portal_refusals_total{limit="connections_per_ip"})"),
            kFlood - kLimit)
      << m;
  EXPECT_TRUE(info);
  EXPECT_TRUE(served);
  EXPECT_EQ(fds_after, fds_before);
  EXPECT_TRUE(relay.alive());
}

}  // namespace
}  // namespace portal::test::faults
