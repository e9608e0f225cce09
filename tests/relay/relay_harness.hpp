// SPDX-License-Identifier: Apache-2.0
#pragma once

// Integration harness: the real portal-relay binary with the real plugins, and clients built
// from the framework's control core over the real transports and yamux.

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "portal/base/random.hpp"
#include "portal/client/control.hpp"
#include "portal/mux/mux.hpp"
#include "portal/plugin/host.hpp"
#include "portal/transport/transport.hpp"
#include "support/plugins.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace portal::test {

namespace asio = boost::asio;

/// GET `url` with curl (10 s at most); the body. `extra` goes before the URL.
inline std::string curl(const std::string& url, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{"/usr/bin/curl", "-sS", "--max-time", "10"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(url);
  const auto r = run_process(argv);
  EXPECT_EQ(r.exit_code, 0) << url << ": " << r.err;
  return r.out;
}

/// The value of one metrics line (`name{labels}`), or -1 when the relay does not print it.
inline long long metric_value(const std::string& metrics, const std::string& series) {
  const auto at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stoll(metrics.substr(at + series.size() + 2));
}

/// portal-relay with `config` (JSON text) on `ws_listen` and `tcp_listen` (by default
/// ws://127.0.0.1:0/relay and tcp://127.0.0.1:0).
class RelayProcess {
 public:
  /// `shell` (optional): bash commands run before the relay replaces the shell (same PID),
  /// e.g. "ulimit -n 256".
  explicit RelayProcess(const std::string& config = "{}",
                        const std::string& ws_listen = "ws://127.0.0.1:0/relay",
                        const std::string& tcp_listen = "tcp://127.0.0.1:0",
                        const std::string& shell = "") {
    const auto cfg = dir_ / "relay.json";
    std::ofstream(cfg) << config;
    std::vector<std::string> argv{bin_path("portal-relay"),
                                  "--config",
                                  cfg.string(),
                                  "--listen",
                                  ws_listen,
                                  "--listen",
                                  tcp_listen,
                                  "--plugin-dir",
                                  PORTAL_BUILD_PLUGIN_DIR};
    if (!shell.empty()) {
      argv.insert(argv.begin(), {"/bin/bash", "-c", shell + "; exec \"$0\" \"$@\""});
    }
    child_ = std::make_unique<Child>(argv, (dir_ / "out").string(), (dir_ / "err").string());
    // An admin listener (admin_listen) is printed after the others.
    const std::size_t lines = config.find("\"admin_listen\"") != std::string::npos ? 3 : 2;
    if (!child_->wait_for_lines("listening ", lines, 20'000)) {
      ADD_FAILURE() << "relay did not start:\n" << child_->out() << child_->err();
      return;
    }
    const std::string out = child_->out();
    std::size_t pos = 0;
    while ((pos = out.find("listening ", pos)) != std::string::npos) {
      const auto end = out.find('\n', pos);
      const std::string uri = out.substr(pos + 10, end - pos - 10);
      if (uri.rfind("http://", 0) == 0 || uri.rfind("https://", 0) == 0) {
        admin = uri;
      } else {
        (uri.rfind("ws://", 0) == 0 || uri.rfind("wss://", 0) == 0 ? ws : tcp) = uri;
      }
      pos = end;
    }
    auto parsed = transport::parse_uri(ws);
    if (parsed) {
      http = std::string(parsed->scheme == "wss" ? "https" : "http") +
             "://127.0.0.1:" + std::to_string(parsed->port);
    }
  }

  [[nodiscard]] bool alive() { return child_->running(); }
  Child& child() { return *child_; }
  [[nodiscard]] std::string err() const { return child_->err(); }

  std::string ws;
  std::string tcp;
  std::string http;   ///< http://127.0.0.1:<ws port> (https:// for a wss:// listener)
  std::string admin;  ///< the admin listener's URI (admin_listen), when configured

 private:
  TempDir dir_;
  std::unique_ptr<Child> child_;
};

/// A `portal` subcommand in the background with the build's plugins, started once `ready` begins
/// a line of its stdout.
class Portal {
 public:
  Portal(std::vector<std::string> args, const std::string& ready) {
    std::vector<std::string> argv{bin_path("portal")};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--plugin-dir", PORTAL_BUILD_PLUGIN_DIR});
    child_ = std::make_unique<Child>(argv, (*dir_ / "out").string(), (*dir_ / "err").string());
    if (!child_->wait_for_lines(ready, 1, 20'000)) {
      ADD_FAILURE() << "portal " << args.front() << " did not start:\n"
                    << child_->out() << child_->err();
    }
  }
  [[nodiscard]] std::string out() const { return child_->out(); }
  [[nodiscard]] std::string err() const { return child_->err(); }
  Child& child() { return *child_; }
  [[nodiscard]] int pid() const { return child_->pid(); }
  /// The port of `portal connect`'s "listening 127.0.0.1:PORT -> ..." line (0 when none).
  [[nodiscard]] std::uint16_t port() const {
    const std::string o = out();
    const auto colon = o.find(':');
    return colon == std::string::npos
               ? 0
               : static_cast<std::uint16_t>(std::atoi(o.c_str() + colon + 1));
  }

 private:
  std::unique_ptr<TempDir> dir_ = std::make_unique<TempDir>();  // movable
  std::unique_ptr<Child> child_;
};

/// The client side: an io_context, the build's plugins, and helpers to run coroutines.
/// The dialer's side: one connection request for `id` on `dialer`; counts ACCEPTED and
/// REJECTED answers and keeps accepted streams in `streams`.
inline asio::awaitable<void> dial_and_count(
    std::shared_ptr<mux::Session> dialer, std::string id, std::shared_ptr<int> accepted,
    std::shared_ptr<int> rejected,
    std::shared_ptr<std::vector<std::unique_ptr<stream::ByteStream>>> streams) {
  auto d = co_await client::request_connection(*dialer, id);
  if (!d) co_return;
  if (d->code == wire::ResponseCode::Accepted) {
    ++*accepted;
    streams->push_back(std::move(d->stream));
  } else if (d->code == wire::ResponseCode::Rejected) {
    ++*rejected;
  }
}

class RelayClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = load_build_plugins();
    auto p = host_->find_provider(plugin::Kind::Mux, "yamux");
    ASSERT_TRUE(p);
    auto f = (*p)->factory<mux::MuxFactory>();
    ASSERT_TRUE(f);
    mux_ = *f;
  }
  void TearDown() override {
    for (auto& s : sessions_) s->close();
    io_.restart();
    io_.run_for(std::chrono::milliseconds(200));
  }

  /// Runs `a` on the io_context until it completes (at most `timeout`).
  template <class T>
  T run(asio::awaitable<T> a, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    std::optional<T> out;
    asio::co_spawn(io_, std::move(a), [&](std::exception_ptr e, T v) {
      if (e) std::rethrow_exception(e);
      out.emplace(std::move(v));
    });
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!out && std::chrono::steady_clock::now() < deadline) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(20));
    }
    if (!out) throw std::runtime_error("timed out");
    return std::move(*out);
  }

  /// Lets spawned coroutines run for `d`.
  void pump(std::chrono::milliseconds d) {
    io_.restart();
    io_.run_for(d);
  }

  /// A yamux client session to `uri` (ws:// or tcp://).
  asio::awaitable<base::Result<std::shared_ptr<mux::Session>>> connect(std::string uri,
                                                                       mux::Settings s = {}) {
    auto tf = transport::resolve(*host_, uri);
    if (!tf) co_return tf.error();
    auto parsed = transport::parse_uri(uri);
    auto st = co_await (*tf)->async_connect(io_.get_executor(), *parsed, {});
    if (!st) co_return st.error();
    auto session = mux_->create(std::move(*st), mux::Role::Client, s);
    if (session) sessions_.push_back(*session);
    co_return session;
  }

  std::shared_ptr<mux::Session> session(const std::string& uri, mux::Settings s = {}) {
    auto r = run(connect(uri, std::move(s)));
    if (!r) throw std::runtime_error("connect " + uri + ": " + r.error().message());
    return *r;
  }

  identity::Credential credential() {
    auto c = identity::Credential::generate(base::OsRandom::instance());
    if (!c) throw std::runtime_error("no identity");
    return std::move(*c);
  }

  wire::ResponseCode update(mux::Session& s, const identity::Credential& who, std::string name,
                            std::vector<std::string> alpn = {"http/1.1"}) {
    wire::Lease lease;
    lease.name = std::move(name);
    lease.alpn = std::move(alpn);
    lease.expires = base::unix_seconds(base::SystemClock::instance().system_now()) + 30;
    auto r = run(client::update_lease(s, who, std::move(lease), base::OsRandom::instance(),
                                      base::SystemClock::instance()));
    if (!r) throw std::runtime_error("lease update: " + r.error().message());
    return *r;
  }

  wire::RelayInfo info(mux::Session& s) {
    auto r = run(client::relay_info(s));
    if (!r) throw std::runtime_error("relay info: " + r.error().message());
    return *r;
  }

  /// The lease holder's side: answers the n-th forwarded request (0-based) with `code_of(n)`,
  /// after `delay`; on ACCEPTED hands the relayed stream to `handler` (may be empty). Returns
  /// the count of requests seen so far.
  using Handler = std::function<asio::awaitable<void>(std::unique_ptr<stream::ByteStream>)>;
  using CodeOf = std::function<wire::ResponseCode(int n)>;
  std::shared_ptr<int> hold(std::shared_ptr<mux::Session> s, CodeOf code_of, Handler handler,
                            std::chrono::milliseconds delay = {}) {
    auto seen = std::make_shared<int>(0);
    asio::co_spawn(io_,
                   hold_loop(std::move(s), std::move(code_of), std::move(handler), delay, seen),
                   asio::detached);
    return seen;
  }
  /// The same, with one code for every request.
  std::shared_ptr<int> hold(std::shared_ptr<mux::Session> s, wire::ResponseCode code,
                            Handler handler) {
    return hold(
        std::move(s), [code](int) { return code; }, std::move(handler));
  }
  /// A handler that keeps every relayed stream in `kept` (open until the test drops them).
  static Handler keep_in(std::shared_ptr<std::vector<std::unique_ptr<stream::ByteStream>>> kept) {
    return [kept](std::unique_ptr<stream::ByteStream> s) -> asio::awaitable<void> {
      kept->push_back(std::move(s));
      co_return;
    };
  }

  // Named coroutines with their arguments by value: a lambda coroutine called in place leaves
  // its captures dangling once it first suspends.
  static asio::awaitable<void> hold_loop(std::shared_ptr<mux::Session> s, CodeOf code_of,
                                         Handler handler, std::chrono::milliseconds delay,
                                         std::shared_ptr<int> seen) {
    for (;;) {
      auto st = co_await s->async_accept();
      if (!st) co_return;
      asio::co_spawn(co_await asio::this_coro::executor,
                     answer(std::move(*st), code_of, handler, delay, seen), asio::detached);
    }
  }
  static asio::awaitable<void> answer(std::unique_ptr<stream::ByteStream> raw, CodeOf code_of,
                                      Handler handler, std::chrono::milliseconds delay,
                                      std::shared_ptr<int> seen) {
    auto in = co_await client::read_incoming(std::move(raw));
    if (!in) co_return;
    const int n = (*seen)++;
    if (delay.count() > 0) {
      asio::steady_timer t(co_await asio::this_coro::executor, delay);
      (void)co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    auto r = co_await client::answer_incoming(std::move(*in), code_of(n));
    if (r && *r && handler) co_await handler(std::move(*r));
  }

  asio::io_context io_;
  std::unique_ptr<plugin::Host> host_;
  std::shared_ptr<mux::MuxFactory> mux_;
  std::vector<std::shared_ptr<mux::Session>> sessions_;
};

}  // namespace portal::test
