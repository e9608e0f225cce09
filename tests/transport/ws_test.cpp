// SPDX-License-Identifier: Apache-2.0
// portal.transport.ws loaded through the plugin host: WebSocket client and server, the HTTP
// surface of the listener (checked with curl), limits, and yamux over WebSocket.
#include "ws_transport.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <mutex>
#include <thread>

#include "portal/crypto/sha256.hpp"
#include "portal/mux/mux.hpp"
#include "portal/plugin/host.hpp"
#include "support/plugins.hpp"
#include "support/process.hpp"
#include "support/scale.hpp"

namespace portal::transport {
namespace {

namespace asio = boost::asio;
using base::Bytes;
using namespace std::chrono_literals;

class WebSocketTransport : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = portal::test::load_build_plugins();
    auto f = resolve(*host_, "ws://127.0.0.1:0/relay");
    ASSERT_TRUE(f) << f.error().message();
    ws_ = *f;
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
    for (int i = 0; i < 600 && !done; ++i) io_.run_for(100ms);
    ASSERT_TRUE(done);
  }
  std::unique_ptr<Listener> listen(const Settings& settings = {}) {
    auto l = ws_->listen(io_.get_executor(), *parse_uri("ws://127.0.0.1:0/relay"), settings);
    EXPECT_TRUE(l) << l.error().message();
    return l ? std::move(*l) : nullptr;
  }

  asio::io_context io_;
  std::unique_ptr<plugin::Host> host_;
  std::shared_ptr<TransportFactory> ws_;
};

asio::awaitable<void> send_all(stream::ByteStream& s, std::size_t total, std::uint8_t seed,
                               crypto::Sha256Digest& sent, int& finished) {
  crypto::Sha256 h;
  Bytes chunk(77'777);  // not a multiple of anything the transport uses
  for (std::size_t n = 0; n < total;) {
    chunk.resize(std::min(chunk.size(), total - n));
    for (std::size_t i = 0; i < chunk.size(); ++i)
      chunk[i] = static_cast<base::Byte>(seed + n + i * 3);
    h.update(chunk);
    EXPECT_TRUE(co_await s.async_write(chunk));
    n += chunk.size();
  }
  sent = h.finish();
  ++finished;
}

asio::awaitable<void> receive(stream::ByteStream& s, std::size_t total, crypto::Sha256Digest& got,
                              int& finished) {
  crypto::Sha256 r;
  Bytes buf(64 * 1024);
  std::size_t received = 0;
  while (received < total) {
    auto n = co_await s.async_read_some(buf);
    EXPECT_TRUE(n) << n.error().message();
    if (!n || *n == 0) break;
    r.update(base::ByteSpan(buf).first(*n));
    received += *n;
  }
  EXPECT_EQ(received, total);
  got = r.finish();
  ++finished;
}

TEST_F(WebSocketTransport, DialAcceptBulkBothWaysAndCloseHandshake) {
  auto listener = listen();
  ASSERT_TRUE(listener);
  const Uri bound = listener->local_uri();
  EXPECT_NE(bound.port, 0);
  EXPECT_EQ(bound.path, "/relay");
  const std::size_t size = portal::test::scaled(64u << 20, 1u << 20);
  run([&]() -> asio::awaitable<void> {
    auto client = co_await ws_->async_connect(io_.get_executor(), bound, {});
    EXPECT_TRUE(client) << client.error().message();
    auto server = co_await listener->async_accept();
    EXPECT_TRUE(server);
    if (!client || !server) co_return;
    crypto::Sha256Digest c_sent{}, s_got{}, s_sent{}, c_got{};
    int finished = 0;
    // Both directions at once.
    asio::co_spawn(io_, send_all(**client, size, 1, c_sent, finished), asio::detached);
    asio::co_spawn(io_, send_all(**server, size, 2, s_sent, finished), asio::detached);
    asio::co_spawn(io_, receive(**server, size, s_got, finished), asio::detached);
    asio::co_spawn(io_, receive(**client, size, c_got, finished), asio::detached);
    asio::steady_timer t(io_);
    while (finished < 4) {
      t.expires_after(5ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    EXPECT_EQ(c_got, s_sent);
    EXPECT_EQ(s_got, c_sent);
    // Close handshake: the peer, reading, sees the end of the stream and answers the close.
    base::Result<std::size_t> end = std::size_t{99};
    bool read_done = false;
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          Bytes buf(16);
          end = co_await (*server)->async_read_some(buf);
          read_done = true;
        },
        asio::detached);
    EXPECT_TRUE(co_await (*client)->async_shutdown_write());
    while (!read_done) {
      t.expires_after(1ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    EXPECT_TRUE(end);
    if (end) {
      EXPECT_EQ(*end, 0u);
    }
  });
}

// A client that sends its first frames right behind the upgrade request, in the same segment,
// before our 101 (RFC 6455 §4.1 says it must wait; some do not): the frames are the stream's
// first bytes. Before, the listener dropped them with the HTTP parser's buffer. More than the
// WebSocket stream can take at once gets a 400 that says why.
TEST_F(WebSocketTransport, FramesSentWithTheUpgradeRequestAreRead) {
  auto listener = listen();
  ASSERT_TRUE(listener);
  const auto port = listener->local_uri().port;
  const std::string upgrade =
      "GET /relay HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  // A masked binary frame (mask 0: the payload as is).
  auto frame = [](const std::string& payload) {
    std::string f{'\x82'};
    if (payload.size() < 126) {
      f += static_cast<char>(0x80 | payload.size());
    } else {
      f += '\xfe';
      f += static_cast<char>(payload.size() >> 8);
      f += static_cast<char>(payload.size() & 0xff);
    }
    f += std::string(4, '\0');
    return f + payload;
  };
  run([&]() -> asio::awaitable<void> {
    asio::ip::tcp::socket raw(io_);
    co_await raw.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
    const std::string early = upgrade + frame("early ") + frame("bytes");
    co_await asio::async_write(raw, asio::buffer(early), asio::use_awaitable);
    auto server = co_await listener->async_accept();
    EXPECT_TRUE(server);
    if (!server) co_return;
    std::string got;
    Bytes buf(64);
    while (got.size() < 11) {
      auto n = co_await (*server)->async_read_some(buf);
      EXPECT_TRUE(n && *n > 0);
      if (!n || *n == 0) break;
      got.append(reinterpret_cast<const char*>(buf.data()), *n);
    }
    EXPECT_EQ(got, "early bytes");
    std::string answer(4096, '\0');
    const auto n = co_await raw.async_read_some(asio::buffer(answer), asio::use_awaitable);
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 101") << answer.substr(0, n);

    // More than Beast takes at once (an upgrade request of over 1,536 bytes, and a frame read
    // with its end): 400, closed, and no stream accepted. (The length is odd so that no read
    // of the parser's ends exactly at the request's end, which would leave the frame unread.)
    std::string padded = upgrade;
    padded.insert(padded.size() - 2, "X-Pad: " + std::string(1451, 'p') + "\r\n");
    asio::ip::tcp::socket big(io_);
    co_await big.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
    co_await asio::async_write(big, asio::buffer(padded + frame("x")), asio::use_awaitable);
    std::string refused;
    for (;;) {
      auto [ec, k] =
          co_await big.async_read_some(asio::buffer(answer), asio::as_tuple(asio::use_awaitable));
      if (ec) break;
      refused.append(answer.data(), k);
    }
    EXPECT_EQ(refused.substr(0, 12), "HTTP/1.1 400") << refused;
    EXPECT_NE(refused.find("RFC 6455 section 4.1"), std::string::npos) << refused;
  });
}

TEST_F(WebSocketTransport, OversizeMessageFailsTheReader) {
  auto listener = listen({{"max_message_size", "65536"}});
  ASSERT_TRUE(listener);
  const Settings big_writes{{"max_write_message", "1048576"}};
  run([&]() -> asio::awaitable<void> {
    auto client =
        co_await ws_->async_connect(io_.get_executor(), listener->local_uri(), big_writes);
    auto server = co_await listener->async_accept();
    EXPECT_TRUE(client && server);
    if (!client || !server) co_return;
    EXPECT_TRUE(co_await (*client)->async_write(Bytes(200 * 1024, 1)));  // one 200 KiB message
    Bytes buf(4096);
    base::Result<std::size_t> n = std::size_t{1};
    while (n && *n > 0) n = co_await (*server)->async_read_some(buf);
    EXPECT_FALSE(n);  // message too big: an error, not a clean end
  });
}

TEST_F(WebSocketTransport, ConnectRefusedAndUnknownPath) {
  auto listener = listen();
  ASSERT_TRUE(listener);
  Uri wrong = listener->local_uri();
  wrong.path = "/elsewhere";
  Uri gone = listener->local_uri();
  auto other = ws_->listen(io_.get_executor(), *parse_uri("ws://127.0.0.1:0/relay"), {});
  ASSERT_TRUE(other);
  gone = (*other)->local_uri();
  (*other)->close();
  run([&]() -> asio::awaitable<void> {
    auto c = co_await ws_->async_connect(io_.get_executor(), wrong, {});
    EXPECT_FALSE(c);  // 404 instead of an upgrade
    auto r = co_await ws_->async_connect(io_.get_executor(), gone, {});
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_EQ(r.error(), asio::error::connection_refused);
    }
  });
}

// A host-less URI (a local socket's) is neither bound nor dialed over TCP.
TEST_F(WebSocketTransport, RefusesHostlessUris) {
  const auto uri = parse_uri("ws:///run/portal/relay.sock");
  ASSERT_TRUE(uri);
  auto listener = ws_->listen(io_.get_executor(), *uri, {});
  ASSERT_FALSE(listener);
  EXPECT_EQ(listener.error(), Errc::InvalidUri);
  run([&]() -> asio::awaitable<void> {
    auto c = co_await ws_->async_connect(io_.get_executor(), *uri, {});
    EXPECT_FALSE(c);
    if (!c) {
      EXPECT_EQ(c.error(), Errc::InvalidUri);
    }
  });
}

// The default v1 stack without encryption: yamux over WebSocket, both through their plugins.
TEST_F(WebSocketTransport, YamuxOverWebSocket) {
  auto mux = host_->find_provider(plugin::Kind::Mux, "yamux");
  ASSERT_TRUE(mux);
  auto factory = (*mux)->factory<mux::MuxFactory>();
  ASSERT_TRUE(factory);
  auto listener = listen();
  ASSERT_TRUE(listener);
  run([&]() -> asio::awaitable<void> {
    auto c = co_await ws_->async_connect(io_.get_executor(), listener->local_uri(), {});
    auto s = co_await listener->async_accept();
    EXPECT_TRUE(c && s);
    if (!c || !s) co_return;
    auto client = (*factory)->create(std::move(*c), mux::Role::Client, {});
    auto server = (*factory)->create(std::move(*s), mux::Role::Server, {});
    EXPECT_TRUE(client && server);
    auto out = co_await (*client)->async_open();
    EXPECT_TRUE(co_await (*out)->async_write(base::as_bytes("over yamux over websocket")));
    EXPECT_TRUE(co_await (*out)->async_shutdown_write());
    auto in = co_await (*server)->async_accept();
    EXPECT_TRUE(in);
    Bytes buf(64);
    std::string got;
    for (;;) {
      auto n = co_await (*in)->async_read_some(buf);
      if (!n || *n == 0) break;
      got.append(base::as_chars(base::ByteSpan(buf).first(*n)));
    }
    EXPECT_EQ(got, "over yamux over websocket");
    EXPECT_TRUE(co_await (*client)->async_ping());
    (*client)->close();
    (*server)->close();
  });
}

// The HTTP surface, checked with curl while the listener runs on its own thread.
class WebSocketHttp : public WebSocketTransport {
 protected:
  void start(const Settings& settings = {}, AcceptHooks hooks = {}) {
    listener_ = listen(settings);
    ASSERT_TRUE(listener_);
    listener_->set_accept_hooks(std::move(hooks));
    ASSERT_TRUE(listener_->add_http_route("/healthz", [](const HttpRequest&) {
      return HttpResponse{200, "text/plain; charset=utf-8", "ok\n", {}};
    }));
    ASSERT_TRUE(listener_->add_http_route("/api/", [](const HttpRequest& r) {
      return HttpResponse{200, "application/json", "{\"target\":\"" + r.target + "\"}", {}};
    }));
    EXPECT_EQ(listener_->add_http_route("/relay", {}).error(), Errc::InvalidSetting);
    base_ = "http://127.0.0.1:" + std::to_string(listener_->local_uri().port);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (thread_.joinable()) {
      asio::post(io_, [this] { listener_->close(); });
      work_.reset();
      io_.stop();
      thread_.join();
    }
  }
  // Status code and headers+body of a curl request.
  std::pair<std::string, std::string> curl(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"/usr/bin/curl", "-s", "-i", "--max-time", "10"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = portal::test::run_process(argv);
    const auto sp = r.out.find(' ');
    return {sp == std::string::npos ? "" : r.out.substr(sp + 1, 3), r.out};
  }

  std::unique_ptr<Listener> listener_;
  std::string base_;
  std::thread thread_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      asio::make_work_guard(io_)};
};

TEST_F(WebSocketHttp, AnswersAsTheRelayPortShould) {
  start();
  auto [code, out] = curl({base_ + "/relay"});
  EXPECT_EQ(code, "426") << out;
  std::tie(code, out) = curl({"-X", "POST", base_ + "/relay"});
  EXPECT_EQ(code, "405") << out;
  EXPECT_NE(out.find("Allow: GET"), std::string::npos) << out;
  std::tie(code, out) = curl({base_ + "/nope"});
  EXPECT_EQ(code, "404") << out;
  std::tie(code, out) = curl({base_ + "/healthz"});
  EXPECT_EQ(code, "200") << out;
  EXPECT_NE(out.find("\r\n\r\nok\n"), std::string::npos) << out;
  std::tie(code, out) = curl({base_ + "/api/leases?x=1"});
  EXPECT_EQ(code, "200") << out;
  EXPECT_NE(out.find("/api/leases?x=1"), std::string::npos) << out;
  std::tie(code, out) = curl({"-H", "X-Big: " + std::string(20000, 'a'), base_ + "/healthz"});
  EXPECT_EQ(code, "431") << out.substr(0, 200);
}

// Raw sockets for what curl will not send: a malformed request and a slow one.
std::string raw_exchange(std::uint16_t port, const std::string& send,
                         std::chrono::milliseconds wait) {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(s, asio::buffer(send));
  std::this_thread::sleep_for(wait);
  std::string got;
  boost::system::error_code ec;
  char buf[1024];
  for (;;) {
    const auto n = s.read_some(asio::buffer(buf), ec);
    if (ec) break;
    got.append(buf, n);
  }
  return got;  // the server closed the connection when this returns
}

TEST_F(WebSocketHttp, MalformedRequestGets400AndClose) {
  start();
  const auto got = raw_exchange(listener_->local_uri().port, "GARBAGE\r\n\r\n", 0ms);
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
}

TEST_F(WebSocketHttp, SlowHeadersAreCutOff) {
  start({{"header_timeout_ms", "200"}});
  const auto start_time = std::chrono::steady_clock::now();
  const auto got =
      raw_exchange(listener_->local_uri().port, "GET /healthz HTTP/1.1\r\nHost: x\r\n", 0ms);
  EXPECT_EQ(got, "");  // closed without an answer
  EXPECT_LT(std::chrono::steady_clock::now() - start_time, 5s);
}

// Plain HTTP is for pages and metrics: a connection that keeps sending keep-alive requests and
// never upgrades is closed once the header timeout has passed since it was accepted.
TEST_F(WebSocketHttp, KeepAliveWithoutUpgradeEndsAtTheHeaderTimeout) {
  start({{"header_timeout_ms", "400"}});
  asio::io_context io;
  asio::ip::tcp::socket sock(io);
  sock.connect({asio::ip::make_address("127.0.0.1"), listener_->local_uri().port});
  const auto begin = std::chrono::steady_clock::now();
  int answered = 0;
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() - begin < 3s) {
    boost::system::error_code ec;
    asio::write(sock, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")), ec);
    std::string got;
    char buf[512];
    while (!ec && got.find("\r\n\r\nok\n") == std::string::npos) {
      const auto n = sock.read_some(asio::buffer(buf), ec);
      got.append(buf, n);
    }
    if (ec) {
      closed = true;
    } else {
      ++answered;
      std::this_thread::sleep_for(100ms);
    }
  }
  EXPECT_TRUE(closed) << "still open after 3 s of keep-alive requests";
  EXPECT_GE(answered, 2);  // it was served until then
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
}

// The owner's admission decides before a byte is read, and its ticket lives as long as the
// connection: through plain HTTP, and inside the stream after an upgrade.
TEST_F(WebSocketHttp, AdmissionHooksSeeEveryConnectionFirst) {
  auto state = std::make_shared<std::mutex>();
  auto tickets = std::make_shared<std::vector<std::weak_ptr<int>>>();
  auto calls = std::make_shared<int>(0);
  AcceptHooks hooks;
  hooks.admit = [state, tickets, calls](const stream::PeerInfo& peer) -> std::shared_ptr<void> {
    std::lock_guard lock(*state);
    EXPECT_EQ(peer.address, "127.0.0.1");
    if ((*calls)++ == 0) return nullptr;  // the first connection is refused
    auto t = std::make_shared<int>(*calls);
    tickets->push_back(t);
    return t;
  };
  start({}, hooks);
  // Refused: closed before any answer.
  const auto refused =
      raw_exchange(listener_->local_uri().port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 0ms);
  EXPECT_EQ(refused, "");
  // Admitted: served, and the ticket is released once the connection is gone.
  auto [code, out] = curl({base_ + "/healthz"});
  EXPECT_EQ(code, "200") << out;
  bool released = false;
  for (int i = 0; i < 100 && !released; ++i) {
    {
      std::lock_guard lock(*state);
      released = tickets->size() == 1 && tickets->front().expired();
    }
    if (!released) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(released);
  std::lock_guard lock(*state);
  EXPECT_EQ(*calls, 2);
}

}  // namespace
}  // namespace portal::transport
