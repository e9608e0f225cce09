// SPDX-License-Identifier: Apache-2.0
// The operator controls (issue 22, ADR 0017) with the real portal-relay on loopback: the admin
// listener and its token, approval mode, bans that apply at once and survive a restart, the
// reloaded allow file, and the admin API's lease list and drop.

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <boost/asio/ip/tcp.hpp>

#include "relay_harness.hpp"

namespace portal::test {
namespace {

using namespace std::chrono_literals;
using wire::ResponseCode;

// Writes `text` to `path` with mode `mode`.
void write_file(const std::filesystem::path& path, const std::string& text, mode_t mode = 0600) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Polls `done` every 50 ms for at most `limit`.
template <class F>
bool within(std::chrono::milliseconds limit, F done) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

constexpr const char* kToken = "s3cret-token-for-the-admin-api-0123456789";

class Admin : public RelayClientTest {
 protected:
  // A relay config with an admin listener on loopback and the token file, plus `more` keys
  // (a JSON fragment starting with a comma, or empty).
  std::string config(const std::string& more = {}) {
    write_file(dir_ / "token", std::string(kToken) + "\n");
    return R"({"admin_listen": "http://127.0.0.1:0", "admin_token_file": ")" +
           (dir_ / "token").string() + "\"" + more + "}";
  }
  // An admin API request: `method` on `path` (with its query) and the token; returns
  // "<status> <body>".
  static std::string api(const RelayProcess& r, const std::string& method, const std::string& path,
                         const std::string& token = kToken) {
    std::vector<std::string> args{"-X", method, "-w", "\n%{http_code}"};
    if (!token.empty()) {
      args.push_back("-H");
      args.push_back("Authorization: Bearer " + token);
    }
    const auto out = curl(r.admin + path, args);
    const auto nl = out.rfind('\n');
    std::string body = out.substr(0, nl);
    if (!body.empty() && body.back() == '\n') body.pop_back();
    return out.substr(nl + 1) + " " + body;
  }
  static std::string status(const std::string& line) { return line.substr(0, 3); }

  TempDir dir_;
};

// admin_listen: /metrics and /api/... move to the admin port (the public one keeps the lease
// page and /healthz); the admin API answers 401 without the right token, counted; the admin
// port relays nothing (a WebSocket upgrade is refused).
TEST_F(Admin, TheAdminListenerTakesMetricsAndTheApiNeedsTheToken) {
  RelayProcess relay(config());
  ASSERT_FALSE(relay.admin.empty()) << relay.err();
  const auto code = [](const std::string& url, std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"-o", "/dev/null", "-w", "%{http_code}"});
    return curl(url, extra);
  };
  EXPECT_EQ(code(relay.http + "/metrics"), "404");
  EXPECT_EQ(code(relay.http + "/api/relay"), "404");
  EXPECT_EQ(code(relay.http + "/api/leases"), "404");
  EXPECT_EQ(code(relay.http + "/api/admin/leases"), "404");
  EXPECT_EQ(code(relay.http + "/healthz"), "200");
  EXPECT_EQ(code(relay.http + "/"), "200");
  EXPECT_EQ(code(relay.admin + "/metrics"), "200");
  EXPECT_EQ(code(relay.admin + "/api/relay"), "200");

  const auto none = curl(relay.admin + "/api/admin/leases", {"-D", "-"});
  EXPECT_NE(none.find("HTTP/1.1 401"), std::string::npos) << none;
  EXPECT_NE(none.find("WWW-Authenticate: Bearer"), std::string::npos) << none;
  EXPECT_EQ(status(api(relay, "GET", "/api/admin/leases", "wrong-token")), "401");
  EXPECT_EQ(status(api(relay, "GET", "/api/admin/leases", std::string(kToken) + "x")), "401");
  EXPECT_EQ(status(api(relay, "GET", "/api/admin/leases", std::string(kToken).substr(1))), "401");
  EXPECT_EQ(api(relay, "GET", "/api/admin/leases"), "200 {\"leases\":[]}");
  EXPECT_EQ(status(api(relay, "DELETE", "/api/admin/leases")), "405");
  EXPECT_EQ(status(api(relay, "GET", "/api/admin/nothing")), "404");
  EXPECT_EQ(status(api(relay, "POST", "/api/admin/bans?identity=%zz")), "400");
  const auto m = curl(relay.admin + "/metrics");
  EXPECT_EQ(metric_value(m, "portal_admin_auth_failures_total"), 4) << m;

  // Nothing is relayed on the admin port.
  const auto upgrade =
      code(relay.admin + "/relay",
           {"-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H",
            "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="});
  EXPECT_EQ(upgrade, "404");
  EXPECT_TRUE(relay.alive());
}

// The token file must be private, and admin_listen needs one; plain HTTP beyond loopback needs
// admin_allow_plaintext. Each is a clear start-up error naming the key.
TEST_F(Admin, AdminConfigMistakesAreStartupErrors) {
  const auto check = [&](const std::string& json) {
    write_file(dir_ / "check.json", json, 0644);
    return run_process({bin_path("portal-relay"), "--plugin-dir", PORTAL_BUILD_PLUGIN_DIR,
                        "--check-config", (dir_ / "check.json").string()});
  };
  write_file(dir_ / "open-token", std::string(kToken), 0644);
  auto r = check(R"({"admin_listen": "http://127.0.0.1:0", "admin_token_file": ")" +
                 (dir_ / "open-token").string() + "\"}");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("admin_token_file"), std::string::npos) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("chmod 600"), std::string::npos) << r.out << r.err;
  r = check(R"({"admin_listen": "http://127.0.0.1:0"})");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("admin_listen: needs admin_token_file"), std::string::npos)
      << r.out << r.err;
  write_file(dir_ / "token", kToken);
  r = check(R"({"admin_listen": "http://0.0.0.0:0", "admin_token_file": ")" +
            (dir_ / "token").string() + "\"}");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("admin_allow_plaintext"), std::string::npos) << r.out << r.err;
  write_file(dir_ / "bans.json", "{\"bans\": [{\"kind\": \"identity\", \"value\": \"x\"}]}");
  r = check(R"({"bans_file": ")" + (dir_ / "bans.json").string() + "\"}");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("bans[0]"), std::string::npos) << r.out << r.err;
}

// Approval mode: a new identity is REJECTED and listed as pending until an operator approves it
// through the admin API; the approval is written to the allow file and survives a restart.
TEST_F(Admin, ApprovalHoldsANewIdentityUntilApproved) {
  const auto allowed = dir_ / "allowed";
  const auto cfg =
      config(R"(, "access": {"mode": "approval", "allowed_file": ")" + allowed.string() + "\"}");
  const auto who = credential();
  {
    RelayProcess relay(cfg);
    auto s = session(relay.tcp);
    EXPECT_EQ(update(*s, who, "newcomer"), ResponseCode::Rejected);
    auto pending = api(relay, "GET", "/api/admin/pending");
    EXPECT_EQ(status(pending), "200");
    EXPECT_NE(pending.find("\"mode\":\"approval\""), std::string::npos) << pending;
    EXPECT_NE(pending.find("\"id\":\"" + who.id() + "\""), std::string::npos) << pending;
    EXPECT_NE(pending.find("\"name\":\"newcomer\""), std::string::npos) << pending;
    EXPECT_EQ(update(*s, who, "newcomer"), ResponseCode::Rejected);  // still waiting
    const auto m = curl(relay.admin + "/metrics");
    EXPECT_EQ(metric_value(m, "portal_refusals_total{limit=\"pending_approval\"}"), 2) << m;
    EXPECT_EQ(metric_value(m, "portal_pending_approvals"), 1) << m;

    EXPECT_EQ(status(api(relay, "POST", "/api/admin/approve?id=not-an-id")), "400");
    EXPECT_EQ(api(relay, "POST", "/api/admin/approve?id=" + who.id()),
              "200 {\"approved\":\"" + who.id() + "\"}");
    EXPECT_EQ(update(*s, who, "newcomer"), ResponseCode::Accepted);
    EXPECT_EQ(api(relay, "GET", "/api/admin/pending"),
              "200 {\"mode\":\"approval\",\"pending\":[]}");
    EXPECT_NE(read_file(allowed).find(who.id()), std::string::npos) << read_file(allowed);
    struct stat st {};
    ASSERT_EQ(::stat(allowed.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  RelayProcess again(cfg);
  auto s = session(again.tcp);
  EXPECT_EQ(update(*s, who, "newcomer"), ResponseCode::Accepted) << again.err();
  EXPECT_EQ(update(*s, credential(), "other"), ResponseCode::Rejected);
}

// A ban by identity drops the live lease at once and closes the holder's session; it is saved
// in bans_file and still refuses the identity after a restart, until it is lifted.
TEST_F(Admin, ABanDropsALiveLeaseAtOnceAndSurvivesARestart) {
  const auto bans = dir_ / "bans.json";
  const auto cfg = config(R"(, "bans_file": ")" + bans.string() + "\"");
  const auto bad = credential();
  const auto good = credential();
  {
    RelayProcess relay(cfg);
    auto holder = session(relay.ws);
    auto other = session(relay.tcp);
    ASSERT_EQ(update(*holder, bad, "bad"), ResponseCode::Accepted);
    ASSERT_EQ(update(*other, good, "good"), ResponseCode::Accepted);
    auto list = api(relay, "GET", "/api/admin/leases");
    EXPECT_NE(list.find("\"id\":\"" + bad.id() + "\""), std::string::npos) << list;
    EXPECT_NE(list.find("\"address\":\"127.0.0.1\""), std::string::npos) << list;

    EXPECT_EQ(
        status(api(relay, "POST", "/api/admin/bans?identity=" + bad.id() + "&reason=phishing")),
        "200");
    // At once: the lease is gone from the table and the holder's session is closed.
    list = api(relay, "GET", "/api/admin/leases");
    EXPECT_EQ(list.find(bad.id()), std::string::npos) << list;
    EXPECT_NE(list.find(good.id()), std::string::npos) << list;
    const auto names = info(*other).leases;
    ASSERT_EQ(names.size(), 1u);
    EXPECT_EQ(names[0].name, "good");
    EXPECT_TRUE(within(2s, [&] {
      pump(20ms);
      return !holder->is_open();
    })) << "the banned holder's session stayed open";
    auto again = session(relay.tcp);
    EXPECT_EQ(update(*again, bad, "bad"), ResponseCode::Rejected);
    const auto m = curl(relay.admin + "/metrics");
    EXPECT_EQ(metric_value(m, "portal_refusals_total{limit=\"banned\"}"), 1) << m;
    EXPECT_EQ(metric_value(m, "portal_bans{kind=\"identity\"}"), 1) << m;
    const auto saved = read_file(bans);
    EXPECT_NE(saved.find(bad.id()), std::string::npos) << saved;
    EXPECT_NE(saved.find("phishing"), std::string::npos) << saved;
  }
  RelayProcess restarted(cfg);
  auto s = session(restarted.tcp);
  EXPECT_EQ(update(*s, bad, "bad"), ResponseCode::Rejected) << restarted.err();
  const auto listed = api(restarted, "GET", "/api/admin/bans");
  EXPECT_NE(listed.find("\"kind\":\"identity\",\"value\":\"" + bad.id() + "\""), std::string::npos)
      << listed;
  EXPECT_EQ(status(api(restarted, "DELETE", "/api/admin/bans?identity=" + bad.id())), "200");
  EXPECT_EQ(status(api(restarted, "DELETE", "/api/admin/bans?identity=" + bad.id())), "404");
  EXPECT_EQ(update(*s, bad, "bad"), ResponseCode::Accepted);
  EXPECT_EQ(read_file(bans).find(bad.id()), std::string::npos) << read_file(bans);
}

// Name-pattern and address bans through the admin API: a matching lease is dropped, a banned
// address cannot connect any more (the admin port stays reachable), and unbanning lets it back.
TEST_F(Admin, NameAndAddressBans) {
  RelayProcess relay(config());
  auto s = session(relay.tcp);
  const auto phish = credential();
  ASSERT_EQ(update(*s, phish, "PayPal-Login"), ResponseCode::Accepted);
  EXPECT_EQ(status(api(relay, "POST", "/api/admin/bans?name=paypal*")), "200");
  EXPECT_EQ(api(relay, "GET", "/api/admin/leases"), "200 {\"leases\":[]}");
  auto s2 = session(relay.tcp);
  EXPECT_EQ(update(*s2, credential(), "paypal"), ResponseCode::Rejected);
  EXPECT_EQ(update(*s2, credential(), "docs"), ResponseCode::Accepted);

  EXPECT_EQ(status(api(relay, "POST", "/api/admin/bans?address=127.0.0.0/8")), "200");
  EXPECT_TRUE(within(2s, [&] {
    pump(20ms);
    return !s2->is_open();
  }));
  auto refused = run(connect(relay.tcp));
  if (refused) {
    // The socket may be accepted and closed at once: the session cannot be used.
    auto r = run(client::relay_info(**refused), 5s);
    EXPECT_FALSE(r) << "a banned address was served";
  }
  // The public port does not even answer HTTP to a banned address; the admin port does.
  const auto http =
      run_process({"/usr/bin/curl", "-sS", "--max-time", "5", relay.http + "/healthz"});
  EXPECT_NE(http.exit_code, 0) << http.out;
  EXPECT_EQ(status(api(relay, "GET", "/api/admin/bans")), "200");
  const auto m = curl(relay.admin + "/metrics");
  EXPECT_GE(metric_value(m, "portal_refusals_total{limit=\"banned\"}"), 2) << m;
  EXPECT_EQ(status(api(relay, "DELETE", "/api/admin/bans?address=127.0.0.0/8")), "200");
  auto back = session(relay.tcp);
  EXPECT_EQ(update(*back, credential(), "back"), ResponseCode::Accepted);
  EXPECT_EQ(status(api(relay, "POST", "/api/admin/bans?address=300.1.1.1")), "400");

  EXPECT_EQ(status(api(relay, "POST", "/api/admin/bans?name=a&address=127.0.0.1")), "400");
}

// The admin listener's connections have a budget of their own (max_connections_per_ip for the
// whole listener), apart from the clients': filling the public budget of 127.0.0.1 does not
// lock the operator out, and the admin listener cannot be held open without bound either.
TEST_F(Admin, TheAdminListenerHasABudgetOfItsOwn) {
  RelayProcess relay(config(R"(, "limits": {"max_connections_per_ip": 2})"));
  const auto port_of = [](const std::string& uri) { return transport::parse_uri(uri)->port; };
  std::vector<asio::ip::tcp::socket> held;
  const auto hold_open = [&](std::uint16_t port) {
    asio::ip::tcp::socket s(io_);
    boost::system::error_code ec;
    s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    EXPECT_FALSE(ec) << ec.message();
    held.push_back(std::move(s));
  };
  hold_open(port_of(relay.tcp));
  hold_open(port_of(relay.tcp));  // 127.0.0.1's public budget is spent
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(status(api(relay, "GET", "/api/admin/bans")), "200");
  hold_open(port_of(relay.admin));
  hold_open(port_of(relay.admin));  // the admin listener's budget is spent too
  std::this_thread::sleep_for(200ms);
  const auto refused = run_process({"/usr/bin/curl", "-sS", "--max-time", "5", "-H",
                                    std::string("Authorization: Bearer ") + kToken,
                                    relay.admin + "/api/admin/bans"});
  EXPECT_NE(refused.exit_code, 0) << refused.out;
  held.clear();  // closed: both budgets come back
  EXPECT_TRUE(within(3s, [&] {
    const auto r = run_process(
        {"/usr/bin/curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}", "-H",
         std::string("Authorization: Bearer ") + kToken, relay.admin + "/api/admin/bans"});
    return r.out == "200";
  }));
  EXPECT_TRUE(relay.alive());
}

// access.allowed_file is re-read when it changes: an identity added to it registers without a
// restart; a file that does not parse is refused and the old list stays.
TEST_F(Admin, TheAllowFileIsReloadedWhenItChanges) {
  const auto a = credential();
  const auto b = credential();
  const auto allowed = dir_ / "allowed";
  write_file(allowed, "# the team\n" + a.id() + "\n");
  RelayProcess relay(R"({"access": {"mode": "allowlist", "allowed_file": ")" + allowed.string() +
                     "\"}}");
  auto s = session(relay.tcp);
  EXPECT_EQ(update(*s, a, "a"), ResponseCode::Accepted);
  EXPECT_EQ(update(*s, b, "b"), ResponseCode::Rejected);
  // Written beside and renamed, as an editor or a deployment tool does.
  write_file(dir_ / "allowed.new", a.id() + "\n" + b.id() + "  # added\n");
  std::filesystem::rename(dir_ / "allowed.new", allowed);
  EXPECT_TRUE(within(5s, [&] { return update(*s, b, "b") == ResponseCode::Accepted; }))
      << relay.err();
  // A broken file: logged, and both stay allowed.
  write_file(dir_ / "allowed.new", a.id() + "\nnot-an-id\n");
  std::filesystem::rename(dir_ / "allowed.new", allowed);
  EXPECT_TRUE(within(5s, [&] {
    return relay.err().find("access.allowed_file refused") != std::string::npos;
  })) << relay.err();
  EXPECT_NE(relay.err().find(":2: 'not-an-id'"), std::string::npos) << relay.err();
  EXPECT_EQ(update(*s, b, "b"), ResponseCode::Accepted);
  // A to-do for the operator: removing b drops its lease at once.
  write_file(dir_ / "allowed.new", a.id() + "\n");
  std::filesystem::rename(dir_ / "allowed.new", allowed);
  EXPECT_TRUE(within(5s, [&] {
    const auto names = info(*s).leases;
    return names.size() == 1 && names[0].name == "a";
  })) << relay.err();
}

// PUT limits sets a lease identity's byte rate at run time (shown in the lease list, saved in
// bans_file, in force again after a restart); 0 returns it to the configured one.
TEST_F(Admin, RatesSetThroughTheApiPersist) {
  const auto bans = dir_ / "bans.json";
  const auto cfg = config(R"(, "bans_file": ")" + bans.string() +
                          R"(", "limits": {"lease_bytes_per_second": 1048576})");
  const auto who = credential();
  {
    RelayProcess relay(cfg);
    auto s = session(relay.tcp);
    ASSERT_EQ(update(*s, who, "slow"), ResponseCode::Accepted);
    auto list = api(relay, "GET", "/api/admin/leases");
    EXPECT_NE(list.find("\"bytes_per_second\":1048576"), std::string::npos) << list;
    EXPECT_EQ(api(relay, "PUT", "/api/admin/limits?id=" + who.id() + "&bytes_per_second=65536"),
              "200 {\"id\":\"" + who.id() + "\",\"bytes_per_second\":65536}");
    list = api(relay, "GET", "/api/admin/leases");
    EXPECT_NE(list.find("\"bytes_per_second\":65536"), std::string::npos) << list;
    EXPECT_NE(read_file(bans).find("\"" + who.id() + "\":65536"), std::string::npos)
        << read_file(bans);
    for (const char* bad : {"100", "-1", "x", "99999999999999999"}) {
      EXPECT_EQ(status(api(relay, "PUT",
                           "/api/admin/limits?id=" + who.id() + "&bytes_per_second=" + bad)),
                "400")
          << bad;
    }
    EXPECT_EQ(status(api(relay, "POST", "/api/admin/limits?id=" + who.id())), "405");
  }
  RelayProcess restarted(cfg);
  auto s = session(restarted.tcp);
  ASSERT_EQ(update(*s, who, "slow"), ResponseCode::Accepted);
  auto list = api(restarted, "GET", "/api/admin/leases");
  EXPECT_NE(list.find("\"bytes_per_second\":65536"), std::string::npos) << list;
  EXPECT_EQ(
      status(api(restarted, "PUT", "/api/admin/limits?id=" + who.id() + "&bytes_per_second=0")),
      "200");
  list = api(restarted, "GET", "/api/admin/leases");
  EXPECT_NE(list.find("\"bytes_per_second\":1048576"), std::string::npos) << list;
  EXPECT_EQ(read_file(bans).find(who.id()), std::string::npos) << read_file(bans);
}

// The admin API's lease list counts each lease's relayed streams and bytes; drop closes the
// holder's connection.
TEST_F(Admin, LeaseListCountsTrafficAndDropClosesTheHolder) {
  RelayProcess relay(config());
  auto holder = session(relay.ws);
  const auto who = credential();
  ASSERT_EQ(update(*holder, who, "web"), ResponseCode::Accepted);
  auto kept = std::make_shared<std::vector<std::unique_ptr<stream::ByteStream>>>();
  (void)hold(holder, ResponseCode::Accepted, keep_in(kept));
  auto dialer = session(relay.tcp);
  auto d = run(client::request_connection(*dialer, who.id()));
  ASSERT_TRUE(d);
  ASSERT_EQ(d->code, ResponseCode::Accepted);
  const std::string hello(1000, 'x');
  ASSERT_TRUE(run(d->stream->async_write(base::as_bytes(std::string_view(hello)))));
  std::string list;
  EXPECT_TRUE(within(3s, [&] {
    pump(20ms);
    list = api(relay, "GET", "/api/admin/leases");
    return list.find("\"bytes_to_holder\":1000") != std::string::npos;
  })) << list;
  EXPECT_NE(list.find("\"streams\":1"), std::string::npos) << list;
  EXPECT_NE(list.find("\"streams_total\":1"), std::string::npos) << list;
  EXPECT_EQ(status(api(relay, "POST", "/api/admin/leases/drop?id=" + credential().id())), "404");
  EXPECT_EQ(status(api(relay, "POST", "/api/admin/leases/drop?id=" + who.id())), "200");
  EXPECT_TRUE(within(2s, [&] {
    pump(20ms);
    return !holder->is_open();
  }));
  EXPECT_EQ(api(relay, "GET", "/api/admin/leases"), "200 {\"leases\":[]}");
}

}  // namespace
}  // namespace portal::test
