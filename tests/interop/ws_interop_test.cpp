// SPDX-License-Identifier: Apache-2.0
// Interop with an independent WebSocket implementation: Debian's python3-websockets, in both
// directions. Their message boundaries differ from our writes (and theirs from ours), ping, close
// codes, and an oversize message closed with 1009.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <thread>

#include "portal/plugin/host.hpp"
#include "portal/transport/transport.hpp"
#include "support/fd_stream.hpp"
#include "support/pki.hpp"
#include "support/plugins.hpp"
#include "support/process.hpp"

namespace portal::transport {
namespace {

namespace asio = boost::asio;
using base::Bytes;
using namespace std::chrono_literals;

const bool kIgnoreSigpipe = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

std::shared_ptr<TransportFactory> ws_factory(const plugin::Host& host) {
  auto f = resolve(host, "ws://127.0.0.1:0/relay");
  EXPECT_TRUE(f);
  return f ? *f : nullptr;
}

// Their client against our server: our side echoes the byte stream; the Python client checks
// the echo, pings, sends a text message and an oversize one (our limit is 64 KiB here). With a
// PKI: over wss://, their client verifying our certificate.
void their_client_our_server(const portal::test::TestPki* pki) {
  auto host = portal::test::load_build_plugins();
  auto ws = ws_factory(*host);
  ASSERT_TRUE(ws);
  asio::io_context io;
  Settings settings{{"max_message_size", "65536"}};
  if (pki != nullptr) {
    settings.emplace("cert_file", *pki / "relay.pem");
    settings.emplace("key_file", *pki / "relay.key");
  }
  auto listener = ws->listen(
      io.get_executor(),
      *parse_uri(pki != nullptr ? "wss://127.0.0.1:0/relay" : "ws://127.0.0.1:0/relay"), settings);
  ASSERT_TRUE(listener);
  const std::string url = (*listener)->local_uri().to_string();
  base::ErrorCode oversize_error;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto s = co_await (*listener)->async_accept();
        EXPECT_TRUE(s);
        if (!s) co_return;
        Bytes buf(4096);  // smaller than their messages: boundaries differ on purpose
        for (;;) {
          auto n = co_await (*s)->async_read_some(buf);
          if (!n) {
            oversize_error = n.error();
            break;
          }
          if (*n == 0) break;
          // Echo in pieces of 1,500 bytes: our write boundaries differ from their messages.
          for (std::size_t off = 0; off < *n; off += 1500) {
            const std::size_t len = std::min<std::size_t>(1500, *n - off);
            if (!co_await (*s)->async_write(base::ByteSpan(buf).subspan(off, len))) break;
          }
        }
      },
      asio::detached);
  auto work = asio::make_work_guard(io);
  std::thread server([&] { io.run(); });
  std::vector<std::string> argv{"/usr/bin/python3", PORTAL_WS_PEER, "client", url};
  if (pki != nullptr) argv.push_back(*pki / "ca.pem");
  const auto r = portal::test::run_process(argv);
  work.reset();
  asio::post(io, [&] { (*listener)->close(); });
  io.stop();
  server.join();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(oversize_error) << "the oversize message must fail our reader";
}

TEST(WebSocketInterop, TheirClientOurServer) { their_client_our_server(nullptr); }

TEST(WebSocketInterop, TheirClientOurServerOverWss) {
  portal::test::TestPki pki;
  their_client_our_server(&pki);
}

// Our client against their server: their echo re-splits the stream into 1,000-byte messages.
// With a PKI: over wss://, our client verifying their certificate with the test CA.
void our_client_their_server(const portal::test::TestPki* pki) {
  auto host = portal::test::load_build_plugins();
  auto ws = ws_factory(*host);
  ASSERT_TRUE(ws);
  asio::io_context io;
  std::vector<std::string> peer{"/usr/bin/python3", PORTAL_WS_PEER, "server"};
  Settings client_settings;
  if (pki != nullptr) {
    peer.push_back(*pki / "relay.pem");
    peer.push_back(*pki / "relay.key");
    client_settings.emplace("ca_file", *pki / "ca.pem");
  }
  const std::string scheme = pki != nullptr ? "wss" : "ws";
  auto spawned = portal::test::spawn_with_stream(io.get_executor(), peer);
  auto& child = spawned.first;  // no structured binding: clang 14 cannot capture one
  auto& control = spawned.second;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // The peer prints "port N" on its stdout when it listens.
        std::string line;
        Bytes c(1);
        while (line.find('\n') == std::string::npos) {
          auto n = co_await control->async_read_some(c);
          if (!n || *n == 0) break;
          line.push_back(static_cast<char>(c[0]));
        }
        EXPECT_EQ(line.rfind("port ", 0), 0u) << line;
        const std::string url =
            scheme + "://127.0.0.1:" + line.substr(5, line.size() - 6) + "/relay";
        auto s = co_await ws->async_connect(io.get_executor(), *parse_uri(url), client_settings);
        EXPECT_TRUE(s) << (s ? "" : s.error().message());
        if (!s) co_return;
        Bytes data(256 * 1024);
        for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<base::Byte>(i * 13);
        // Writes of 10,000 bytes: each one of our messages; they answer in 1,000-byte messages.
        asio::co_spawn(
            io,
            [&, st = s->get()]() -> asio::awaitable<void> {
              for (std::size_t off = 0; off < data.size(); off += 10'000) {
                const std::size_t len = std::min<std::size_t>(10'000, data.size() - off);
                EXPECT_TRUE(co_await st->async_write(base::ByteSpan(data).subspan(off, len)));
              }
            },
            asio::detached);
        Bytes back;
        Bytes buf(3000);
        while (back.size() < data.size()) {
          auto n = co_await (*s)->async_read_some(buf);
          EXPECT_TRUE(n);
          if (!n || *n == 0) break;
          back.insert(back.end(), buf.begin(), buf.begin() + static_cast<long>(*n));
        }
        EXPECT_EQ(back, data);
        // Close handshake with code 1000: their side sees a normal close; we read the end.
        EXPECT_TRUE(co_await (*s)->async_shutdown_write());
        done = true;
      },
      asio::detached);
  for (int i = 0; i < 300 && !done; ++i) io.run_for(100ms);
  EXPECT_TRUE(done);
  control->close();  // closes the peer's stdin: it exits
  io.run_for(100ms);
  EXPECT_EQ(child.wait(), 0);
}

TEST(WebSocketInterop, OurClientTheirServer) { our_client_their_server(nullptr); }

TEST(WebSocketInterop, OurClientTheirServerOverWss) {
  portal::test::TestPki pki;
  our_client_their_server(&pki);
}

}  // namespace
}  // namespace portal::transport
