// SPDX-License-Identifier: Apache-2.0
// The client SDK in-process against the real portal-relay binary: listen, accept, dial by name
// and by ID, lookup, refusals, reconnect with re-registration, and the blocking API.

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/ip/tcp.hpp>

#include <set>
#include <thread>

#include "portal/client/blocking.hpp"
#include "portal/client/client.hpp"
#include "portal/client/control.hpp"
#include "portal/client/resolve.hpp"
#include "relay/relay_harness.hpp"

namespace portal::test {
namespace {

using client::Errc;

std::shared_ptr<client::Stack> stack_for(const std::vector<std::string>& relays) {
  config::ClientConfig cfg;
  cfg.plugin_dirs = {PORTAL_BUILD_PLUGIN_DIR};
  cfg.relays = relays;
  std::string error;
  auto s = client::assemble(cfg, error);
  if (!s) throw std::runtime_error(error);
  return s;
}

client::Options fast(const std::vector<std::string>& relays) {
  client::Options o;
  o.relays = relays;
  o.timers.reconnect_initial_ms = 50;
  o.timers.reconnect_max_ms = 200;
  o.timers.renew_interval_ms = 1000;
  return o;
}

class ClientSdk : public RelayClientTest {
 protected:
  std::shared_ptr<client::Client> make(const std::vector<std::string>& relays,
                                       std::optional<identity::Credential> who = std::nullopt) {
    std::string detail;
    auto c = run(client::Client::connect(io_.get_executor(), who ? std::move(*who) : credential(),
                                         stack_for(relays), fast(relays), &detail));
    if (!c) throw std::runtime_error("connect: " + c.error().message() + " " + detail);
    clients_.push_back(*c);
    return *c;
  }
  // Pumps the io_context until `ok()` holds, checking every `step`, at most `limit`.
  bool pump_until(const std::function<bool()>& ok, std::chrono::milliseconds limit,
                  std::chrono::milliseconds step = std::chrono::milliseconds(25)) {
    for (auto waited = std::chrono::milliseconds(0); waited < limit; waited += step) {
      if (ok()) return true;
      pump(step);
    }
    return ok();
  }

  // Runs a coroutine that returns nothing.
  void finish(asio::awaitable<void> a) {
    (void)run([](asio::awaitable<void> inner) -> asio::awaitable<bool> {
      co_await std::move(inner);
      co_return true;
    }(std::move(a)));
  }

  void TearDown() override {
    for (auto& c : clients_) finish(c->close());
    clients_.clear();
    RelayClientTest::TearDown();
  }

  // Writes `text` on `s`, half-closes, and reads everything back.
  asio::awaitable<std::string> exchange(stream::ByteStream& s, std::string text) {
    if (!co_await s.async_write(base::as_bytes(text))) co_return "write failed";
    if (!co_await s.async_shutdown_write()) co_return "shutdown failed";
    std::string got;
    std::array<base::Byte, 4096> buf{};
    for (;;) {
      auto n = co_await s.async_read_some(buf);
      if (!n || *n == 0) break;
      got.append(reinterpret_cast<const char*>(buf.data()), *n);
    }
    co_return got;
  }

  // Accepts one stream on `l`, echoes it upper-cased, and records the peer and ALPN.
  void echo_once(std::shared_ptr<client::Listener> l, std::string* peer, std::string* alpn) {
    asio::co_spawn(
        io_,
        [l, peer, alpn]() -> asio::awaitable<void> {
          auto s = co_await l->accept();
          if (!s) co_return;
          *peer = (*s)->peer().id;
          *alpn = (*s)->alpn();
          std::array<base::Byte, 4096> buf{};
          for (;;) {
            auto n = co_await (*s)->async_read_some(buf);
            if (!n || *n == 0) break;
            for (std::size_t i = 0; i < *n; ++i) {
              buf[i] = static_cast<base::Byte>(std::toupper(buf[i]));
            }
            if (!co_await (*s)->async_write(base::ByteSpan(buf.data(), *n))) co_return;
          }
          (void)co_await (*s)->async_shutdown_write();
        },
        asio::detached);
  }

  std::vector<std::shared_ptr<client::Client>> clients_;
};

// Two plugins provide chacha20-poly1305 in the build (cipher-chacha and cipher-openssl): both are
// timed and the faster one is made active; a single provider is not timed.
TEST(ClientStack, TheFastestCipherPluginIsActive) {
  const auto s = stack_for({"tcp://127.0.0.1:1"});
  // The default list: chacha20-poly1305 (both plugins), then aes-256-gcm (cipher-openssl).
  ASSERT_EQ(s->ciphers.size(), 2u);
  EXPECT_EQ(s->ciphers[0].algorithm, "chacha20-poly1305");
  EXPECT_EQ(s->ciphers[1].algorithm, "aes-256-gcm");
  ASSERT_EQ(s->ciphers[1].candidates.size(), 1u);
  EXPECT_EQ(s->ciphers[1].candidates[0].plugin_id, "portal.cipher.openssl");
  EXPECT_EQ(s->channel_mode, handshake::ChannelMode::Auto);
  ASSERT_EQ(s->ciphers[0].candidates.size(), 2u);
  const auto& active = s->ciphers[0].candidates[0];
  const auto& other = s->ciphers[0].candidates[1];
  EXPECT_GT(active.bytes_per_second, 0);
  EXPECT_GT(other.bytes_per_second, 0);
  EXPECT_GE(active.bytes_per_second, other.bytes_per_second);
  std::set<std::string> ids{active.plugin_id, other.plugin_id};
  EXPECT_EQ(ids,
            (std::set<std::string>{"portal.cipher.chacha20-poly1305", "portal.cipher.openssl"}));
  // The active factory is the one from the active plugin.
  auto p = s->host->find(active.plugin_id);
  ASSERT_TRUE(p);
  auto f = (*p)->factory<cipher::AeadFactory>();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->get(), s->cipher.get());

  config::ClientConfig missing;
  missing.plugin_dirs = {PORTAL_BUILD_PLUGIN_DIR};
  missing.ciphers = {{"no-such-cipher", ""}};
  missing.channel = "negotiated";
  std::string error;
  EXPECT_FALSE(client::assemble(missing, error));
  EXPECT_NE(error.find("ciphers: no cipher plugin provides 'no-such-cipher' (plugin directories: "),
            std::string::npos)
      << error;

  // A pinned implementation is the only one taken; a pin no plugin matches is an error.
  config::ClientConfig pinned;
  pinned.plugin_dirs = {PORTAL_BUILD_PLUGIN_DIR};
  pinned.ciphers = {{"chacha20-poly1305", "portal.cipher.chacha20-poly1305"}};
  auto p1 = client::assemble(pinned, error);
  ASSERT_TRUE(p1) << error;
  ASSERT_EQ(p1->ciphers.size(), 1u);
  ASSERT_EQ(p1->ciphers[0].candidates.size(), 1u);
  EXPECT_EQ(p1->ciphers[0].candidates[0].plugin_id, "portal.cipher.chacha20-poly1305");
  pinned.ciphers = {{"chacha20-poly1305", "portal.cipher.nobody"}};
  EXPECT_FALSE(client::assemble(pinned, error));
  EXPECT_NE(error.find("no cipher plugin 'portal.cipher.nobody' provides 'chacha20-poly1305'"),
            std::string::npos)
      << error;
}

TEST_F(ClientSdk, ListenAcceptAndDialByNameCaseInsensitivelyAndById) {
  RelayProcess relay;
  auto holder = make({relay.ws});
  auto dialer = make({relay.tcp});
  auto l = run(holder->listen("Echo-Service", {"echo/1", "http/1.1"}));
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_EQ((*l)->registered_on(), std::vector<std::string>{relay.ws});

  auto found = run(dialer->lookup("echo-SERVICE"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->lease.identity->id, holder->credential().id());
  EXPECT_EQ(found->relay, relay.tcp);

  for (const std::string& target : {std::string("ECHO-service"), holder->credential().id()}) {
    std::string peer, alpn;
    echo_once(*l, &peer, &alpn);
    std::string detail;
    auto s = run(dialer->dial(target, "echo/1", &detail));
    ASSERT_TRUE(s) << target << ": " << s.error().message() << " " << detail;
    EXPECT_EQ((*s)->peer().id, holder->credential().id());
    EXPECT_EQ(run(exchange(**s, "hello through the relay")), "HELLO THROUGH THE RELAY");
    EXPECT_EQ(peer, dialer->credential().id());
    EXPECT_EQ(alpn, "echo/1");
  }
}

// ADR 0016: a relay advertises lease lookups and answers them from its table (no fleet); the SDK
// sends one when RelayInfo does not list the target, and the relay counts it.
TEST_F(ClientSdk, TheRelayAnswersLeaseLookupsAndTheSdkAsksWhenRelayInfoDoesNotList) {
  RelayProcess relay;
  auto holder = make({relay.ws});
  auto l = run(holder->listen("Look-Me-Up", {"echo/1"}));
  ASSERT_TRUE(l) << l.error().message();
  auto s = session(relay.tcp);
  auto info = run(client::relay_info(*s));
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_TRUE(client::supports_lookup(*info));
  const std::string id = holder->credential().id();
  std::string lower = id;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const std::string& target : {std::string("look-me-UP"), lower}) {
    auto r = run(client::lease_lookup(*s, target, std::chrono::seconds(10)));
    ASSERT_TRUE(r) << target << ": " << r.error().message();
    EXPECT_EQ(r->code, wire::ResponseCode::Accepted) << target;
    ASSERT_EQ(r->leases.size(), 1u);
    EXPECT_EQ(r->leases[0].identity->id, id);
  }
  auto none = run(client::lease_lookup(*s, "nobody", std::chrono::seconds(10)));
  ASSERT_TRUE(none);
  EXPECT_EQ(none->code, wire::ResponseCode::InvalidIdentity);
  EXPECT_TRUE(none->leases.empty());
  const auto lookups = [&](const char* result) {
    return metric_value(
        curl(relay.http + "/metrics"),
        std::string("portal_requests_total{type=\"lease_lookup\",result=\"") + result + "\"}");
  };
  EXPECT_EQ(lookups("accepted"), 2);
  EXPECT_EQ(lookups("invalid_identity"), 1);
  // The SDK: RelayInfo lists the lease, so dialing it asks nothing more; an unknown name is
  // looked up before it is reported missing.
  auto dialer = make({relay.ws});
  ASSERT_TRUE(run(dialer->lookup("LOOK-me-up")));
  EXPECT_EQ(lookups("accepted"), 2);
  std::string detail;
  EXPECT_EQ(run(dialer->dial("nobody", "echo/1", &detail)).error(), Errc::NotFound);
  EXPECT_EQ(lookups("invalid_identity"), 2);
}

TEST_F(ClientSdk, RefusalsHaveTheirOwnErrors) {
  RelayProcess relay;
  auto holder = make({relay.ws});
  auto other = make({relay.ws});
  auto l = run(holder->listen("svc", {"echo/1"}));
  ASSERT_TRUE(l);
  EXPECT_EQ(run(holder->listen("again", {"echo/1"})).error(), Errc::AlreadyListening);
  EXPECT_EQ(run(other->listen("bad name", {"echo/1"})).error(), Errc::InvalidName);
  EXPECT_EQ(run(other->listen("x", {})).error(), Errc::InvalidTarget);
  std::string detail;
  EXPECT_EQ(run(other->listen("svc", {"echo/1"}, {}, &detail)).error(), Errc::LeaseRefused);
  EXPECT_EQ(detail, relay.ws + ": REJECTED");

  detail.clear();
  EXPECT_EQ(run(other->dial("nobody", "echo/1", &detail)).error(), Errc::NotFound);
  EXPECT_NE(detail.find("no lease named 'nobody'"), std::string::npos) << detail;
  EXPECT_EQ(run(other->dial("svc", "h2", &detail)).error(), handshake::Errc::NoCommonAlpn);
  EXPECT_NE(detail.find("offers ALPN echo/1, not h2"), std::string::npos) << detail;
  EXPECT_EQ(run(other->lookup("nobody")).error(), Errc::NotFound);
  EXPECT_EQ(run(other->dial("", "echo/1")).error(), Errc::InvalidTarget);
}

TEST_F(ClientSdk, AHolderThatRefusesOrBreaksTheHandshakeIsReportedWithTheReason) {
  RelayProcess relay;
  auto dialer = make({relay.ws});
  // A lease holder built from the bare control core: it answers REJECTED.
  auto refusing = session(relay.ws);
  ASSERT_EQ(update(*refusing, credential(), "refuses", {"echo/1"}), wire::ResponseCode::Accepted);
  hold(refusing, wire::ResponseCode::Rejected, nullptr);
  std::string detail;
  EXPECT_EQ(run(dialer->dial("refuses", "echo/1", &detail)).error(), Errc::HolderRefused);
  EXPECT_NE(detail.find("the lease holder refused (REJECTED)"), std::string::npos) << detail;

  // This one accepts, then answers the ClientInit with garbage.
  auto broken = session(relay.ws);
  ASSERT_EQ(update(*broken, credential(), "broken", {"echo/1"}), wire::ResponseCode::Accepted);
  hold(broken, wire::ResponseCode::Accepted,
       [](std::unique_ptr<stream::ByteStream> s) -> asio::awaitable<void> {
         const std::string junk = "\x00\x00\x00\x04junk";
         (void)co_await s->async_write(base::as_bytes(junk));
         (void)co_await s->async_shutdown_write();
       });
  detail.clear();
  auto r = run(dialer->dial("broken", "echo/1", &detail));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category(), handshake::handshake_category()) << r.error().message();
  EXPECT_NE(detail.find("handshake: "), std::string::npos) << detail;
}

TEST_F(ClientSdk, ClosingTheListenerDeletesTheLease) {
  RelayProcess relay;
  auto holder = make({relay.ws});
  auto watcher = session(relay.ws);
  auto l = run(holder->listen("short-lived", {"echo/1"}));
  ASSERT_TRUE(l);
  ASSERT_EQ(info(*watcher).leases.size(), 1u);
  // A pending accept() wakes with Closed.
  std::optional<base::ErrorCode> accepted;
  asio::co_spawn(
      io_,
      [l = *l, &accepted]() -> asio::awaitable<void> {
        auto s = co_await l->accept();
        accepted = s ? base::ErrorCode{} : s.error();
      },
      asio::detached);
  pump(std::chrono::milliseconds(20));
  finish((*l)->close());
  pump(std::chrono::milliseconds(20));
  ASSERT_TRUE(accepted);
  EXPECT_EQ(*accepted, Errc::Closed);
  EXPECT_TRUE(info(*watcher).leases.empty());
  // The identity may listen again.
  EXPECT_TRUE(run(holder->listen("short-lived", {"echo/1"})));
}

TEST_F(ClientSdk, ADroppedListenerClosesItselfAndDeletesTheLease) {
  RelayProcess relay;
  auto holder = make({relay.ws});
  auto watcher = session(relay.ws);
  {
    auto l = run(holder->listen("dropped", {"echo/1"}));
    ASSERT_TRUE(l);
    ASSERT_EQ(info(*watcher).leases.size(), 1u);
  }
  EXPECT_TRUE(
      pump_until([&] { return info(*watcher).leases.empty(); }, std::chrono::milliseconds(1000)));
  EXPECT_TRUE(run(holder->listen("dropped-again", {"echo/1"})));
}

TEST_F(ClientSdk, ReconnectsWithBackoffAndRegistersAgain) {
  auto relay = std::make_unique<RelayProcess>();
  const std::string ws = relay->ws, tcp = relay->tcp;
  auto holder = make({ws});
  auto events = std::make_shared<std::vector<client::RelayEvent>>();
  holder->on_relay_event([events](const client::RelayEvent& e) { events->push_back(e); });
  auto listener = run(holder->listen("phoenix", {"echo/1"}));
  ASSERT_TRUE(listener);

  relay->child().signal(SIGKILL);
  ASSERT_GE(relay->child().wait(5000), 0);
  relay.reset();
  pump(std::chrono::milliseconds(300));
  ASSERT_FALSE(events->empty());
  EXPECT_FALSE(events->back().up);
  EXPECT_FALSE(holder->relays().front().up);

  relay = std::make_unique<RelayProcess>("{}", ws, tcp);
  auto watcher = session(ws);
  ASSERT_TRUE(
      pump_until([&] { return holder->relays().front().up && info(*watcher).leases.size() == 1; },
                 std::chrono::milliseconds(5000), std::chrono::milliseconds(50)));
  EXPECT_TRUE(events->back().up);
  EXPECT_EQ(info(*watcher).leases.front().name, "phoenix");

  // A dial through the new relay reaches the same listener.
  auto dialer = make({tcp});
  std::string peer, alpn;
  echo_once(*listener, &peer, &alpn);
  std::string detail;
  auto s = run(dialer->dial("phoenix", "echo/1", &detail));
  ASSERT_TRUE(s) << s.error().message() << " " << detail;
  EXPECT_EQ(run(exchange(**s, "again")), "AGAIN");
}

TEST_F(ClientSdk, ASilentRelayDoesNotHoldTheClientBack) {
  // A TCP endpoint that accepts and then never answers: its RelayInfo would time out (10 s).
  asio::ip::tcp::acceptor silent(io_, {asio::ip::make_address("127.0.0.1"), 0});
  std::vector<asio::ip::tcp::socket> held;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        for (;;) {
          auto [ec, s] = co_await silent.async_accept(asio::as_tuple(asio::use_awaitable));
          if (ec) co_return;
          held.push_back(std::move(s));
        }
      },
      asio::detached);
  const std::string black_hole =
      "tcp://127.0.0.1:" + std::to_string(silent.local_endpoint().port());
  RelayProcess relay;
  auto c = make({black_hole, relay.ws});
  const auto status = c->relays();
  ASSERT_EQ(status.size(), 2u);
  EXPECT_FALSE(status[0].up);
  EXPECT_TRUE(status[0].last_error.empty()) << "the silent relay's attempt had already ended";
  EXPECT_TRUE(status[1].up);
  EXPECT_TRUE(run(c->listen("not-held-back", {"echo/1"})));
  // A control call to it ends at its deadline, as a Timeout, not when the peer gives up.
  auto mute = session(black_hole);
  EXPECT_EQ(run(client::relay_info(*mute, std::chrono::milliseconds(100))).error(), Errc::Timeout);
  finish(c->close());
  silent.close();
  pump(std::chrono::milliseconds(20));  // the accept loop ends before `held` and `silent` go
}

TEST(ClientSdkConnect, NoRelayReachableIsOneErrorWithEachRelaysReason) {
  asio::io_context io;
  std::string detail;
  std::optional<base::Result<std::shared_ptr<client::Client>>> out;
  const std::vector<std::string> relays{"ws://127.0.0.1:1/relay", "tcp://127.0.0.1:1"};
  auto cred = identity::Credential::generate(base::OsRandom::instance());
  asio::co_spawn(io,
                 client::Client::connect(io.get_executor(), std::move(*cred), stack_for(relays),
                                         fast(relays), &detail),
                 [&](std::exception_ptr, base::Result<std::shared_ptr<client::Client>> r) {
                   out.emplace(std::move(r));
                 });
  io.run_for(std::chrono::seconds(20));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->error(), Errc::NoRelay);
  EXPECT_NE(detail.find("ws://127.0.0.1:1/relay: "), std::string::npos) << detail;
  EXPECT_NE(detail.find("tcp://127.0.0.1:1: "), std::string::npos) << detail;
}

TEST(ClientSdkBlocking, ListenAcceptAndDialFromPlainThreads) {
  RelayProcess relay;
  auto a = identity::Credential::generate(base::OsRandom::instance());
  auto b = identity::Credential::generate(base::OsRandom::instance());
  const std::string holder_id = a->id();
  std::string detail;
  auto holder = client::BlockingClient::connect(std::move(*a), stack_for({relay.ws}),
                                                fast({relay.ws}), &detail);
  ASSERT_TRUE(holder) << detail;
  auto dialer = client::BlockingClient::connect(std::move(*b), stack_for({relay.tcp}),
                                                fast({relay.tcp}), &detail);
  ASSERT_TRUE(dialer) << detail;
  auto l = (*holder)->listen("blocking", {"echo/1"});
  ASSERT_TRUE(l);
  std::thread server([&] {
    auto s = (*l)->accept();
    if (!s) return;
    std::array<base::Byte, 1024> buf{};
    for (;;) {
      auto n = (*s)->read_some(buf);
      if (!n || *n == 0) break;
      if (!(*s)->write(base::ByteSpan(buf.data(), *n))) break;
    }
    (void)(*s)->shutdown_write();
  });
  auto s = (*dialer)->dial("blocking", "echo/1", &detail);
  ASSERT_TRUE(s) << s.error().message() << " " << detail;
  const std::string text = "plain threads, no event loop";
  ASSERT_TRUE((*s)->write(base::as_bytes(text)));
  ASSERT_TRUE((*s)->shutdown_write());
  std::string got;
  std::array<base::Byte, 1024> buf{};
  for (;;) {
    auto n = (*s)->read_some(buf);
    ASSERT_TRUE(n);
    if (*n == 0) break;
    got.append(reinterpret_cast<const char*>(buf.data()), *n);
  }
  server.join();
  EXPECT_EQ(got, text);
  EXPECT_EQ((*s)->peer().id, holder_id);
  (*l)->close();
  EXPECT_FALSE((*l)->accept());
}

}  // namespace
}  // namespace portal::test
