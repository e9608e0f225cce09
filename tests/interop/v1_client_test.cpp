// SPDX-License-Identifier: Apache-2.0
// The real portal-relay against an independent v1 client in Go (tests/interop/v1_client): the
// spec's WebSocket, yamux (hashicorp/yamux), control packets, Ed25519 identities, signed
// LeaseUpdateRequests without any field the spec does not define, renewal, RelayInfo,
// ConnectionRequest, and the v1 handshake and secure channel end to end. Issue 22: the v1 client
// still registers and dials under access.mode "open", and under "allowlist" when listed; an
// unlisted identity is answered REJECTED and counted. Also our `portal connect` dialing a
// Go-held lease and the Go client dialing a `portal expose` lease. Real processes, loopback,
// port 0; every wait is bounded (the Go client exits on its own --timeout).

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "relay/relay_harness.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace portal::test {
namespace {

// Seeds of the Go identities (any 32 bytes do).
const std::string kHolderSeed(64, '1');
const std::string kStrangerSeed(64, '2');
const std::string kDialerSeed(64, '3');
constexpr int kBytes = 1 << 20;

ProcessResult go(std::vector<std::string> args) {
  args.insert(args.begin(), V1_GO_CLIENT);
  return run_process(args);
}

std::string id_of(const std::string& seed) {
  auto r = go({"id", seed});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

// A process in the background (the Go client or `portal`), its output in a temporary directory.
class Background {
 public:
  explicit Background(std::vector<std::string> argv)
      : child_(std::make_unique<Child>(argv, (dir_.path() / "out").string(),
                                       (dir_.path() / "err").string())) {}
  Child& child() { return *child_; }
  [[nodiscard]] std::string out() const { return child_->out(); }
  [[nodiscard]] std::string output() const {
    return "stdout:\n" + child_->out() + "stderr:\n" + child_->err();
  }
  /// The rest of the first stdout line that starts with `prefix` ("" when none).
  [[nodiscard]] std::string after(const std::string& prefix) const {
    const std::string o = out();
    const auto at = o.find(prefix);
    if (at == std::string::npos) return "";
    const auto end = o.find('\n', at);
    return o.substr(at + prefix.size(), end == std::string::npos ? end : end - at - prefix.size());
  }

 private:
  TempDir dir_;
  std::unique_ptr<Child> child_;
};

// `v1-client serve` holding a lease named `name` with `seed` on `relay`; `connections`: exit
// 0 after that many echoed connections.
std::unique_ptr<Background> go_serve(const std::string& relay, const std::string& seed,
                                     const std::string& name, int connections = 1) {
  return std::make_unique<Background>(
      std::vector<std::string>{V1_GO_CLIENT, "serve", "--connections", std::to_string(connections),
                               "--timeout", "90", relay, seed, name});
}

ProcessResult go_dial(const std::string& relay, const std::string& lease) {
  return go({"dial", "--bytes", std::to_string(kBytes), "--seed", kDialerSeed, relay, lease});
}

// The Go lease holder registered and renewed once (5 s after registering).
void expect_registered_and_renewed(Background& holder, const std::string& id) {
  ASSERT_TRUE(holder.child().wait_for_lines("registered ", 1, 20'000)) << holder.output();
  EXPECT_EQ(holder.after("registered "), id);
  EXPECT_TRUE(holder.child().wait_for_lines("renewed ", 1, 20'000)) << holder.output();
}

// A dial through the relay: ACCEPTED, the handshake with the lease's identity, 1 MiB echoed.
void expect_dial_echoes(const std::string& relay, const std::string& id, Background& holder) {
  const auto d = go_dial(relay, id);
  EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
  EXPECT_NE(d.out.find("response ACCEPTED\n"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("handshake ok " + id + "\n"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("echo ok " + std::to_string(kBytes) + " "), std::string::npos) << d.out;
  // The holder echoed to the dialer's identity and exits 0 after its one connection.
  EXPECT_EQ(holder.child().wait(20'000), 0) << holder.output();
  EXPECT_NE(holder.out().find("request " + id + " ACCEPTED\n"), std::string::npos)
      << holder.output();
  EXPECT_NE(
      holder.out().find("echoed " + std::to_string(kBytes) + " bytes from " + id_of(kDialerSeed)),
      std::string::npos)
      << holder.output();
}

TEST(V1GoClient, OpenModeRegistersRenewsAndIsDialed) {
  RelayProcess relay;
  ASSERT_TRUE(relay.alive());
  const auto id = id_of(kHolderSeed);
  auto holder = go_serve(relay.ws, kHolderSeed, "go-v1");
  ASSERT_NO_FATAL_FAILURE(expect_registered_and_renewed(*holder, id));
  expect_dial_echoes(relay.ws, id, *holder);
}

TEST(V1GoClient, AllowlistAdmitsTheListedIdentityAndRejectsAnother) {
  const auto id = id_of(kHolderSeed);
  RelayProcess relay(R"({"access": {"mode": "allowlist", "allowed_ids": [")" + id + R"("]}})");
  ASSERT_TRUE(relay.alive());
  auto holder = go_serve(relay.ws, kHolderSeed, "go-v1");
  ASSERT_NO_FATAL_FAILURE(expect_registered_and_renewed(*holder, id));

  // An identity that is not listed: REJECTED (exit 3), counted as not_allowed.
  const auto stranger = go_serve(relay.ws, kStrangerSeed, "stranger");
  EXPECT_EQ(stranger->child().wait(30'000), 3) << stranger->output();
  EXPECT_NE(stranger->out().find("refused REJECTED\n"), std::string::npos) << stranger->output();
  const auto m = curl(relay.http + "/metrics");
  EXPECT_EQ(metric_value(m, "portal_refusals_total{limit=\"not_allowed\"}"), 1) << m;

  // The dialer needs no listing: dialing is not registering.
  expect_dial_echoes(relay.ws, id, *holder);
  EXPECT_EQ(
      metric_value(curl(relay.http + "/metrics"), "portal_refusals_total{limit=\"not_allowed\"}"),
      1);
}

TEST(V1GoClient, PortalConnectDialsAGoHeldLease) {
  RelayProcess relay;
  ASSERT_TRUE(relay.alive());
  const auto id = id_of(kHolderSeed);
  auto holder = go_serve(relay.ws, kHolderSeed, "go-v1");
  ASSERT_TRUE(holder->child().wait_for_lines("registered ", 1, 20'000)) << holder->output();

  Background connect({bin_path("portal"), "connect", id, "--relay", relay.ws, "--listen",
                      "127.0.0.1:0", "--plugin-dir", PORTAL_BUILD_PLUGIN_DIR});
  ASSERT_TRUE(connect.child().wait_for_lines("listening ", 1, 20'000)) << connect.output();
  const auto at = connect.after("listening ");
  const auto port = at.substr(0, at.find(' '));  // 127.0.0.1:PORT
  const auto r = go({"tcp-send", "--bytes", std::to_string(kBytes), port});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << connect.output() << holder->output()
                            << relay.err();
  EXPECT_NE(r.out.find("echo ok " + std::to_string(kBytes) + " "), std::string::npos) << r.out;
  EXPECT_EQ(holder->child().wait(20'000), 0) << holder->output();
  EXPECT_NE(holder->out().find("echoed " + std::to_string(kBytes) + " bytes from "),
            std::string::npos)
      << holder->output();
}

TEST(V1GoClient, GoClientDialsAPortalExposeLease) {
  RelayProcess relay;
  ASSERT_TRUE(relay.alive());
  Background echo({V1_GO_CLIENT, "tcp-echo", "--connections", "1", "--timeout", "90"});
  ASSERT_TRUE(echo.child().wait_for_lines("listening ", 1, 20'000)) << echo.output();
  Background expose({bin_path("portal"), "expose", "--relay", relay.ws, "--target",
                     echo.after("listening "), "--name", "web", "--plugin-dir",
                     PORTAL_BUILD_PLUGIN_DIR});
  ASSERT_TRUE(expose.child().wait_for_lines("connect with: ", 1, 20'000)) << expose.output();
  const auto id = expose.after("  id:    ");
  ASSERT_EQ(id.size(), 26u) << expose.output();

  const auto d = go_dial(relay.ws, id);
  EXPECT_EQ(d.exit_code, 0) << d.out << d.err << expose.output();
  EXPECT_NE(d.out.find("handshake ok " + id + "\n"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("echo ok " + std::to_string(kBytes) + " "), std::string::npos) << d.out;
  EXPECT_EQ(echo.child().wait(20'000), 0) << echo.output();
}

}  // namespace
}  // namespace portal::test
