// SPDX-License-Identifier: Apache-2.0
// A host program that runs a Portal relay inside its own event loop (docs/embedding.md):
// - the relay's config is built in code (no file), from the library's defaults;
// - the relay's log lines go to the host's own sink;
// - the relay shares the host's io_context with the host's own work (here a status line every
//   few seconds, read from Relay::stats());
// - SIGINT or SIGTERM drains the relay gracefully, then the loop ends.
//
//   portal-example-embed-relay [PLUGIN_DIR]
//
// It listens on tcp://127.0.0.1:0 and ws://127.0.0.1:0/relay (ports chosen by the system) and
// prints one "listening <uri>" line per listener. Without PLUGIN_DIR, plugins come from the
// Portal installation it was built against (or <exe>/../lib/portal/plugins).

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "portal/base/log.hpp"
#include "portal/config/relay_config.hpp"
#include "portal/relay/relay.hpp"

namespace asio = boost::asio;
namespace relay = portal::relay;
using portal::base::LogLevel;

namespace {

// The host's logging: its own prefix and format. A real host would forward to its logger.
void host_log(LogLevel level, std::string_view component, std::string_view line) {
  std::fprintf(stderr, "[embed-relay] %.*s %.*s: %.*s\n",
               static_cast<int>(portal::base::to_string(level).size()),
               portal::base::to_string(level).data(), static_cast<int>(component.size()),
               component.data(), static_cast<int>(line.size()), line.data());
}

// The host's own periodic work on the same event loop as the relay.
void report_every(asio::steady_timer& timer, const relay::Relay& server) {
  timer.expires_after(std::chrono::seconds(5));
  timer.async_wait([&timer, &server](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled at shutdown
    const auto s = server.stats();
    std::fprintf(stderr, "[embed-relay] status: %zu leases, %zu connections, %zu relayed streams\n",
                 s.leases, s.connections, s.relayed_streams);
    report_every(timer, server);
  });
}

}  // namespace

int main(int argc, char** argv) {
  portal::base::set_log_sink(host_log);
  portal::base::set_log_level(LogLevel::Info);

  // The config, in code: the library's defaults with loopback listeners on system-chosen ports.
  portal::config::RelayConfig cfg;
  cfg.listeners = {"tcp://127.0.0.1:0", "ws://127.0.0.1:0/relay"};
  if (argc > 1) {
    cfg.plugin_dirs = {argv[1]};
  } else if (std::string_view(PORTAL_EXAMPLE_PLUGIN_DIR).size() > 0) {
    cfg.plugin_dirs = {PORTAL_EXAMPLE_PLUGIN_DIR};
  }
  cfg.portal_url.clear();  // no browser path in this host
  cfg.limits.max_leases = 1000;

  std::string error;
  auto assembly = relay::assemble(cfg, error);
  if (!assembly) {
    std::fprintf(stderr, "embed-relay: %s\n", error.c_str());
    return 1;
  }

  asio::io_context io(1);
  relay::Relay server(io.get_executor(), std::move(*assembly->identity), assembly->options);
  const auto bound = relay::listen_all(server, *assembly, io.get_executor(), error);
  if (!error.empty()) {
    std::fprintf(stderr, "embed-relay: cannot listen on %s\n", error.c_str());
    return 1;
  }
  for (const auto& uri : bound) std::printf("listening %s\n", uri.to_string().c_str());
  std::fflush(stdout);

  asio::steady_timer status(io);
  report_every(status, server);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    status.cancel();
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { co_await server.shutdown(std::chrono::seconds(5)); },
        [&](const std::exception_ptr&) { io.stop(); });
  });

  io.run();
  std::fprintf(stderr, "[embed-relay] stopped\n");
  return 0;
}
