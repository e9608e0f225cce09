// SPDX-License-Identifier: Apache-2.0
// tls:// of portal.transport.tcp, loaded through the plugin host, on loopback with port 0, with a
// throwaway PKI made by the openssl command: the happy path, and one clear line for each error.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <mutex>
#include <thread>

#include "portal/base/log.hpp"
#include "portal/plugin/host.hpp"
#include "portal/transport/transport.hpp"
#include "support/pki.hpp"
#include "support/plugins.hpp"

namespace portal::transport {
namespace {

namespace asio = boost::asio;
using base::Bytes;
using namespace std::chrono_literals;

std::size_t open_descriptors() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n;
}

// Each test runs for tls:// (tcp plugin) and wss:// (ws plugin), against their plaintext
// schemes where it needs one.
struct Schemes {
  const char* secure;
  const char* plain;
};

class TlsTransport : public ::testing::TestWithParam<Schemes> {
 protected:
  // `scheme`://127.0.0.1:0, with the WebSocket path for ws and wss.
  static std::string any_port(const std::string& scheme) {
    return scheme + "://127.0.0.1:0" + (scheme.rfind("ws", 0) == 0 ? "/relay" : "");
  }
  std::string secure() const { return GetParam().secure; }
  std::string plain() const { return GetParam().plain; }

  void SetUp() override {
    host_ = portal::test::load_build_plugins();
    auto f = resolve(*host_, any_port(secure()));
    ASSERT_TRUE(f) << f.error().message();
    tls_ = *f;
    base::set_log_sink([this](base::LogLevel, std::string_view component, std::string_view line) {
      std::lock_guard lock(mutex_);
      log_ += std::string(component) + ": " + std::string(line) + "\n";
    });
  }
  void TearDown() override { base::set_log_sink({}); }

  std::string log() {
    std::lock_guard lock(mutex_);
    return log_;
  }

  template <class Fn>
  void run(Fn fn) {
    bool done = false;
    io_.restart();
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          co_await fn();
          done = true;
        },
        asio::detached);
    for (int i = 0; i < 300 && !done; ++i) io_.run_for(100ms);
    ASSERT_TRUE(done);
  }

  Settings server(const std::string& cert = "relay.pem", const std::string& key = "relay.key") {
    return {{"cert_file", pki_ / cert}, {"key_file", pki_ / key}};
  }

  std::unique_ptr<Listener> listen(const Settings& s) {
    auto l = tls_->listen(io_.get_executor(), *parse_uri(any_port(secure())), s);
    EXPECT_TRUE(l) << (l ? "" : l.error().message()) << "\n" << log();
    return l ? std::move(*l) : nullptr;
  }

  // Accepts one stream and echoes it; the server side's first read runs its handshake.
  static asio::awaitable<void> echo_one(Listener& l, base::ErrorCode* error) {
    auto s = co_await l.async_accept();
    if (!s) co_return;
    Bytes buf(4096);
    for (;;) {
      auto n = co_await (*s)->async_read_some(buf);
      if (!n) {
        if (error != nullptr) *error = n.error();
        co_return;
      }
      if (*n == 0) break;
      if (!co_await (*s)->async_write(base::ByteSpan(buf).first(*n))) co_return;
    }
    (void)co_await (*s)->async_shutdown_write();
  }

  // Connects to `l` with client settings `s`; returns the connect's result after one echo.
  base::Result<void> round_trip(Listener& l, const Settings& s,
                                base::ErrorCode* server_error = nullptr) {
    base::Result<void> out = Errc::Closed;
    run([&]() -> asio::awaitable<void> {
      asio::co_spawn(io_, echo_one(l, server_error), asio::detached);
      auto c = co_await tls_->async_connect(io_.get_executor(), l.local_uri(), s);
      if (!c) {
        out = c.error();
        co_return;
      }
      const Bytes hello{'h', 'e', 'l', 'l', 'o'};
      EXPECT_TRUE(co_await (*c)->async_write(hello));
      // Read the echo before ending the stream: WebSocket has no half-close.
      Bytes got, buf(64);
      while (got.size() < hello.size()) {
        auto n = co_await (*c)->async_read_some(buf);
        if (!n || *n == 0) break;
        got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
      }
      EXPECT_TRUE(co_await (*c)->async_shutdown_write());
      EXPECT_EQ(got, hello);
      out = {};
    });
    return out;
  }

  test::TestPki pki_;
  asio::io_context io_;
  std::unique_ptr<plugin::Host> host_;
  std::shared_ptr<TransportFactory> tls_;
  std::mutex mutex_;
  std::string log_;
};

TEST_P(TlsTransport, EchoesThroughTlsWithTheTestCa) {
  auto l = listen(server());
  ASSERT_TRUE(l);
  EXPECT_TRUE(round_trip(*l, {{"ca_file", pki_ / "ca.pem"}})) << log();
}

TEST_P(TlsTransport, AnUnknownCaIsOneLineNamingSubjectAndIssuer) {
  auto l = listen(server());
  ASSERT_TRUE(l);
  const auto r = round_trip(*l, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::TlsFailed);
  const auto text = log();
  EXPECT_NE(text.find("unable to get local issuer certificate"), std::string::npos) << text;
  EXPECT_NE(text.find("subject CN=relay"), std::string::npos) << text;
  EXPECT_NE(text.find("issuer CN=Portal Test CA"), std::string::npos) << text;
}

TEST_P(TlsTransport, AWrongHostNameIsRefused) {
  auto l = listen(server("other.pem"));
  ASSERT_TRUE(l);
  const auto r = round_trip(*l, {{"ca_file", pki_ / "ca.pem"}});
  ASSERT_FALSE(r);
  EXPECT_NE(log().find("IP address mismatch (subject CN=relay"), std::string::npos) << log();
  // The same certificate passes for the name it carries.
  auto l2 = listen(server("other.pem"));
  EXPECT_TRUE(round_trip(*l2, {{"ca_file", pki_ / "ca.pem"}, {"server_name", "other.example"}}))
      << log();
}

TEST_P(TlsTransport, PinsReplaceChainVerificationForASelfSignedRelay) {
  auto pin = [&](const std::string& cert) { return pki_.pin(cert); };
  auto l = listen(server("self.pem", "self.key"));
  ASSERT_TRUE(l);
  EXPECT_FALSE(round_trip(*l, {}));  // self-signed: no chain
  auto l2 = listen(server("self.pem", "self.key"));
  EXPECT_TRUE(round_trip(*l2, {{"spki_sha256", pin("relay.pem") + "," + pin("self.pem")}}))
      << log();
  auto l3 = listen(server("self.pem", "self.key"));
  const auto wrong = round_trip(*l3, {{"spki_sha256", pin("relay.pem")}});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), Errc::TlsPinMismatch);
  EXPECT_NE(log().find("matches no spki_sha256 pin"), std::string::npos) << log();
}

TEST_P(TlsTransport, APlaintextClientOnATlsPortIsOneLineAndLeaksNothing) {
  auto l = listen(server());
  ASSERT_TRUE(l);
  auto tcp = resolve(*host_, "tcp://127.0.0.1:0");
  ASSERT_TRUE(tcp);
  std::this_thread::sleep_for(1100ms);  // the plugin's once-a-second line for earlier tests
  const auto before = open_descriptors();
  for (int i = 0; i < 5; ++i) {
    base::ErrorCode server_error;
    run([&]() -> asio::awaitable<void> {
      asio::co_spawn(io_, echo_one(*l, &server_error), asio::detached);
      auto u = l->local_uri();
      u.scheme = "tcp";
      u.path.clear();
      auto c = co_await (*tcp)->async_connect(io_.get_executor(), u, {});
      EXPECT_TRUE(c);
      if (!c) co_return;
      const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
      (void)co_await (*c)->async_write(
          base::ByteSpan(reinterpret_cast<const base::Byte*>(get.data()), get.size()));
      Bytes buf(64);
      auto n = co_await (*c)->async_read_some(buf);  // the server closes
      EXPECT_TRUE(!n || *n == 0);
    });
    // tls:// hands the stream out and fails its first read; wss:// fails before HTTP, inside
    // the listener, and hands nothing out.
    if (secure() == "tls") {
      EXPECT_EQ(server_error, Errc::TlsFailed);
    }
  }
  io_.run_for(100ms);
  EXPECT_EQ(open_descriptors(), before);
  const auto text = log();
  EXPECT_NE(text.find("does not speak TLS"), std::string::npos) << text;
  // Rate-limited: five failures within a second are one line.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
}

TEST_P(TlsTransport, ATlsClientOnAPlaintextPortIsOneLine) {
  auto tcp = resolve(*host_, any_port(plain()));
  ASSERT_TRUE(tcp);
  auto l = (*tcp)->listen(io_.get_executor(), *parse_uri(any_port(plain())), {});
  ASSERT_TRUE(l);
  const auto before = open_descriptors();
  base::Result<void> r = Errc::Closed;
  run([&]() -> asio::awaitable<void> {
    asio::co_spawn(io_, echo_one(**l, nullptr), asio::detached);
    auto u = (*l)->local_uri();
    u.scheme = secure();
    Settings quick;
    quick.emplace("handshake_timeout_ms", "2000");
    auto c = co_await tls_->async_connect(io_.get_executor(), u, quick);
    r = c ? base::Result<void>{} : base::Result<void>(c.error());
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::TlsFailed);
  io_.run_for(100ms);
  EXPECT_EQ(open_descriptors(), before);
  EXPECT_NE(log().find("tls: " + secure() + "://127.0.0.1:"), std::string::npos) << log();
}

TEST_P(TlsTransport, ListenerFilesAreCheckedWithOneLineNamingTheFile) {
  std::string problem;
  auto check = [&](const Settings& s) {
    problem.clear();
    return tls_->validate(s, problem).has_value();
  };
  EXPECT_TRUE(check(server()));
  EXPECT_FALSE(check(server("expired.pem")));
  EXPECT_NE(problem.find("expired"), std::string::npos) << problem;
  EXPECT_FALSE(check(server("relay.pem", "stranger.key")));
  EXPECT_NE(problem.find("does not match the certificate"), std::string::npos) << problem;
  EXPECT_FALSE(check(server("relay.pem", "missing.key")));
  EXPECT_NE(problem.find("missing.key"), std::string::npos) << problem;
  ::chmod((pki_ / "relay.key").c_str(), 0644);
  EXPECT_FALSE(check(server()));
  EXPECT_NE(problem.find("readable by others (mode 0644)"), std::string::npos) << problem;
  ::chmod((pki_ / "relay.key").c_str(), 0640);  // Debian's ssl-cert group convention
  EXPECT_TRUE(check(server())) << problem;
  EXPECT_FALSE(check({{"ca_file", pki_ / "missing.pem"}}));
  EXPECT_NE(problem.find("ca_file"), std::string::npos) << problem;
  EXPECT_FALSE(check({{"spki_sha256", "abc"}}));
  EXPECT_NE(problem.find("spki_sha256"), std::string::npos) << problem;
  // A listener without its files says which one is missing.
  auto l = tls_->listen(io_.get_executor(), *parse_uri(any_port(secure())), {});
  EXPECT_FALSE(l);
  EXPECT_NE(log().find("cert_file: required"), std::string::npos) << log();
  // TLS keys on the plaintext scheme are refused, not ignored.
  auto tcp = resolve(*host_, any_port(plain()));
  ASSERT_TRUE(tcp);
  EXPECT_FALSE((*tcp)->listen(io_.get_executor(), *parse_uri(any_port(plain())), server()));
  EXPECT_NE(log().find("TLS settings apply to " + secure() + ":// only"), std::string::npos)
      << log();
}

INSTANTIATE_TEST_SUITE_P(Schemes, TlsTransport,
                         ::testing::Values(Schemes{"tls", "tcp"}, Schemes{"wss", "ws"}),
                         [](const auto& p) { return std::string(p.param.secure); });

}  // namespace
}  // namespace portal::transport
