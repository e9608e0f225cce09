// SPDX-License-Identifier: Apache-2.0
#pragma once

// A relay fleet with real processes (ADR 0015), shared by the fleet tests: a real redis-server,
// portal-relay processes sharing it as their directory (plugin portal.directory.redis), each with
// an identity key the test creates first (so it knows every relay's ID before any relay runs, and
// can list them in each other's fleet.peers), and the test's own directory client on the same
// Redis and key prefix.

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "portal/directory/directory.hpp"
#include "portal/identity/credential.hpp"
#include "portal/platform/key_file.hpp"
#include "relay/relay_harness.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"

namespace portal::test {

/// How one relay of the fleet is configured.
struct FleetRelayOptions {
  /// Names of the other relays (FleetTest::relay_id) whose IDs go in fleet.peers.
  std::vector<std::string> peers;
  /// fleet.peer_uri; empty leaves the key out (the relay's default).
  std::string peer_uri;
  /// fleet.heartbeat_ms.
  std::chrono::milliseconds heartbeat{500};
  /// The relay's second --listen (the first is ws://127.0.0.1:0/relay).
  std::string tcp_listen = "tcp://127.0.0.1:0";
  /// The config's "limits" object (JSON text); empty leaves the key out.
  std::string limits;
};

/// The fixture: plugins and a yamux client side (RelayClientTest), a redis-server started for
/// each test, relays named by the test ("a", "b", ...) with their key files, and the test's own
/// directory client.
class FleetTest : public RelayClientTest {
 protected:
  using Clock = std::chrono::steady_clock;
  static constexpr const char* kPrefix = "fleet-it:";

  void SetUp() override {
    RelayClientTest::SetUp();
    if (HasFatalFailure()) return;
    auto p = host_->find_provider(plugin::Kind::Directory, "redis");
    ASSERT_TRUE(p) << "portal.directory.redis is not in the build's plugin directory";
    auto f = (*p)->factory<directory::DirectoryFactory>();
    ASSERT_TRUE(f);
    directory_ = *f;
    ASSERT_TRUE(redis_.start()) << "redis-server did not start: " << redis_.log();
  }
  void TearDown() override {
    for (auto& c : clients_) c->close();
    RelayClientTest::TearDown();
  }

  /// The key file of relay `name`: created (mode 0600) on first use.
  std::filesystem::path key_file(const std::string& name) {
    const auto path = dir_ / (name + ".key");
    if (ids_.count(name) == 0) {
      auto cred = identity::Credential::generate(base::OsRandom::instance());
      if (!cred) throw std::runtime_error("no identity for relay " + name);
      if (auto saved = platform::save_key_file(path, *cred, platform::Overwrite::Yes); !saved) {
        throw std::runtime_error("cannot write " + path.string() + ": " + saved.error().message());
      }
      ids_[name] = cred->id();
    }
    return path;
  }
  /// Relay `name`'s ID (its key file is created if needed).
  std::string relay_id(const std::string& name) {
    (void)key_file(name);
    return ids_.at(name);
  }

  /// The relay config: the shared Redis and key prefix, its own identity key, its peers' IDs.
  std::string config(const std::string& name, const FleetRelayOptions& o) {
    std::string peers;
    for (const auto& p : o.peers) peers += (peers.empty() ? "\"" : ", \"") + relay_id(p) + "\"";
    std::string fleet =
        R"("peers": [)" + peers + R"(], "heartbeat_ms": )" + std::to_string(o.heartbeat.count());
    if (!o.peer_uri.empty()) fleet += R"(, "peer_uri": ")" + o.peer_uri + "\"";
    const std::string limits = o.limits.empty() ? "" : R"("limits": )" + o.limits + ", ";
    return "{" + limits + R"("identity_key_file": ")" + key_file(name).string() +
           R"(", "directory": {"name": "redis", "settings": {"url": ")" + redis_.url(0) +
           R"(", "key_prefix": ")" + kPrefix +
           R"(", "timeout_ms": "500", "reconnect_ms": "50"}}, "fleet": {)" + fleet + "}}";
  }
  /// Starts relay `name` (a failure to start is a test failure, with its stderr).
  std::unique_ptr<RelayProcess> relay(const std::string& name, const FleetRelayOptions& o) {
    auto r =
        std::make_unique<RelayProcess>(config(name, o), "ws://127.0.0.1:0/relay", o.tcp_listen);
    EXPECT_TRUE(r->alive()) << "relay " << name << " did not start:\n" << r->err();
    return r;
  }

  /// A directory client of the test's own, on the same Redis and prefix as the relays.
  std::shared_ptr<directory::DirectoryClient> open_directory() {
    std::string problem;
    auto c = directory_->open(io_.get_executor(),
                              {{"url", redis_.url(0)},
                               {"key_prefix", kPrefix},
                               {"timeout_ms", "500"},
                               {"reconnect_ms", "50"}},
                              lease::DirectoryBounds{}, problem);
    if (!c) throw std::runtime_error("cannot open the directory: " + problem);
    clients_.push_back(*c);
    return *c;
  }
  /// One request and its reply (the client answers by its deadline: bounded).
  lease::DirectoryReply call(directory::DirectoryClient& c, lease::DirectoryRequest r) {
    r.ticket = ++ticket_;
    auto out = std::make_shared<std::optional<lease::DirectoryReply>>();
    if (!c.submit(r, [out](lease::DirectoryReply reply) { *out = std::move(reply); })) {
      throw std::runtime_error("directory queue full");
    }
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (!*out && Clock::now() < deadline) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(5));
    }
    if (!*out) throw std::runtime_error("no directory reply within 10 s");
    return **out;
  }
  /// The live holders of identity `key` (or of a name).
  lease::DirectoryReply resolve(directory::DirectoryClient& c, const std::string& key,
                                bool by_name = false) {
    lease::DirectoryRequest r;
    r.op = lease::DirectoryOp::Resolve;
    r.key = key;
    r.by_name = by_name;
    return call(c, std::move(r));
  }
  /// Every live relay of the fleet.
  lease::DirectoryReply members(directory::DirectoryClient& c) {
    lease::DirectoryRequest r;
    r.op = lease::DirectoryOp::Members;
    return call(c, std::move(r));
  }
  /// The relay IDs of a reply's records, sorted.
  static std::vector<std::string> relays_of(const lease::DirectoryReply& r) {
    std::vector<std::string> out;
    for (const auto& rec : r.records) out.push_back(rec.relay);
    std::sort(out.begin(), out.end());
    return out;
  }
  /// Polls `done` (which may run directory calls or coroutines) every 50 ms until it holds or
  /// `bound` passes; the time it took, or nothing.
  std::optional<std::chrono::milliseconds> within(std::chrono::milliseconds bound,
                                                  const std::function<bool()>& done) {
    const auto start = Clock::now();
    for (;;) {
      if (done()) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      }
      if (Clock::now() - start >= bound) return std::nullopt;
      pump(std::chrono::milliseconds(50));
    }
  }

  static std::string metrics(RelayProcess& r) { return curl(r.http + "/metrics"); }
  static std::string healthz(RelayProcess& r) { return curl(r.http + "/healthz"); }
  /// Stops Redis and waits (10 s at most) until relay `r`'s /healthz says "degraded": how long
  /// that took, or a failure naming what it still says.
  ::testing::AssertionResult stop_redis_until_degraded(RelayProcess& r,
                                                       std::chrono::milliseconds* took = nullptr) {
    redis_.stop();
    std::string health;
    const auto noticed = within(std::chrono::seconds(10), [&] {
      health = healthz(r);
      return health.find("\"degraded\"") != std::string::npos;
    });
    if (!noticed) {
      return ::testing::AssertionFailure()
             << "/healthz still says " << health << " 10 s after Redis died";
    }
    if (took != nullptr) *took = *noticed;
    return ::testing::AssertionSuccess();
  }
  static long long refusals(RelayProcess& r, const std::string& limit) {
    return metric_value(metrics(r), "portal_refusals_total{limit=\"" + limit + "\"}");
  }

  TempDir dir_;
  RedisServer redis_;
  std::shared_ptr<directory::DirectoryFactory> directory_;
  std::vector<std::shared_ptr<directory::DirectoryClient>> clients_;
  std::map<std::string, std::string> ids_;  // relay name -> ID of its key file
  std::uint64_t ticket_ = 0;
};

}  // namespace portal::test
