// SPDX-License-Identifier: Apache-2.0
// The real portal-relay with several threads (ADR 0013): leases, dials spread over the loops,
// bulk splices with checksums (between two workers, and between a worker and the relay's own
// loop), a session that ends in the middle of a splice, lease drops and the drain.

#include <csignal>

#include <map>
#include <regex>
#include <vector>

#include "relay/bulk.hpp"
#include "relay/relay_harness.hpp"
#include "support/scale.hpp"

namespace portal::test {
namespace {

using wire::ResponseCode;
using namespace std::chrono_literals;

std::string config_with_threads(unsigned threads, const std::string& more = "") {
  return "{\"threads\": " + std::to_string(threads) + (more.empty() ? "" : ", " + more) + "}";
}

std::string metrics_of(const RelayProcess& relay) { return curl(relay.http + "/metrics"); }

// portal_loop_connections by loop, as /metrics reports it (the curl connection included).
std::vector<long long> loop_connections(const std::string& metrics) {
  std::vector<long long> out;
  for (int i = 0;; ++i) {
    const auto v =
        metric_value(metrics, "portal_loop_connections{loop=\"" + std::to_string(i) + "\"}");
    if (v < 0) break;
    out.push_back(v);
  }
  return out;
}

asio::awaitable<void> count_closed(std::shared_ptr<mux::Session> session,
                                   std::shared_ptr<int> count) {
  (void)co_await session->async_wait_closed();
  ++*count;
}

class RelayThreads : public RelayClientTest, public ::testing::WithParamInterface<unsigned> {
 protected:
  // Runs both transfers until both ends have read everything (at most `limit`).
  void finish(const std::vector<std::shared_ptr<Transfer>>& all,
              std::chrono::seconds limit = 300s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    auto done = [&] {
      return std::all_of(all.begin(), all.end(), [](const auto& t) { return t->read_done; });
    };
    while (!done() && std::chrono::steady_clock::now() < deadline) pump(20ms);
    ASSERT_TRUE(done());
  }

  // Accepts every forwarded request on `holder` and exchanges `total` bytes both ways on each
  // relayed stream (seed 1000 + n at the holder, whose peer dials with seed n).
  std::shared_ptr<std::vector<std::shared_ptr<Transfer>>> hold_exchanging(
      std::shared_ptr<mux::Session> holder, std::size_t total) {
    auto at_holder = std::make_shared<std::vector<std::shared_ptr<Transfer>>>();
    hold(
        holder, [](int) { return ResponseCode::Accepted; },
        [at_holder, total](std::unique_ptr<stream::ByteStream> s) -> asio::awaitable<void> {
          auto t = std::make_shared<Transfer>();
          at_holder->push_back(t);
          // Fixed seeds per direction: the dialers write pattern 1, the holder pattern 2.
          t->peer_seed = 1;
          co_await exchange(std::shared_ptr<stream::ByteStream>(std::move(s)), 2, total, t);
        });
    return at_holder;
  }
};

// Register, renew, resolve from another connection and delete, over ws:// and tcp://, with the
// connections on different loops.
TEST_P(RelayThreads, LeaseLifecycle) {
  RelayProcess relay(config_with_threads(GetParam()));
  ASSERT_TRUE(relay.alive()) << relay.err();
  EXPECT_NE(relay.err().find("serving connections on " + std::to_string(GetParam()) + " threads"),
            std::string::npos)
      << relay.err();
  std::vector<std::shared_ptr<mux::Session>> sessions;
  for (int i = 0; i < 4; ++i) sessions.push_back(session(i % 2 == 0 ? relay.ws : relay.tcp));
  auto me = credential();
  EXPECT_EQ(update(*sessions[0], me, "Printer-2"), ResponseCode::Accepted);
  EXPECT_EQ(update(*sessions[0], me, "printer-3", {"h2", "http/1.1"}), ResponseCode::Accepted);
  for (auto& s : sessions) {
    const auto i = info(*s);
    ASSERT_EQ(i.leases.size(), 1u);
    EXPECT_EQ(i.leases[0].name, "printer-3");
    EXPECT_EQ(i.leases[0].identity->id, me.id());
  }
  // Signed by the holder's identity, so any connection may send it (here one on another loop).
  auto del = run(client::delete_lease(*sessions[1], me, base::OsRandom::instance(),
                                      base::SystemClock::instance()));
  ASSERT_TRUE(del);
  EXPECT_EQ(*del, ResponseCode::Accepted);
  del = run(client::delete_lease(*sessions[0], me, base::OsRandom::instance(),
                                 base::SystemClock::instance()));
  ASSERT_TRUE(del);
  EXPECT_EQ(*del, ResponseCode::InvalidIdentity);  // nothing left to delete
  EXPECT_TRUE(info(*sessions[3]).leases.empty());
  // Four sessions and this curl, spread over the loops: more than one loop serves them.
  const auto loops = loop_connections(metrics_of(relay));
  ASSERT_EQ(loops.size(), GetParam());
  long long sum = 0;
  int used = 0;
  for (auto n : loops) {
    sum += n;
    used += n > 0 ? 1 : 0;
  }
  EXPECT_EQ(sum, 5);
  EXPECT_GE(used, 2);
  EXPECT_TRUE(relay.alive());
}

// One dial, 64 MiB (scaled) each way with checksums, counted exactly by the relay.
TEST_P(RelayThreads, SplicesBulkDataBothWaysWithChecksums) {
  RelayProcess relay(config_with_threads(GetParam()));
  auto holder = session(relay.ws);
  auto dialer = session(relay.tcp);
  auto me = credential();
  ASSERT_EQ(update(*holder, me, "bulk"), ResponseCode::Accepted);
  const std::size_t total = scaled(std::size_t{64} << 20, 1 << 20);
  auto at_holder = hold_exchanging(holder, total);
  auto dialed = run(client::request_connection(*dialer, me.id()));
  ASSERT_TRUE(dialed) << dialed.error().message();
  ASSERT_EQ(dialed->code, ResponseCode::Accepted);
  auto at_dialer = std::make_shared<Transfer>();
  at_dialer->peer_seed = 2;
  asio::co_spawn(
      io_,
      exchange(std::shared_ptr<stream::ByteStream>(std::move(dialed->stream)), 1, total, at_dialer),
      asio::detached);
  for (int i = 0; i < 500 && at_holder->empty(); ++i) pump(10ms);
  ASSERT_EQ(at_holder->size(), 1u);
  auto h = at_holder->front();
  finish({h, at_dialer});
  expect_exchanged(*h, *at_dialer, total);
  // Every spliced byte is counted, per direction, though the copy loops run on workers.
  std::string m;
  for (int i = 0; i < 100; ++i) {
    m = metrics_of(relay);
    if (metric_value(m, "portal_relayed_streams") == 0) break;
    pump(20ms);
  }
  EXPECT_EQ(metric_value(m, "portal_relayed_bytes_total{direction=\"to_holder\"}"),
            static_cast<long long>(total))
      << m;
  EXPECT_EQ(metric_value(m, "portal_relayed_bytes_total{direction=\"to_dialer\"}"),
            static_cast<long long>(total))
      << m;
}

// Many dialer sessions on every loop dial one holder at once; each relayed stream carries data
// both ways with checksums.
TEST_P(RelayThreads, ManyConcurrentDialsAcrossLoops) {
  RelayProcess relay(config_with_threads(GetParam()));
  auto holder = session(relay.tcp);
  auto me = credential();
  ASSERT_EQ(update(*holder, me, "many"), ResponseCode::Accepted);
  const std::size_t total = 256 * 1024;
  constexpr int kSessions = 6;
  constexpr int kDialsEach = 4;
  auto at_holder = hold_exchanging(holder, total);
  std::vector<std::shared_ptr<mux::Session>> dialers;
  for (int i = 0; i < kSessions; ++i) dialers.push_back(session(i % 2 ? relay.ws : relay.tcp));
  auto accepted = std::make_shared<int>(0);
  auto rejected = std::make_shared<int>(0);
  auto streams = std::make_shared<std::vector<std::unique_ptr<stream::ByteStream>>>();
  for (auto& d : dialers) {
    for (int k = 0; k < kDialsEach; ++k) {
      asio::co_spawn(io_, dial_and_count(d, me.id(), accepted, rejected, streams), asio::detached);
    }
  }
  for (int i = 0; i < 1000 && *accepted + *rejected < kSessions * kDialsEach; ++i) pump(10ms);
  ASSERT_EQ(*accepted, kSessions * kDialsEach);
  EXPECT_EQ(*rejected, 0);
  std::vector<std::shared_ptr<Transfer>> all;
  for (auto& s : *streams) {
    auto t = std::make_shared<Transfer>();
    t->peer_seed = 2;
    all.push_back(t);
    asio::co_spawn(io_, exchange(std::shared_ptr<stream::ByteStream>(std::move(s)), 1, total, t),
                   asio::detached);
  }
  for (int i = 0; i < 1000 && at_holder->size() < all.size(); ++i) pump(10ms);
  ASSERT_EQ(at_holder->size(), all.size());
  for (auto& t : *at_holder) all.push_back(t);
  finish(all);
  for (auto& t : all) {
    EXPECT_EQ(t->first_mismatch, -1);
    EXPECT_EQ(t->read_error, "");
    EXPECT_EQ(t->received_bytes, total);
    EXPECT_TRUE(t->write_ok);
  }
  std::string m;
  for (int i = 0; i < 100; ++i) {
    m = metrics_of(relay);
    if (metric_value(m, "portal_relayed_streams") == 0) break;
    pump(20ms);
  }
  const auto n = static_cast<long long>(kSessions * kDialsEach);
  EXPECT_EQ(metric_value(m, "portal_relayed_streams_total"), n) << m;
  EXPECT_EQ(metric_value(m, "portal_relayed_bytes_total{direction=\"to_holder\"}"),
            n * static_cast<long long>(total))
      << m;
  EXPECT_EQ(metric_value(m, "portal_relayed_bytes_total{direction=\"to_dialer\"}"),
            n * static_cast<long long>(total))
      << m;
  EXPECT_EQ(metric_value(m, "portal_connections"), kSessions + 1) << m;
  const auto loops = loop_connections(m);
  int used = 0;
  for (auto c : loops) used += c > 0 ? 1 : 0;
  EXPECT_EQ(used, static_cast<int>(GetParam())) << m;
}

// A holder on a worker goes away: its leases go, and another session sees it.
TEST_P(RelayThreads, DisconnectDropsTheLeasesOfThatConnection) {
  RelayProcess relay(config_with_threads(GetParam()));
  auto holder = session(relay.ws);
  auto watcher = session(relay.tcp);
  ASSERT_EQ(update(*holder, credential(), "a"), ResponseCode::Accepted);
  ASSERT_EQ(update(*holder, credential(), "b"), ResponseCode::Accepted);
  ASSERT_EQ(info(*watcher).leases.size(), 2u);
  holder->close();
  std::size_t left = 2;
  for (int i = 0; i < 100 && left != 0; ++i) {
    pump(20ms);
    left = info(*watcher).leases.size();
  }
  EXPECT_EQ(left, 0u);
  // Its socket is given back (the per-address count and the loop's count): only the watcher
  // and this curl are left.
  long long sum = -1;
  for (int i = 0; i < 100 && sum != 2; ++i) {
    const auto loops = loop_connections(metrics_of(relay));
    sum = 0;
    for (auto n : loops) sum += n;
    if (sum != 2) pump(20ms);
  }
  EXPECT_EQ(sum, 2);
}

// SIGTERM with sessions on every loop and a spliced stream: GO_AWAY to each, the drain ends,
// the process exits 0 and no thread holds it up.
TEST_P(RelayThreads, GracefulShutdownOnSigterm) {
  RelayProcess relay(config_with_threads(GetParam(), R"("limits": {"drain_timeout_ms": 2000})"));
  std::vector<std::shared_ptr<mux::Session>> sessions;
  for (unsigned i = 0; i < GetParam() + 1; ++i) sessions.push_back(session(relay.tcp));
  auto me = credential();
  ASSERT_EQ(update(*sessions[0], me, "leaving"), ResponseCode::Accepted);
  auto kept = std::make_shared<std::vector<std::unique_ptr<stream::ByteStream>>>();
  hold(sessions[0], ResponseCode::Accepted, keep_in(kept));
  auto dialed = run(client::request_connection(*sessions[1], me.id()));
  ASSERT_TRUE(dialed);
  ASSERT_EQ(dialed->code, ResponseCode::Accepted);
  auto closed = std::make_shared<int>(0);
  for (auto& s : sessions) asio::co_spawn(io_, count_closed(s, closed), asio::detached);
  relay.child().signal(SIGTERM);
  const auto n = static_cast<int>(sessions.size());
  for (int i = 0; i < 400 && *closed < n; ++i) pump(20ms);
  EXPECT_EQ(*closed, n);
  EXPECT_EQ(relay.child().wait(10'000), 0) << relay.err();
  EXPECT_NE(relay.err().find("stopped"), std::string::npos) << relay.err();
}

INSTANTIATE_TEST_SUITE_P(Threads, RelayThreads, ::testing::Values(2u, 4u));

// The two ends of a splice on different loops, chosen by the relay's placement (the fewest
// sockets, workers first, in turn): with 3 threads the holder goes to worker 1 and the dialer
// to worker 2; with 2 threads the holder goes to worker 1 and the dialer to the relay's own
// loop. Then bulk both ways, and the holder's session ends in the middle of a second splice.
class RelayCrossLoopSplice : public RelayThreads {};

TEST_P(RelayCrossLoopSplice, BulkThenTheHolderGoesMidTransfer) {
  const unsigned threads = GetParam();
  RelayProcess relay(config_with_threads(threads));
  auto holder = session(relay.tcp);
  ASSERT_TRUE(info(*holder).identity);  // accepted and admitted before the next one
  auto dialer = session(relay.ws);
  ASSERT_TRUE(info(*dialer).identity);
  const auto loops = loop_connections(metrics_of(relay));
  ASSERT_EQ(loops.size(), threads);
  if (threads == 3) {
    EXPECT_EQ(loops, (std::vector<long long>{1, 1, 1}));  // curl, holder, dialer
  } else {
    EXPECT_EQ(loops, (std::vector<long long>{1, 2}));  // dialer; holder and curl
  }
  auto me = credential();
  ASSERT_EQ(update(*holder, me, "across"), ResponseCode::Accepted);
  const std::size_t total = scaled(std::size_t{32} << 20, 1 << 20);
  auto at_holder = hold_exchanging(holder, total);
  auto dialed = run(client::request_connection(*dialer, me.id()));
  ASSERT_TRUE(dialed);
  ASSERT_EQ(dialed->code, ResponseCode::Accepted);
  auto at_dialer = std::make_shared<Transfer>();
  at_dialer->peer_seed = 2;
  asio::co_spawn(
      io_,
      exchange(std::shared_ptr<stream::ByteStream>(std::move(dialed->stream)), 1, total, at_dialer),
      asio::detached);
  for (int i = 0; i < 500 && at_holder->empty(); ++i) pump(10ms);
  ASSERT_EQ(at_holder->size(), 1u);
  finish({at_holder->front(), at_dialer});
  EXPECT_EQ(at_dialer->received, at_holder->front()->sent);
  EXPECT_EQ(at_holder->front()->received, at_dialer->sent);
  EXPECT_EQ(at_dialer->received_bytes, total);
  EXPECT_EQ(at_holder->front()->first_mismatch, -1);

  // A second splice with far more than will be sent before the holder's session is closed:
  // the dialer's side must end (reset or end of stream), and the relay serves on.
  auto second = run(client::request_connection(*dialer, me.id()));
  ASSERT_TRUE(second);
  ASSERT_EQ(second->code, ResponseCode::Accepted);
  auto cut = std::make_shared<Transfer>();
  cut->peer_seed = 2;
  asio::co_spawn(io_,
                 exchange(std::shared_ptr<stream::ByteStream>(std::move(second->stream)), 1,
                          std::size_t{1} << 40, cut),
                 asio::detached);
  for (int i = 0; i < 500 && cut->received_bytes < (1u << 20); ++i) pump(10ms);
  EXPECT_GE(cut->received_bytes, 1u << 20);
  holder->close();
  for (int i = 0; i < 500 && !cut->read_done; ++i) pump(10ms);
  EXPECT_TRUE(cut->read_done);
  EXPECT_EQ(cut->first_mismatch, -1);
  std::string m;
  for (int i = 0; i < 100; ++i) {
    m = metrics_of(relay);
    if (metric_value(m, "portal_relayed_streams") == 0 &&
        metric_value(m, "portal_connections") == 1)
      break;
    pump(20ms);
  }
  EXPECT_EQ(metric_value(m, "portal_relayed_streams"), 0) << m;
  EXPECT_EQ(metric_value(m, "portal_connections"), 1) << m;
  EXPECT_EQ(metric_value(m, "portal_leases"), 0) << m;
  EXPECT_TRUE(info(*dialer).leases.empty());
  EXPECT_TRUE(relay.alive());
}

INSTANTIATE_TEST_SUITE_P(Threads, RelayCrossLoopSplice, ::testing::Values(2u, 3u));

// threads is checked: out of range is refused with the key named; --print-config shows it.
TEST(RelayThreadsConfig, CheckedAndPrinted) {
  TempDir dir;
  const auto cfg = dir / "relay.json";
  std::ofstream(cfg) << R"({"threads": 65})";
  auto r = run_process({bin_path("portal-relay"), "--check-config", cfg.string(), "--plugin-dir",
                        PORTAL_BUILD_PLUGIN_DIR});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("threads: must be at most 64"), std::string::npos) << r.out;
  std::ofstream(cfg) << R"({"threads": 3})";
  r = run_process({bin_path("portal-relay"), "--config", cfg.string(), "--print-config"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"threads\": 3,"), std::string::npos) << r.out;
  // The WebSocket keep-alive timer cannot follow a connection to a worker.
  std::ofstream(cfg) << R"({"threads": 2, "transports": {"ws": {"idle_timeout_ms": 5000}}})";
  r = run_process({bin_path("portal-relay"), "--check-config", cfg.string(), "--plugin-dir",
                   PORTAL_BUILD_PLUGIN_DIR});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("transports.ws.idle_timeout_ms: not with threads"), std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace portal::test
