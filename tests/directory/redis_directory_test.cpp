// SPDX-License-Identifier: Apache-2.0
// portal.directory.redis against a real redis-server on loopback (docs/fleet.md): every
// operation of the directory vocabulary, expiry, bounds, and the faults (Redis down, killed,
// stopped, a full queue, AUTH).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "portal/directory/directory.hpp"
#include "support/plugins.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"

namespace portal {
namespace {

using namespace std::chrono_literals;
using lease::DirectoryOp;
using lease::DirectoryReply;
using lease::DirectoryRequest;
using lease::DirectoryStatus;
using Clock = std::chrono::steady_clock;
using test::inline_command;
using test::RedisServer;

base::Bytes bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string text(const base::Bytes& b) { return {b.begin(), b.end()}; }

DirectoryRequest claim(const std::string& name, const std::string& who,
                       std::chrono::milliseconds ttl = 10s) {
  DirectoryRequest r;
  r.op = DirectoryOp::ClaimName;
  r.key = name;
  r.subject = who;
  r.ttl = ttl;
  return r;
}
DirectoryRequest release(const std::string& name, const std::string& who) {
  DirectoryRequest r;
  r.op = DirectoryOp::ReleaseName;
  r.key = name;
  r.subject = who;
  return r;
}
DirectoryRequest publish(const std::string& id, const std::string& relay, const std::string& value,
                         std::chrono::milliseconds ttl = 10s) {
  DirectoryRequest r;
  r.op = DirectoryOp::PublishLease;
  r.key = id;
  r.relay = relay;
  r.value = bytes(value);
  r.ttl = ttl;
  return r;
}
DirectoryRequest withdraw(const std::string& id, const std::string& relay) {
  DirectoryRequest r;
  r.op = DirectoryOp::WithdrawLease;
  r.key = id;
  r.relay = relay;
  return r;
}
DirectoryRequest resolve(const std::string& key, bool by_name = false) {
  DirectoryRequest r;
  r.op = DirectoryOp::Resolve;
  r.key = key;
  r.by_name = by_name;
  return r;
}
DirectoryRequest nonce(const std::string& id, const std::string& n,
                       std::chrono::milliseconds ttl = 10s) {
  DirectoryRequest r;
  r.op = DirectoryOp::CheckNonce;
  r.key = id;
  r.value = bytes(n);
  r.ttl = ttl;
  return r;
}
DirectoryRequest heartbeat(const std::string& relay, const std::string& uri,
                           std::chrono::milliseconds ttl = 10s) {
  DirectoryRequest r;
  r.op = DirectoryOp::Heartbeat;
  r.relay = relay;
  r.value = bytes(uri);
  r.ttl = ttl;
  return r;
}
DirectoryRequest members() {
  DirectoryRequest r;
  r.op = DirectoryOp::Members;
  return r;
}

// Relay ID -> value of a Resolve or Members reply.
std::map<std::string, std::string> by_relay(const DirectoryReply& r) {
  std::map<std::string, std::string> out;
  for (const auto& rec : r.records) out[rec.relay] = text(rec.value);
  return out;
}

class RedisDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = test::load_build_plugins();
    auto p = host_->find_provider(plugin::Kind::Directory, "redis");
    ASSERT_TRUE(p);
    EXPECT_EQ((*p)->id(), "portal.directory.redis");
    auto f = (*p)->factory<directory::DirectoryFactory>();
    ASSERT_TRUE(f);
    factory_ = *f;
  }
  void TearDown() override {
    for (auto& c : clients_) c->close();
    // Deliver what close() posted, so that nothing outlives the test's io_context.
    io_.restart();
    io_.run_for(50ms);
  }

  directory::Settings settings(const RedisServer& server, directory::Settings extra = {}) {
    directory::Settings s = {{"url", server.url()}, {"timeout_ms", "1000"}, {"reconnect_ms", "50"}};
    for (auto& [k, v] : extra) s[k] = v;
    return s;
  }

  std::shared_ptr<directory::DirectoryClient> open(const directory::Settings& s,
                                                   lease::DirectoryBounds bounds = {}) {
    std::string problem;
    auto c = factory_->open(io_.get_executor(), s, bounds, problem);
    EXPECT_TRUE(c) << problem;
    if (!c) return nullptr;
    clients_.push_back(*c);
    return *c;
  }

  // Runs the io_context until `done` holds or `timeout` passes.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
    auto deadline = Clock::now() + timeout;
    while (!done()) {
      if (Clock::now() >= deadline) return false;
      io_.restart();
      if (io_.run_one_for(10ms) == 0) std::this_thread::sleep_for(1ms);
    }
    return true;
  }

  DirectoryReply call(directory::DirectoryClient& c, DirectoryRequest r) {
    r.ticket = ++ticket_;
    std::optional<DirectoryReply> out;
    int calls = 0;
    EXPECT_TRUE(c.submit(r, [&](DirectoryReply reply) {
      ++calls;
      out = std::move(reply);
    }));
    EXPECT_TRUE(run_until([&] { return out.has_value(); }));
    EXPECT_EQ(calls, 1);
    if (!out) return {};
    EXPECT_EQ(out->ticket, r.ticket);
    return *out;
  }

  bool wait_connected(directory::DirectoryClient& c, std::chrono::milliseconds timeout = 10s) {
    return run_until([&] { return c.health().connected; }, timeout);
  }

  boost::asio::io_context io_;
  std::unique_ptr<plugin::Host> host_;
  std::shared_ptr<directory::DirectoryFactory> factory_;
  std::vector<std::shared_ptr<directory::DirectoryClient>> clients_;
  std::uint64_t ticket_ = 0;
};

TEST_F(RedisDirectoryTest, ClaimExtendConflictRelease) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  auto c = open(settings(server));
  ASSERT_TRUE(c && wait_connected(*c));

  EXPECT_EQ(call(*c, claim("alice", "ID-A", 300ms)).status, DirectoryStatus::Ok);
  // The holder extends its claim: still held after the first TTL has passed.
  EXPECT_EQ(call(*c, claim("alice", "ID-A", 10s)).status, DirectoryStatus::Ok);
  std::this_thread::sleep_for(500ms);
  auto conflict = call(*c, claim("alice", "ID-B"));
  EXPECT_EQ(conflict.status, DirectoryStatus::Conflict);
  EXPECT_EQ(conflict.holder, "ID-A");
  // Only the holder releases.
  EXPECT_EQ(call(*c, release("alice", "ID-B")).status, DirectoryStatus::NotFound);
  EXPECT_EQ(call(*c, release("alice", "ID-A")).status, DirectoryStatus::Ok);
  EXPECT_EQ(call(*c, release("alice", "ID-A")).status, DirectoryStatus::NotFound);
  EXPECT_EQ(call(*c, claim("alice", "ID-B")).status, DirectoryStatus::Ok);
  EXPECT_EQ(call(*c, claim("alice", "ID-A")).holder, "ID-B");
  auto h = c->health();
  EXPECT_TRUE(h.connected);
  EXPECT_EQ(h.completed, 8u);
  EXPECT_EQ(h.failed, 0u);
  EXPECT_GT(h.last_latency.count(), 0);
}

TEST_F(RedisDirectoryTest, PublishResolveWithdraw) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  auto c = open(settings(server));
  ASSERT_TRUE(c && wait_connected(*c));

  EXPECT_EQ(call(*c, resolve("ID-X")).status, DirectoryStatus::NotFound);
  std::string signed_request("\x00\x01signed\xff\r\n", 12);
  EXPECT_EQ(call(*c, publish("ID-X", "R1", signed_request, 5s)).status, DirectoryStatus::Ok);
  auto r = call(*c, resolve("ID-X"));
  ASSERT_EQ(r.status, DirectoryStatus::Ok) << r.detail;
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].relay, "R1");
  EXPECT_EQ(r.records[0].key, "ID-X");
  EXPECT_EQ(text(r.records[0].value), signed_request);
  EXPECT_GT(r.records[0].ttl_left.count(), 0);
  EXPECT_LE(r.records[0].ttl_left, 5s);

  // By name: the name's holder, then its records.
  EXPECT_EQ(call(*c, resolve("xname", true)).status, DirectoryStatus::NotFound);
  EXPECT_EQ(call(*c, claim("xname", "ID-X")).status, DirectoryStatus::Ok);
  auto n = call(*c, resolve("xname", true));
  ASSERT_EQ(n.status, DirectoryStatus::Ok) << n.detail;
  ASSERT_EQ(n.records.size(), 1u);
  EXPECT_EQ(n.records[0].key, "ID-X");
  EXPECT_EQ(text(n.records[0].value), signed_request);

  EXPECT_EQ(call(*c, withdraw("ID-X", "R1")).status, DirectoryStatus::Ok);
  EXPECT_EQ(call(*c, withdraw("ID-X", "R1")).status, DirectoryStatus::NotFound);
  EXPECT_EQ(call(*c, resolve("ID-X")).status, DirectoryStatus::NotFound);
  EXPECT_EQ(call(*c, resolve("xname", true)).status, DirectoryStatus::NotFound);
}

TEST_F(RedisDirectoryTest, SeveralHoldersOfOneIdentity) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  auto c = open(settings(server));
  ASSERT_TRUE(c && wait_connected(*c));
  for (const char* relay : {"R1", "R2", "R3"}) {
    EXPECT_EQ(call(*c, publish("ID-M", relay, std::string("lease via ") + relay)).status,
              DirectoryStatus::Ok);
  }
  // A re-publish replaces that relay's record.
  EXPECT_EQ(call(*c, publish("ID-M", "R2", "renewed via R2")).status, DirectoryStatus::Ok);
  auto r = call(*c, resolve("ID-M"));
  ASSERT_EQ(r.status, DirectoryStatus::Ok) << r.detail;
  EXPECT_EQ(by_relay(r),
            (std::map<std::string, std::string>{
                {"R1", "lease via R1"}, {"R2", "renewed via R2"}, {"R3", "lease via R3"}}));
  EXPECT_EQ(call(*c, withdraw("ID-M", "R1")).status, DirectoryStatus::Ok);
  EXPECT_EQ(by_relay(call(*c, resolve("ID-M"))).size(), 2u);
}

TEST_F(RedisDirectoryTest, RecordsExpire) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  auto c = open(settings(server));
  ASSERT_TRUE(c && wait_connected(*c));
  EXPECT_EQ(call(*c, publish("ID-T", "short", "a", 200ms)).status, DirectoryStatus::Ok);
  EXPECT_EQ(call(*c, publish("ID-T", "long", "b", 20s)).status, DirectoryStatus::Ok);
  EXPECT_EQ(call(*c, claim("tname", "ID-T", 200ms)).status, DirectoryStatus::Ok);
  EXPECT_EQ(call(*c, nonce("ID-T", "n1", 200ms)).status, DirectoryStatus::Ok);
  EXPECT_EQ(call(*c, heartbeat("relay-short", "tcp://a:1", 200ms)).status, DirectoryStatus::Ok);
  EXPECT_EQ(by_relay(call(*c, resolve("ID-T"))).size(), 2u);

  auto deadline = Clock::now() + 5s;
  std::map<std::string, std::string> live;
  do {
    std::this_thread::sleep_for(50ms);
    live = by_relay(call(*c, resolve("ID-T")));
  } while (live.size() != 1 && Clock::now() < deadline);
  EXPECT_EQ(live, (std::map<std::string, std::string>{{"long", "b"}}));
  // The name, the nonce and the membership have expired too.
  EXPECT_EQ(call(*c, claim("tname", "ID-U")).status, DirectoryStatus::Ok);
  EXPECT_EQ(call(*c, nonce("ID-T", "n1")).status, DirectoryStatus::Ok);
  auto m = call(*c, members());
  EXPECT_EQ(m.status, DirectoryStatus::Ok);
  EXPECT_TRUE(m.records.empty());
}

TEST_F(RedisDirectoryTest, ScriptsFlushedByAnOperatorAreSentAgain) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  auto c = open(settings(server));
  ASSERT_TRUE(c && wait_connected(*c));
  EXPECT_EQ(call(*c, claim("s", "ID-S")).status, DirectoryStatus::Ok);
  ASSERT_EQ(inline_command(server.port(), "SCRIPT FLUSH"), "+OK");
  // Redis answers NOSCRIPT to the EVALSHA; the client sends the script with EVAL instead.
  EXPECT_EQ(call(*c, claim("s", "ID-T")).holder, "ID-S");
  EXPECT_EQ(call(*c, publish("ID-S", "R1", "v")).status, DirectoryStatus::Ok);
  EXPECT_EQ(call(*c, resolve("s", true)).records.size(), 1u);
  EXPECT_EQ(c->health().failed, 0u);
}

TEST_F(RedisDirectoryTest, NonceReplayIsConflict) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  auto c = open(settings(server));
  ASSERT_TRUE(c && wait_connected(*c));
  std::string n("\x01\x02\x00\xfe", 4);
  EXPECT_EQ(call(*c, nonce("ID-N", n)).status, DirectoryStatus::Ok);
  auto replay = call(*c, nonce("ID-N", n));
  EXPECT_EQ(replay.status, DirectoryStatus::Conflict);
  EXPECT_EQ(call(*c, nonce("ID-N", std::string("\x01\x02\x00\xff", 4))).status,
            DirectoryStatus::Ok);
  EXPECT_EQ(call(*c, nonce("ID-O", n)).status, DirectoryStatus::Ok);
}

TEST_F(RedisDirectoryTest, HeartbeatAndMembers) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  auto c = open(settings(server));
  ASSERT_TRUE(c && wait_connected(*c));
  auto empty = call(*c, members());
  EXPECT_EQ(empty.status, DirectoryStatus::Ok);
  EXPECT_TRUE(empty.records.empty());
  EXPECT_EQ(call(*c, heartbeat("R1", "tcp://10.0.0.1:4000")).status, DirectoryStatus::Ok);
  EXPECT_EQ(call(*c, heartbeat("R2", "tcp://10.0.0.2:4000")).status, DirectoryStatus::Ok);
  EXPECT_EQ(call(*c, heartbeat("R1", "tcp://10.0.0.9:4000")).status, DirectoryStatus::Ok);
  auto m = call(*c, members());
  ASSERT_EQ(m.status, DirectoryStatus::Ok) << m.detail;
  EXPECT_EQ(by_relay(m), (std::map<std::string, std::string>{{"R1", "tcp://10.0.0.9:4000"},
                                                             {"R2", "tcp://10.0.0.2:4000"}}));
  for (const auto& rec : m.records) {
    EXPECT_TRUE(rec.key.empty());
    EXPECT_GT(rec.ttl_left.count(), 0);
  }
}

TEST_F(RedisDirectoryTest, KeyPrefixAndDatabaseIsolateClients) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  auto a = open(settings(server, {{"key_prefix", "fleet-a:"}}));
  auto b = open(settings(server, {{"key_prefix", "fleet-b:"}}));
  auto d = open(settings(server, {{"key_prefix", "fleet-a:"}, {"url", server.url(3)}}));
  ASSERT_TRUE(a && b && d && wait_connected(*a) && wait_connected(*b) && wait_connected(*d));
  EXPECT_EQ(call(*a, claim("shared", "ID-A")).status, DirectoryStatus::Ok);
  EXPECT_EQ(call(*b, claim("shared", "ID-B")).status, DirectoryStatus::Ok);
  EXPECT_EQ(call(*d, claim("shared", "ID-D")).status, DirectoryStatus::Ok);
  EXPECT_EQ(call(*a, publish("ID-A", "R1", "a")).status, DirectoryStatus::Ok);
  EXPECT_EQ(call(*b, resolve("ID-A")).status, DirectoryStatus::NotFound);
  EXPECT_EQ(call(*d, resolve("ID-A")).status, DirectoryStatus::NotFound);
  EXPECT_EQ(call(*a, resolve("shared", true)).records.size(), 1u);
  EXPECT_EQ(call(*a, nonce("ID-A", "n")).status, DirectoryStatus::Ok);
  EXPECT_EQ(call(*b, nonce("ID-A", "n")).status, DirectoryStatus::Ok);
  EXPECT_EQ(call(*a, nonce("ID-A", "n")).status, DirectoryStatus::Conflict);
}

TEST_F(RedisDirectoryTest, RepliesPastTheBoundsAreInvalid) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  auto big = open(settings(server));
  lease::DirectoryBounds small;
  small.max_records = 2;
  small.max_value = 16;
  small.max_key = 8;
  auto c = open(settings(server), small);
  ASSERT_TRUE(big && c && wait_connected(*big) && wait_connected(*c));

  EXPECT_EQ(call(*big, publish("ID-B", "R1", std::string(100, 'v'))).status, DirectoryStatus::Ok);
  auto r = call(*c, resolve("ID-B"));
  EXPECT_EQ(r.status, DirectoryStatus::Invalid);
  EXPECT_NE(r.detail.find("100 bytes"), std::string::npos) << r.detail;
  EXPECT_TRUE(r.records.empty());

  for (const char* relay : {"R1", "R2", "R3"}) {
    EXPECT_EQ(call(*big, publish("ID-C", relay, "v")).status, DirectoryStatus::Ok);
  }
  r = call(*c, resolve("ID-C"));
  EXPECT_EQ(r.status, DirectoryStatus::Invalid);
  EXPECT_NE(r.detail.find("3 records"), std::string::npos) << r.detail;

  // A holder ID past max_key.
  EXPECT_EQ(call(*big, claim("nm", "AN-IDENTITY-TOO-LONG")).status, DirectoryStatus::Ok);
  r = call(*c, claim("nm", "ID-Z"));
  EXPECT_EQ(r.status, DirectoryStatus::Invalid);
  EXPECT_TRUE(r.holder.empty());
  // The client still works after each.
  EXPECT_EQ(call(*c, resolve("ID-NONE")).status, DirectoryStatus::NotFound);
  EXPECT_EQ(call(*c, publish("ID-D", "R1", std::string(17, 'x'))).status, DirectoryStatus::Invalid);
}

// A server that speaks just enough RESP to pass the client's handshake (PING and six SCRIPT
// LOADs), then answers each later request with `answers` in turn, one per request. Loopback, one
// connection at a time, stops by itself after 10 s or when stop() is called.
class FakeRedis {
 public:
  explicit FakeRedis(std::vector<std::string> answers) : answers_(std::move(answers)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener_, 4) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "cannot listen on loopback";
      return;
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  FakeRedis(const FakeRedis&) = delete;
  FakeRedis& operator=(const FakeRedis&) = delete;
  ~FakeRedis() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
  }
  [[nodiscard]] std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

 private:
  // Waits up to 100 ms for `fd` to be readable.
  static bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 100) > 0;
  }
  static std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) {
      ++n;
    }
    return n;
  }
  void serve() {
    auto deadline = Clock::now() + 10s;
    std::size_t next = 0;
    while (!stop_ && Clock::now() < deadline) {
      if (!readable(listener_)) continue;
      int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) continue;
      std::string in;
      bool greeted = false;
      std::size_t requests = 0;
      while (!stop_ && Clock::now() < deadline) {
        if (!readable(fd)) continue;
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<std::size_t>(n));
        if (!greeted && count(in, "SCRIPT\r\n") >= 6) {
          greeted = true;
          std::string hello = "+PONG\r\n";
          for (int i = 0; i < 6; ++i) hello += "$40\r\n" + std::string(40, 'a') + "\r\n";
          (void)::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
          in.clear();
        } else if (greeted) {
          // One answer per request (each starts with an array header).
          for (std::size_t seen = count(in, "*"); requests < seen && next < answers_.size();
               ++requests) {
            (void)::send(fd, answers_[next].data(), answers_[next].size(), MSG_NOSIGNAL);
            ++next;
          }
        }
      }
      ::close(fd);
    }
  }

  std::vector<std::string> answers_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(RedisDirectoryTest, HostileRepliesAreRefusedBeforeAnythingIsAllocated) {
  FakeRedis fake({"$2000000000\r\n", "*100000000\r\n", "*1\r\n*1\r\n*1\r\n:1\r\n",
                  "+" + std::string(5000, 'x') + "\r\n", "?what\r\n", ":1\r\n"});
  auto c = open({{"url", fake.url()}, {"timeout_ms", "2000"}, {"reconnect_ms", "10"}});
  ASSERT_TRUE(c && wait_connected(*c)) << c->health().last_error;
  auto r = call(*c, resolve("ID"));
  EXPECT_EQ(r.status, DirectoryStatus::Invalid);
  EXPECT_NE(r.detail.find("bulk string of 2000000000 bytes"), std::string::npos) << r.detail;
  // The connection is out of step: dropped, and made again for the next request.
  r = call(*c, members());
  EXPECT_EQ(r.status, DirectoryStatus::Invalid);
  EXPECT_NE(r.detail.find("array of 100000000 elements"), std::string::npos) << r.detail;
  r = call(*c, members());
  EXPECT_EQ(r.status, DirectoryStatus::Invalid);
  EXPECT_NE(r.detail.find("nested"), std::string::npos) << r.detail;
  r = call(*c, members());
  EXPECT_EQ(r.status, DirectoryStatus::Invalid);
  EXPECT_NE(r.detail.find("longer than"), std::string::npos) << r.detail;
  r = call(*c, members());
  EXPECT_EQ(r.status, DirectoryStatus::Invalid);
  EXPECT_NE(r.detail.find("unknown type"), std::string::npos) << r.detail;
  // An answer of the wrong shape for the operation.
  r = call(*c, members());
  EXPECT_EQ(r.status, DirectoryStatus::Invalid);
  EXPECT_NE(r.detail.find("malformed"), std::string::npos) << r.detail;
  EXPECT_GE(c->health().reconnects, 5u);
}

TEST_F(RedisDirectoryTest, BadRequestsAreInvalidWithoutReachingRedis) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  auto c = open(settings(server));
  ASSERT_TRUE(c && wait_connected(*c));
  auto r = call(*c, claim("x", "ID", 0ms));
  EXPECT_EQ(r.status, DirectoryStatus::Invalid);
  EXPECT_NE(r.detail.find("time to live"), std::string::npos) << r.detail;
  EXPECT_EQ(call(*c, claim("x", "")).status, DirectoryStatus::Invalid);
  EXPECT_EQ(call(*c, publish("ID", "", "v")).status, DirectoryStatus::Invalid);
  EXPECT_EQ(call(*c, nonce("ID", "")).status, DirectoryStatus::Invalid);
  EXPECT_EQ(call(*c, resolve("")).status, DirectoryStatus::Invalid);
}

TEST_F(RedisDirectoryTest, DownAtOpenFailsFastThenRecovers) {
  RedisServer server;
  server.reserve();
  auto c = open(settings(server, {{"timeout_ms", "3000"}}));
  ASSERT_TRUE(c);
  ASSERT_TRUE(run_until([&] { return !c->health().last_error.empty(); }, 5s));
  EXPECT_FALSE(c->health().connected);
  EXPECT_NE(c->health().last_error.find(std::to_string(server.port())), std::string::npos)
      << c->health().last_error;
  auto start = Clock::now();
  auto r = call(*c, claim("x", "ID"));
  EXPECT_EQ(r.status, DirectoryStatus::Unavailable);
  EXPECT_FALSE(r.detail.empty());
  EXPECT_LT(Clock::now() - start, 1500ms);  // fail fast, not at the 3 s deadline

  ASSERT_TRUE(server.start());
  ASSERT_TRUE(wait_connected(*c, 15s)) << c->health().last_error;
  EXPECT_EQ(call(*c, claim("x", "ID")).status, DirectoryStatus::Ok);
  EXPECT_TRUE(c->health().last_error.empty());
}

// Submits `n` claims without running the executor; counts each ticket's replies.
struct Burst {
  std::map<std::uint64_t, int> calls;
  std::map<DirectoryStatus, int> statuses;
  int accepted = 0;
  std::size_t delivered = 0;
};

TEST_F(RedisDirectoryTest, KilledMidRunCompletesEveryRequestOnce) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  auto c = open(settings(server));
  ASSERT_TRUE(c && wait_connected(*c));
  Burst b;
  for (std::uint64_t i = 1; i <= 3000; ++i) {
    auto r = nonce("ID-K", "nonce-" + std::to_string(i));
    r.ticket = i;
    if (c->submit(r, [&b](DirectoryReply reply) {
          ++b.calls[reply.ticket];
          ++b.statuses[reply.status];
          ++b.delivered;
        })) {
      ++b.accepted;
    }
    if (i == 1500) server.stop();
  }
  ASSERT_GT(b.accepted, 0);
  ASSERT_TRUE(run_until([&] { return b.delivered >= static_cast<std::size_t>(b.accepted); }, 10s));
  run_until([] { return false; }, 1200ms);  // nothing more may arrive, even past the deadline
  EXPECT_EQ(b.delivered, static_cast<std::size_t>(b.accepted));
  for (auto& [ticket, n] : b.calls) EXPECT_EQ(n, 1) << "ticket " << ticket;
  for (auto& [status, n] : b.statuses) {
    EXPECT_TRUE(status == DirectoryStatus::Ok || status == DirectoryStatus::Unavailable ||
                status == DirectoryStatus::TimedOut)
        << lease::to_string(status);
  }
  EXPECT_GT(b.statuses[DirectoryStatus::Unavailable] + b.statuses[DirectoryStatus::TimedOut], 0);
  EXPECT_FALSE(c->health().connected);
  EXPECT_FALSE(c->health().last_error.empty());

  // Back on the same port: the client reconnects by itself.
  ASSERT_TRUE(server.start());
  ASSERT_TRUE(wait_connected(*c, 15s)) << c->health().last_error;
  EXPECT_EQ(call(*c, claim("after", "ID")).status, DirectoryStatus::Ok);
  EXPECT_GE(c->health().reconnects, 1u);
}

TEST_F(RedisDirectoryTest, AStoppedRedisTimesOutAndAFullQueueRefuses) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  auto c = open(settings(server, {{"queue", "4"}, {"timeout_ms", "300"}}));
  ASSERT_TRUE(c && wait_connected(*c));
  server.pause();
  Burst b;
  auto start = Clock::now();
  for (std::uint64_t i = 1; i <= 4; ++i) {
    auto r = claim("q" + std::to_string(i), "ID");
    r.ticket = i;
    EXPECT_TRUE(c->submit(r, [&b](DirectoryReply reply) {
      ++b.calls[reply.ticket];
      ++b.statuses[reply.status];
      ++b.delivered;
    }));
  }
  EXPECT_EQ(c->health().queued, 4u);
  EXPECT_FALSE(c->submit(claim("q5", "ID"), [](DirectoryReply) { ADD_FAILURE(); }));
  ASSERT_TRUE(run_until([&] { return b.delivered == 4; }, 5s));
  auto took = Clock::now() - start;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
  EXPECT_EQ(b.statuses[DirectoryStatus::TimedOut], 4);
  // The connection thread gives the in-flight batch up at the deadline, then room returns.
  ASSERT_TRUE(run_until([&] { return c->health().queued == 0; }, 5s));
  server.resume();
  ASSERT_TRUE(wait_connected(*c, 10s)) << c->health().last_error;
  EXPECT_EQ(call(*c, claim("q6", "ID")).status, DirectoryStatus::Ok);
  EXPECT_GE(c->health().failed, 4u);
}

TEST_F(RedisDirectoryTest, CloseCompletesPendingWithUnavailable) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  auto c = open(settings(server, {{"timeout_ms", "20000"}}));
  ASSERT_TRUE(c && wait_connected(*c));
  server.pause();
  Burst b;
  for (std::uint64_t i = 1; i <= 10; ++i) {
    auto r = resolve("ID");
    r.ticket = i;
    EXPECT_TRUE(c->submit(r, [&b](DirectoryReply reply) {
      ++b.calls[reply.ticket];
      ++b.statuses[reply.status];
      ++b.delivered;
    }));
  }
  std::this_thread::sleep_for(50ms);  // the first batch is on the wire
  auto start = Clock::now();
  std::thread closer([&] { c->close(); });
  ASSERT_TRUE(run_until([&] { return b.delivered == 10; }, 10s));
  closer.join();
  // close() interrupts the exchange with the stopped server: it does not wait for the deadline.
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(b.statuses[DirectoryStatus::Unavailable], 10);
  EXPECT_FALSE(c->submit(resolve("ID"), [](DirectoryReply) { ADD_FAILURE(); }));
  c->close();  // idempotent
  server.resume();
}

TEST_F(RedisDirectoryTest, SubmitFromThreadsAndCloseMidway) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  auto c = open(settings(server));
  ASSERT_TRUE(c && wait_connected(*c));
  std::atomic<int> accepted{0};
  std::atomic<std::uint64_t> next{0};
  std::mutex m;
  Burst b;
  auto on_reply = [&](DirectoryReply reply) {
    std::lock_guard lock(m);
    ++b.calls[reply.ticket];
    ++b.statuses[reply.status];
    ++b.delivered;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        auto r = publish("ID-" + std::to_string(i % 7), "R", "v");
        r.ticket = ++next;
        if (c->submit(r, on_reply)) ++accepted;
      }
    });
  }
  std::thread closer([&] {
    std::this_thread::sleep_for(5ms);
    c->close();
  });
  for (auto& t : threads) t.join();
  closer.join();
  ASSERT_TRUE(run_until(
      [&] {
        std::lock_guard lock(m);
        return b.delivered >= static_cast<std::size_t>(accepted.load());
      },
      10s));
  run_until([] { return false; }, 200ms);
  std::lock_guard lock(m);
  EXPECT_EQ(b.delivered, static_cast<std::size_t>(accepted.load()));
  for (auto& [ticket, n] : b.calls) EXPECT_EQ(n, 1) << "ticket " << ticket;
  for (auto& [status, n] : b.statuses) {
    EXPECT_TRUE(status == DirectoryStatus::Ok || status == DirectoryStatus::Unavailable)
        << lease::to_string(status);
  }
  EXPECT_FALSE(c->submit(resolve("ID"), [](DirectoryReply) { ADD_FAILURE(); }));
}

TEST_F(RedisDirectoryTest, AuthWithAPasswordFile) {
  RedisServer server({"--requirepass", "s3cret pass"});
  ASSERT_TRUE(server.start());
  test::TempDir dir;
  auto good = (dir / "good").string();
  auto bad = (dir / "bad").string();
  std::ofstream(good) << "s3cret pass\n";
  std::ofstream(bad) << "not-the-pass-7\n";

  auto c = open(settings(server, {{"password_file", good}}));
  ASSERT_TRUE(c && wait_connected(*c)) << c->health().last_error;
  EXPECT_EQ(call(*c, claim("a", "ID")).status, DirectoryStatus::Ok);
  auto u = open(settings(server, {{"password_file", good}, {"user", "default"}}));
  ASSERT_TRUE(u && wait_connected(*u)) << u->health().last_error;
  EXPECT_EQ(call(*u, claim("a", "ID")).status, DirectoryStatus::Ok);

  auto w = open(settings(server, {{"password_file", bad}}));
  ASSERT_TRUE(w);
  ASSERT_TRUE(run_until([&] { return !w->health().last_error.empty(); }, 5s));
  auto why = w->health().last_error;
  EXPECT_NE(why.find("AUTH"), std::string::npos) << why;
  EXPECT_NE(why.find("WRONGPASS"), std::string::npos) << why;
  EXPECT_EQ(why.find("not-the-pass"), std::string::npos) << "the password leaked: " << why;
  EXPECT_EQ(call(*w, claim("a", "ID")).status, DirectoryStatus::Unavailable);

  auto none = open(settings(server));
  ASSERT_TRUE(none);
  ASSERT_TRUE(run_until([&] { return !none->health().last_error.empty(); }, 5s));
  EXPECT_NE(none->health().last_error.find("requires a password"), std::string::npos)
      << none->health().last_error;

  std::string problem;
  auto missing =
      factory_->open(io_.get_executor(),
                     settings(server, {{"password_file", (dir / "none").string()}}), {}, problem);
  EXPECT_FALSE(missing);
  EXPECT_EQ(problem.rfind("password_file:", 0), 0u) << problem;
  const char* const* secrets = factory_->secret_keys();
  ASSERT_NE(secrets[0], nullptr);
  EXPECT_STREQ(secrets[0], "password_file");
  EXPECT_EQ(secrets[1], nullptr);
}

TEST_F(RedisDirectoryTest, ValidateNamesTheBadKey) {
  auto problem_of = [&](directory::Settings s) {
    std::string problem;
    auto r = factory_->validate(s, problem);
    EXPECT_FALSE(r);
    return problem;
  };
  std::string problem;
  EXPECT_TRUE(factory_->validate({{"url", "redis://127.0.0.1:6379"}}, problem)) << problem;
  EXPECT_TRUE(factory_->validate({{"url", "redis://redis.internal:6379/2"},
                                  {"key_prefix", "fleet:"},
                                  {"queue", "100"},
                                  {"timeout_ms", "250"}},
                                 problem))
      << problem;
  EXPECT_TRUE(factory_->validate({{"url", "redis://[::1]:6379/0"}}, problem)) << problem;
  for (const char* url : {"http://127.0.0.1:6379", "rediss://127.0.0.1:6379", "redis://127.0.0.1",
                          "redis://:6379", "redis://h:0", "redis://h:99999", "redis://h:1/x",
                          "redis://h:1/", "redis://u:p@h:1", "redis://::1:6379", ""}) {
    EXPECT_EQ(problem_of({{"url", url}}).rfind("url:", 0), 0u) << url;
  }
  EXPECT_EQ(problem_of({}).rfind("url: required", 0), 0u);
  EXPECT_EQ(problem_of({{"url", "redis://h:1"}, {"queue", "0"}}).rfind("queue:", 0), 0u);
  EXPECT_EQ(problem_of({{"url", "redis://h:1"}, {"timeout_ms", "x"}}).rfind("timeout_ms:", 0), 0u);
  EXPECT_EQ(problem_of({{"url", "redis://h:1"}, {"key_prefix", "a b"}}).rfind("key_prefix:", 0),
            0u);
  EXPECT_EQ(problem_of({{"url", "redis://h:1"}, {"user", "u"}}).rfind("user:", 0), 0u);
  EXPECT_EQ(problem_of({{"url", "redis://h:1"}, {"passwd", "x"}}).rfind("passwd:", 0), 0u);
}

}  // namespace
}  // namespace portal
