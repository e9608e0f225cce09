// SPDX-License-Identifier: Apache-2.0
// End to end with real processes on loopback: portal-relay, `portal expose` in front of a local
// HTTP server (in this test process), `portal connect`, and curl through the connect port.

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>

#include "portal/base/encoding.hpp"
#include "portal/crypto/sha256.hpp"
#include "relay/relay_harness.hpp"
#include "support/pki.hpp"
#include "support/process.hpp"
#include "support/scale.hpp"
#include "support/temp_dir.hpp"

namespace portal::test {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// ---- a local HTTP/1.1 server (one response per connection) -----------------------------

std::string page_body(int n) {
  return "page " + std::to_string(n) + "\n" +
         std::string(1000 + static_cast<std::size_t>(n) * 37, static_cast<char>('a' + n % 26));
}

class HttpServer {
 public:
  explicit HttpServer(std::size_t big_size) : big_(big_size, '\0') {
    std::uint64_t x = 0x9e3779b97f4a7c15ull;
    for (auto& b : big_) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      b = static_cast<char>(x);
    }
    acceptor_.open(tcp::v4());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~HttpServer() {
    io_.stop();
    thread_.join();
  }
  [[nodiscard]] const std::string& big() const noexcept { return big_; }

  std::uint16_t port = 0;

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, s] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(io_, serve(std::move(s)), asio::detached);
    }
  }
  asio::awaitable<void> serve(tcp::socket s) {
    asio::streambuf head(16 * 1024);
    auto [ec, n] =
        co_await asio::async_read_until(s, head, "\r\n\r\n", asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    std::string line(asio::buffers_begin(head.data()),
                     asio::buffers_begin(head.data()) + static_cast<std::ptrdiff_t>(n));
    line = line.substr(0, line.find("\r\n"));
    std::string status = "200 OK", body;
    if (line.rfind("GET /page/", 0) == 0) {
      body = page_body(std::atoi(line.c_str() + 10));
    } else if (line.rfind("GET /big ", 0) == 0) {
      body = big_;
    } else {
      status = "404 Not Found";
      body = "not found\n";
    }
    const std::string header = "HTTP/1.1 " + status +
                               "\r\nContent-Length: " + std::to_string(body.size()) +
                               "\r\nConnection: close\r\n\r\n";
    std::array<asio::const_buffer, 2> out{asio::buffer(header), asio::buffer(body)};
    (void)co_await asio::async_write(s, out, asio::as_tuple(asio::use_awaitable));
    boost::system::error_code ignored;
    s.shutdown(tcp::socket::shutdown_send, ignored);
    // Drain until the client closes, so the response is not cut by a reset.
    std::array<char, 256> sink{};
    for (;;) {
      auto [e2, m] =
          co_await s.async_read_some(asio::buffer(sink), asio::as_tuple(asio::use_awaitable));
      if (e2 || m == 0) break;
    }
  }

  std::string big_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  std::thread thread_;
};

// ---- processes ---------------------------------------------------------------------------

bool eventually(const std::function<bool()>& ok, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ok();
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

Portal expose(const std::string& relays, std::uint16_t port, const std::string& name = "web",
              const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{
      "expose", "--relay", relays, "--target", "127.0.0.1:" + std::to_string(port), "--name", name};
  args.insert(args.end(), extra.begin(), extra.end());
  return Portal(args, "exposing ");
}

// `portal connect` on a free port; `port` gets it.
Portal connect(const std::string& relays, const std::string& target, std::uint16_t& port,
               const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"connect", target, "--relay", relays, "--listen", "127.0.0.1:0"};
  args.insert(args.end(), extra.begin(), extra.end());
  Portal p(args, "listening ");
  port = p.port();
  return p;
}

ProcessResult curl(std::uint16_t port, const std::string& path,
                   const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{"/usr/bin/curl", "-sS", "--max-time", "60"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("http://127.0.0.1:" + std::to_string(port) + path);
  return run_process(argv);
}

std::string leases_json(const RelayProcess& relay) {
  return run_process({"/usr/bin/curl", "-sS", "--max-time", "5", relay.http + "/api/leases"}).out;
}

std::string hex_sha256(const std::string& data) {
  const auto d = crypto::sha256(base::as_bytes(data));
  return base::hex_encode(d);
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// ---- tests -------------------------------------------------------------------------------

class ClientE2E : public ::testing::TestWithParam<const char*> {
 protected:
  static std::string relay_uri(const RelayProcess& r, const std::string& scheme) {
    return scheme == "ws" ? r.ws : r.tcp;
  }
};

TEST_P(ClientE2E, CurlFetchesPagesConcurrentRequestsAndABigDownload) {
  const std::string scheme = GetParam();
  HttpServer http(scaled(64u << 20, 1u << 20));
  RelayProcess relay;
  const auto uri = relay_uri(relay, scheme);
  auto exposed = expose(uri, http.port);
  EXPECT_NE(exposed.out().find("  name:  web"), std::string::npos) << exposed.out();
  EXPECT_NE(exposed.out().find(uri + " (registered)"), std::string::npos) << exposed.out();
  std::uint16_t port = 0;
  auto connected = connect(uri, "WEB", port);  // names resolve case-insensitively
  ASSERT_NE(port, 0) << connected.out();

  // One page.
  auto one = curl(port, "/page/7");
  ASSERT_EQ(one.exit_code, 0) << one.err << connected.err() << exposed.err();
  EXPECT_EQ(one.out, page_body(7));

  // 50 concurrent requests, each with its own body.
  TempDir dir;
  std::vector<std::string> argv{"/usr/bin/curl",  "-sS", "--max-time", "60", "--parallel",
                                "--parallel-max", "50"};
  for (int i = 0; i < 50; ++i) {
    argv.push_back("-o");
    argv.push_back((dir / ("p" + std::to_string(i))).string());
    argv.push_back("http://127.0.0.1:" + std::to_string(port) + "/page/" + std::to_string(i));
  }
  const auto many = run_process(argv);
  ASSERT_EQ(many.exit_code, 0) << many.err << connected.err();
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(read_file(dir / ("p" + std::to_string(i))), page_body(i)) << "request " << i;
  }

  // One big download, checked by hash.
  const auto file = dir / "big";
  const auto big = curl(port, "/big", {"-o", file.string()});
  ASSERT_EQ(big.exit_code, 0) << big.err << connected.err() << exposed.err();
  const std::string got = read_file(file);
  EXPECT_EQ(got.size(), http.big().size());
  EXPECT_EQ(hex_sha256(got), hex_sha256(http.big()));
}

INSTANTIATE_TEST_SUITE_P(Transports, ClientE2E, ::testing::Values("ws", "tcp"),
                         [](const auto& p) { return std::string(p.param); });

// tls:// and wss://: the relay's certificate from a throwaway CA, which the clients trust with
// --ca-file; the holder registers over tls://, the dialer comes over wss://, and the pages are
// HTTPS on the wss:// port. Without the CA a client cannot reach the relay, and says why in one
// line.
TEST(ClientTls, ExposeAndConnectOverTlsAndWssWithACaFile) {
  test::TestPki pki;
  HttpServer http(1u << 20);
  const std::string files = R"({"cert_file": ")" + pki / "relay.pem" + R"(", "key_file": ")" +
                            pki / "relay.key" + R"("})";
  RelayProcess relay(R"({"transports": {"tls": )" + files + R"(, "wss": )" + files + "}}",
                     "wss://127.0.0.1:0/relay", "tls://127.0.0.1:0");
  ASSERT_EQ(relay.tcp.rfind("tls://", 0), 0u) << relay.tcp;
  ASSERT_EQ(relay.ws.rfind("wss://", 0), 0u) << relay.ws;
  const std::vector<std::string> trust{"--ca-file", pki / "ca.pem"};
  auto exposed = expose(relay.tcp, http.port, "web", trust);
  EXPECT_NE(exposed.out().find(relay.tcp + " (registered)"), std::string::npos)
      << exposed.out() << exposed.err();
  std::uint16_t port = 0;
  auto connected = connect(relay.ws, "web", port, trust);
  ASSERT_NE(port, 0) << connected.out() << connected.err();
  auto one = curl(port, "/page/3");
  ASSERT_EQ(one.exit_code, 0) << one.err << connected.err() << exposed.err();
  EXPECT_EQ(one.out, page_body(3));

  // HTTPS on the same listener.
  const auto health = run_process({"/usr/bin/curl", "-sS", "--max-time", "10", "--cacert",
                                   pki / "ca.pem", relay.http + "/healthz"});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_NE(health.out.find("ok"), std::string::npos) << health.out;

  // Without the CA: refused, with the certificate's subject and issuer in the line.
  for (const auto& uri : {relay.tcp, relay.ws}) {
    const auto refused = run_process(
        {bin_path("portal"), "info", "--relay", uri, "--plugin-dir", PORTAL_BUILD_PLUGIN_DIR});
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_NE(refused.err.find("unable to get local issuer certificate (subject CN=relay, "
                               "issuer CN=Portal Test CA)"),
              std::string::npos)
        << refused.err;
  }
}

TEST(ClientE2ERestart, ExposeReRegistersAfterTheRelayRestartsOnTheSamePort) {
  HttpServer http(1024);
  std::string ws, tcp_uri;
  std::uint16_t port = 0;
  auto relay = std::make_unique<RelayProcess>();
  ws = relay->ws;
  tcp_uri = relay->tcp;
  auto exposed = expose(ws, http.port);
  auto connected = connect(ws, "web", port);
  ASSERT_EQ(curl(port, "/page/1").out, page_body(1));

  relay->child().signal(SIGKILL);
  ASSERT_GE(relay->child().wait(5000), 0);
  relay.reset();
  relay = std::make_unique<RelayProcess>("{}", ws, tcp_uri);
  ASSERT_EQ(relay->ws, ws);
  const auto restarted = std::chrono::steady_clock::now();
  // Re-registered within 10 s (reconnect backoff is 0.5 s doubling to 5 s).
  ASSERT_TRUE(
      eventually([&] { return leases_json(*relay).find("\"web\"") != std::string::npos; }, 10'000))
      << exposed.err();
  const auto took = std::chrono::steady_clock::now() - restarted;
  EXPECT_LE(took, std::chrono::seconds(10));
  // The connect side reconnects too; no process was restarted.
  ASSERT_TRUE(eventually([&] { return curl(port, "/page/2").out == page_body(2); }, 10'000))
      << connected.err();
  EXPECT_GE(count(exposed.err(), "lease 'web' registered on " + ws), 2u) << exposed.err();
}

TEST(ClientE2EServiceGone, ConnectReportsAClearErrorAndTheRelayDropsTheLeaseAtOnce) {
  HttpServer http(1024);
  RelayProcess relay;
  auto exposed = std::make_unique<Portal>(expose(relay.ws, http.port));
  std::uint16_t port = 0;
  auto connected = connect(relay.ws, "web", port);
  ASSERT_EQ(curl(port, "/page/3").out, page_body(3));
  ASSERT_NE(leases_json(relay).find("\"web\""), std::string::npos);

  exposed->child().signal(SIGKILL);
  ASSERT_GE(exposed->child().wait(5000), 0);
  // "At once": the relay drops the lease when the session ends, not at expiry (30 s).
  EXPECT_TRUE(
      eventually([&] { return leases_json(relay).find("\"web\"") == std::string::npos; }, 2'000))
      << leases_json(relay);
  const auto failed = curl(port, "/page/4");
  EXPECT_NE(failed.exit_code, 0);
  ASSERT_TRUE(eventually(
      [&] { return connected.err().find("cannot connect to 'web'") != std::string::npos; }, 5'000))
      << connected.err();
  const std::string err = connected.err();
  const auto line = err.substr(err.find("cannot connect to 'web'"));
  EXPECT_NE(line.find("no connected relay has a lease with that name or ID"), std::string::npos)
      << line;
  EXPECT_EQ(count(line.substr(0, line.find('\n')), "\n"), 0u);
}

TEST(ClientE2ESignal, SigintDeletesTheLeaseOnTheRelayAndExitsZero) {
  HttpServer http(1024);
  RelayProcess relay;
  auto exposed = expose(relay.ws, http.port, "leaving");
  exposed.child().signal(SIGINT);
  EXPECT_EQ(exposed.child().wait(10'000), 0) << exposed.err();
  // Deleted by a signed LeaseDelete, not only dropped with the connection.
  const auto metrics =
      run_process({"/usr/bin/curl", "-sS", "--max-time", "5", relay.http + "/metrics"}).out;
  EXPECT_NE(metrics.find("portal_requests_total{type=\"lease_delete\",result=\"accepted\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(leases_json(relay).find("\"leaving\""), std::string::npos);
}

TEST(ClientE2ETwoRelays, ExposeRegistersOnBothAndConnectSurvivesOneRelayDying) {
  HttpServer http(1024);
  RelayProcess a;
  RelayProcess b;
  const std::string both = a.ws + "," + b.tcp;
  auto exposed = expose(both, http.port);
  // expose starts once one relay is up; the other registers the lease when it comes up.
  EXPECT_NE(exposed.out().find(" (registered)"), std::string::npos) << exposed.out();
  EXPECT_TRUE(eventually(
      [&] {
        return leases_json(a).find("\"web\"") != std::string::npos &&
               leases_json(b).find("\"web\"") != std::string::npos;
      },
      5'000))
      << exposed.err();
  EXPECT_NE(exposed.err().find("lease 'web' registered on " + a.ws), std::string::npos);
  EXPECT_NE(exposed.err().find("lease 'web' registered on " + b.tcp), std::string::npos);
  std::uint16_t port = 0;
  auto connected = connect(both, "web", port);
  ASSERT_EQ(curl(port, "/page/5").out, page_body(5));
  // connect, too, starts with the first relay up: wait until it has both.
  ASSERT_TRUE(eventually(
      [&] {
        return connected.err().find("relay " + a.ws + " up") != std::string::npos &&
               connected.err().find("relay " + b.tcp + " up") != std::string::npos;
      },
      5'000))
      << connected.err();

  a.child().signal(SIGKILL);
  ASSERT_GE(a.child().wait(5000), 0);
  for (int i = 10; i < 20; ++i) {
    const auto r = curl(port, "/page/" + std::to_string(i));
    EXPECT_EQ(r.out, page_body(i)) << r.err << connected.err();
  }
}

TEST(ClientE2EErrors, OneLineErrorsWithNonZeroExit) {
  HttpServer http(1024);
  // Unreachable relay.
  auto r = run_process({bin_path("portal"), "connect", "web", "--relay", "ws://127.0.0.1:1/relay",
                        "--listen", "127.0.0.1:0", "--plugin-dir", PORTAL_BUILD_PLUGIN_DIR});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err.rfind("portal: error: cannot reach any relay: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("ws://127.0.0.1:1/relay"), std::string::npos) << r.err;
  EXPECT_EQ(count(r.err, "\n"), 1u) << r.err;

  r = run_process({bin_path("portal"), "info", "--relay", "tcp://127.0.0.1:1", "--plugin-dir",
                   PORTAL_BUILD_PLUGIN_DIR});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err.rfind("portal: error: cannot reach any relay: ", 0), 0u) << r.err;

  RelayProcess relay;
  // An invalid name, before anything is registered.
  r = run_process({bin_path("portal"), "expose", "--relay", relay.ws, "--target",
                   "127.0.0.1:" + std::to_string(http.port), "--name", "no spaces", "--plugin-dir",
                   PORTAL_BUILD_PLUGIN_DIR});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--name 'no spaces': invalid lease name"), std::string::npos) << r.err;
  // A name another identity holds.
  auto first = expose(relay.ws, http.port, "taken");
  r = run_process({bin_path("portal"), "expose", "--relay", relay.ws, "--target",
                   "127.0.0.1:" + std::to_string(http.port), "--name", "taken", "--plugin-dir",
                   PORTAL_BUILD_PLUGIN_DIR});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("portal: error: cannot register lease 'taken': the relay refused the "
                       "lease (" +
                       relay.ws + ": REJECTED)"),
            std::string::npos)
      << r.err;
  // Bad flags.
  r = run_process({bin_path("portal"), "connect", "web", "--relay", "ftp://x", "--listen",
                   "127.0.0.1:0", "--plugin-dir", PORTAL_BUILD_PLUGIN_DIR});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--relay 'ftp://x': not a relay address"), std::string::npos) << r.err;
  r = run_process({bin_path("portal"), "connect", "web", "--relay", relay.ws, "--listen",
                   "nonsense", "--plugin-dir", PORTAL_BUILD_PLUGIN_DIR});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--listen 'nonsense': expected HOST:PORT"), std::string::npos) << r.err;
  r = run_process({bin_path("portal"), "expose", "--relay", relay.ws, "--target", "127.0.0.1:1",
                   "--plugin-dir", "/nonexistent"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no mux plugin provides 'yamux'"), std::string::npos) << r.err;
}

TEST(ClientE2EInfo, ShowsTheRelayIdAndItsLeases) {
  HttpServer http(1024);
  RelayProcess relay;
  auto exposed = expose(relay.tcp, http.port, "listed");
  const auto r = run_process(
      {bin_path("portal"), "info", "--relay", relay.ws, "--plugin-dir", PORTAL_BUILD_PLUGIN_DIR});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id_line = exposed.out().substr(exposed.out().find("  id:    ") + 9, 26);
  EXPECT_NE(r.out.find("relay " + relay.ws + "\n  id:      "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  leases:  1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  features: lease-lookup/1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("    listed  " + id_line + "  alpn http/1.1,h2  expires in "),
            std::string::npos)
      << r.out;

  // Every relay of the list is asked; one that cannot be reached is named, with exit 1.
  RelayProcess other;
  const auto two = run_process({bin_path("portal"), "info", "--relay",
                                "tcp://127.0.0.1:1," + relay.tcp + "," + other.ws, "--plugin-dir",
                                PORTAL_BUILD_PLUGIN_DIR});
  EXPECT_EQ(two.exit_code, 1) << two.err;
  EXPECT_NE(two.out.find("relay " + relay.tcp + "\n"), std::string::npos) << two.out;
  EXPECT_NE(two.out.find("relay " + other.ws + "\n"), std::string::npos) << two.out;
  EXPECT_NE(two.err.find("portal: error: cannot reach tcp://127.0.0.1:1: "), std::string::npos)
      << two.err;
}

// A self-signed relay reached with its pin from the client config's relay_pins (that relay
// only); without the pin it is refused.
TEST(ClientTls, RelayPinsReachASelfSignedRelay) {
  test::TestPki pki;
  RelayProcess relay(R"({"transports": {"tls": {"cert_file": ")" + pki / "self.pem" +
                         R"(", "key_file": ")" + pki / "self.key" + R"("}}})",
                     "ws://127.0.0.1:0/relay", "tls://127.0.0.1:0");
  TempDir dir;
  const auto config = (dir / "client.json").string();
  std::ofstream(config) << R"({"relay_pins": {")" << relay.tcp << R"(": ")" << pki.pin("self.pem")
                        << R"("}})";
  auto info = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv{bin_path("portal"), "info",         "--relay",
                                  relay.tcp,          "--plugin-dir", PORTAL_BUILD_PLUGIN_DIR};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_process(argv);
  };
  const auto pinned = info({"--config", config});
  EXPECT_EQ(pinned.exit_code, 0) << pinned.err;
  const auto unpinned = info({});
  EXPECT_NE(unpinned.exit_code, 0);
  EXPECT_NE(unpinned.err.find("self-signed certificate"), std::string::npos) << unpinned.err;
}

// A SIGHUP reload with a new certificate (from another CA): a transfer through a tunnel that
// started before it runs to the end, new connections get the new certificate, and a bad one
// (a key that does not match) is refused with a line while the current one stays. Files changed
// on disk are reloaded without a signal.
TEST(ClientTls, SighupReloadsTheCertificateWithoutDroppingLiveConnections) {
  test::TestPki pki;
  TempDir live;
  const auto cert = (live / "cert.pem").string();
  const auto key = (live / "key.pem").string();
  auto install = [&](const std::string& c, const std::string& k) {
    std::filesystem::copy_file(pki / c, cert, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(pki / k, key, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::permissions(
        key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  };
  install("relay.pem", "relay.key");
  HttpServer http(scaled(32u << 20, 1u << 20));
  RelayProcess relay(
      R"({"transports": {"tls": {"cert_file": ")" + cert + R"(", "key_file": ")" + key + R"("}}})",
      "ws://127.0.0.1:0/relay", "tls://127.0.0.1:0");
  const std::vector<std::string> old_ca{"--ca-file", pki / "ca.pem"};
  const std::vector<std::string> new_ca{"--ca-file", pki / "ca2.pem"};
  auto exposed = expose(relay.tcp, http.port, "web", old_ca);
  std::uint16_t port = 0;
  auto connected = connect(relay.tcp, "web", port, old_ca);
  ASSERT_NE(port, 0) << connected.out() << connected.err();

  // A slow download through the tunnel, across the reload.
  TempDir dir;
  const auto file = dir / "big";
  Child download({"/usr/bin/curl", "-sS", "--max-time", "60", "--limit-rate",
                  std::to_string(http.big().size() / 3), "-o", file.string(),
                  "http://127.0.0.1:" + std::to_string(port) + "/big"},
                 (dir / "out").string(), (dir / "err").string());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  install("relay2.pem", "relay2.key");
  relay.child().signal(SIGHUP);
  ASSERT_TRUE(relay.child().wait_for_err("TLS credentials reloaded", 1, 10'000)) << relay.err();
  EXPECT_EQ(download.wait(60'000), 0) << download.err();
  EXPECT_EQ(hex_sha256(read_file(file)), hex_sha256(http.big()));

  // New connections see the new certificate.
  auto info = [&](const std::vector<std::string>& trust) {
    std::vector<std::string> argv{bin_path("portal"), "info",         "--relay",
                                  relay.tcp,          "--plugin-dir", PORTAL_BUILD_PLUGIN_DIR};
    argv.insert(argv.end(), trust.begin(), trust.end());
    return run_process(argv);
  };
  EXPECT_EQ(info(new_ca).exit_code, 0) << info(new_ca).err;
  EXPECT_NE(info(old_ca).exit_code, 0);

  // A bad new pair is refused; the current certificate stays.
  install("relay.pem", "stranger.key");
  relay.child().signal(SIGHUP);
  ASSERT_TRUE(
      relay.child().wait_for_err("new TLS credentials refused, the old ones stay", 1, 10'000))
      << relay.err();
  EXPECT_NE(relay.err().find("does not match the certificate"), std::string::npos) << relay.err();
  EXPECT_EQ(info(new_ca).exit_code, 0) << info(new_ca).err;

  // Without a signal: files that change on disk (an ACME renewal) are picked up within seconds.
  install("relay.pem", "relay.key");
  ASSERT_TRUE(relay.child().wait_for_err("TLS credentials reloaded", 2, 10'000)) << relay.err();
  EXPECT_EQ(info(old_ca).exit_code, 0) << info(old_ca).err;
}

}  // namespace
}  // namespace portal::test

namespace portal::test {
namespace {

TEST(ClientExample, TheEmbeddingExampleListensAndEchoesAndItsDialModeReachesIt) {
  RelayProcess relay;
  const std::string bin = std::string(PORTAL_EXAMPLES_DIR) + "/portal-example-echo";
  TempDir dir;
  Child listener({bin, "listen", relay.ws, "echo-example", PORTAL_BUILD_PLUGIN_DIR},
                 (dir / "out").string(), (dir / "err").string());
  ASSERT_TRUE(listener.wait_for_lines("listening as echo-example", 1, 20'000)) << listener.err();
  const auto r = run_process({bin, "dial", relay.tcp, "ECHO-example", PORTAL_BUILD_PLUGIN_DIR,
                              "hello from the embedding example"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello from the embedding example\n");
  const auto missing =
      run_process({bin, "dial", relay.tcp, "nobody", PORTAL_BUILD_PLUGIN_DIR, "x"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("echo: dial nobody: no connected relay has a lease"),
            std::string::npos)
      << missing.err;
}

}  // namespace
}  // namespace portal::test
