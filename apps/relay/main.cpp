// SPDX-License-Identifier: Apache-2.0
// portal-relay: the relay server. Embedded defaults unless --config FILE; flags override the
// config; one `listening <uri>` line per listener on stdout; logs on stderr; SIGINT/SIGTERM
// drain and exit 0.

#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>

#include <functional>
#include <iostream>
#include <sstream>

#include "../common/cli_main.hpp"
#include "../common/config_file.hpp"
#include "../common/plugin_list.hpp"
#include "portal/base/log.hpp"
#include "portal/base/uri.hpp"
#include "portal/config/relay_config.hpp"
#include "portal/plugin/host.hpp"
#include "portal/relay/relay.hpp"
#include "portal/stream/logged.hpp"
#include "portal/transport/transport.hpp"
#include "portal/version.hpp"

namespace {

using portal::apps::UsageError;
namespace config = portal::config;

// One line per plugin (id, kind, version, file) and per refused file (file, reason).
// Exit status 0 when nothing was refused, 1 otherwise.
int list_plugins(const std::vector<std::string>& dirs) {
  portal::plugin::HostOptions options;
  options.directories.assign(dirs.begin(), dirs.end());
  portal::plugin::Host host(options);
  host.load_all();
  return portal::apps::print_plugins(host) ? 0 : 1;
}

// Every connection takes a descriptor: the soft limit (often 1024) is raised to the hard one.
void raise_descriptor_limit() {
  using portal::base::LogLevel;
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    portal::base::log(LogLevel::Warn, "relay",
                      std::string("cannot read the descriptor limit: ") + std::strerror(errno));
    return;
  }
  const auto show = [](rlim_t v) {
    return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v);
  };
  const rlim_t before = rl.rlim_cur;
  if (rl.rlim_cur != rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      portal::base::log(LogLevel::Warn, "relay",
                        "cannot raise the descriptor limit from " + show(before) + " to " +
                            show(rl.rlim_max) + ": " + std::strerror(errno));
      return;
    }
    portal::base::log(LogLevel::Info, "relay",
                      "descriptor limit raised from " + show(before) + " to " + show(rl.rlim_cur));
  } else {
    portal::base::log(LogLevel::Info, "relay",
                      "descriptor limit " + show(rl.rlim_cur) + " (already the hard limit)");
  }
}

int serve(const config::RelayConfig& cfg) {
  namespace asio = boost::asio;
  namespace relay = portal::relay;
  using portal::base::LogLevel;
  portal::base::set_log_level(
      portal::base::parse_log_level(cfg.log_level).value_or(portal::base::LogLevel::Info));
  std::string error;
  auto assembly = relay::assemble(cfg, error, /*create_identity=*/true);
  if (!assembly) throw UsageError(error);
  for (const auto& w : assembly->warnings) {
    portal::base::log(LogLevel::Warn, "plugin", "refused " + w);
  }
  const std::string id = assembly->identity->id();
  if (assembly->ephemeral_identity) {
    portal::base::log(
        LogLevel::Info, "relay",
        "identity " + id + " (ephemeral: no identity_key_file configured, a new one each start)");
  } else if (assembly->identity_created) {
    portal::base::log(LogLevel::Info, "relay",
                      "identity " + id + " created in " + cfg.identity_key_file + " (first start)");
  } else {
    portal::base::log(LogLevel::Info, "relay", "identity " + id + " from " + cfg.identity_key_file);
  }
  raise_descriptor_limit();
  if (assembly->options.threads > 1) {
    portal::base::log(
        LogLevel::Info, "relay",
        "serving connections on " + std::to_string(assembly->options.threads) + " threads");
  }
  asio::io_context io(1);
  if (!relay::open_directory(*assembly, io.get_executor(), error)) throw UsageError(error);
  if (assembly->options.directory) {
    portal::base::log(LogLevel::Info, "relay",
                      "fleet directory: " + cfg.directory +
                          " (lease names and signed requests "
                          "are checked fleet-wide)");
  }
  relay::Relay server(io.get_executor(), std::move(*assembly->identity), assembly->options);
  const auto bound = relay::listen_all(server, *assembly, io.get_executor(), error);
  if (!error.empty()) throw UsageError("cannot listen on " + error);
  for (const auto& uri : bound) std::cout << "listening " << uri.to_string() << '\n';
  std::cout.flush();

  asio::signal_set signals(io, SIGINT, SIGTERM);
  // Nothing runs after a stop: the credential checks end with the relay.
  const auto drain = std::chrono::milliseconds(cfg.limits.drain_timeout_ms);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    portal::base::log(LogLevel::Info, "relay",
                      std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
    // A second signal stops at once.
    signals.async_wait([&](const boost::system::error_code& e2, int) {
      if (!e2) io.stop();
    });
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { co_await server.shutdown(drain); },
        // Stops however the drain ends: a failure is logged, and the process still exits.
        [&](std::exception_ptr e) {
          portal::stream::logged("relay", "graceful shutdown")(e);
          io.stop();
        });
  });
  // TLS credentials: SIGHUP reloads them, and a check every few seconds reloads the files that
  // changed (an ACME client's renewal); live connections keep what they started with.
  asio::signal_set hangup(io, SIGHUP);
  std::function<void()> on_hangup = [&] {
    hangup.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      portal::base::log(LogLevel::Info, "relay",
                        "received SIGHUP: reloading TLS credentials, the allow and bans files");
      server.reload_credentials(false);
      (void)server.reload_files(false);
      on_hangup();
    });
  };
  on_hangup();
  // The allow file (access.allowed_file) is checked every second, the TLS files every five.
  asio::steady_timer file_check(io);
  unsigned ticks = 0;
  std::function<void()> check_files = [&] {
    file_check.expires_after(std::chrono::seconds(1));
    file_check.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      (void)server.reload_files(true);
      if (++ticks % 5 == 0) server.reload_credentials(true);
      check_files();
    });
  };
  check_files();
  io.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Portal relay: forwards end-to-end encrypted connections between Portal clients",
               "portal-relay"};
  portal::apps::use_one_line_errors(app);
  bool version = false;
  bool list = false;
  bool print_config = false;
  std::string config_file;
  std::string check_file;
  std::vector<std::string> listen;
  std::vector<std::string> plugin_dirs;
  std::string tls_cert;
  std::string tls_key;
  app.add_flag("--version", version, "Print the version and exit");
  app.add_option("--config", config_file,
                 "Read this JSON config over the embedded defaults (no file is read otherwise)")
      ->type_name("FILE");
  app.add_option("--check-config", check_file,
                 "Validate FILE and print file, key and reason for each problem; status 1 if any")
      ->type_name("FILE");
  app.add_flag("--print-config", print_config,
               "Print the effective configuration (defaults, --config, flags) as JSON and exit");
  app.add_option("--listen", listen,
                 "Listen on URI instead of the configured listeners (repeatable)")
      ->type_name("URI");
  app.add_flag("--list-plugins", list,
               "List the plugins found (id, kind, version, file) and every refused file, then "
               "exit; status 1 if any file was refused");
  app.add_option("--plugin-dir", plugin_dirs,
                 "Load plugins from DIR instead of <prefix>/lib/portal/plugins (repeatable)")
      ->type_name("DIR");
  app.add_option("--tls-cert", tls_cert,
                 "PEM certificate (and chain) of the tls:// and wss:// listeners")
      ->type_name("FILE");
  app.add_option("--tls-key", tls_key, "PEM private key of the tls:// and wss:// listeners")
      ->type_name("FILE");
  std::string portal_url;
  auto* portal_url_option =
      app.add_option(
             "--portal-url", portal_url,
             "The relay's public base URL, e.g. https://portal.example.com; browser app hosts "
             "are <name>.<its host> (default http://localhost:4017; \"\" turns the "
             "browser path off)")
          ->type_name("URL");

  // Flags override config keys.
  auto apply_flags = [&](config::RelayConfig& cfg) {
    const bool portal_url_given = portal_url_option->count() > 0;
    if (!listen.empty()) {
      for (const auto& uri : listen) {
        if (auto u = portal::transport::parse_uri(uri); !u) {
          throw UsageError("--listen '" + uri + "': " + u.error().message());
        }
      }
      cfg.listeners = listen;
    }
    if (!plugin_dirs.empty()) cfg.plugin_dirs = plugin_dirs;
    if (portal_url_given) {
      if (!portal_url.empty() && !portal::base::parse_http_url(portal_url)) {
        throw UsageError("--portal-url '" + portal_url + "': not http(s)://host[:port]");
      }
      cfg.portal_url = portal_url;
    }
    for (const char* scheme : {"tls", "wss"}) {
      if (!tls_cert.empty()) cfg.transport_settings[scheme]["cert_file"] = tls_cert;
      if (!tls_key.empty()) cfg.transport_settings[scheme]["key_file"] = tls_key;
    }
  };

  return portal::apps::run_cli(app, argc, argv, [&]() -> int {
    if (version) {
      std::cout << "portal-relay " << portal::kVersion << " (" << portal::kWireProtocol
                << " wire protocol)\n";
      return 0;
    }
    if (!check_file.empty()) {
      config::RelayConfig cfg;
      const auto problems = portal::apps::load_config_file(check_file, cfg);
      for (const auto& p : problems) std::cout << p.to_string(check_file) << '\n';
      if (!problems.empty()) return 1;
      // Then what the file names: plugins, transport settings (TLS files: readable, key
      // matching the certificate, not expired, key not world-readable) and the identity.
      apply_flags(cfg);
      std::string error;
      const auto checked = portal::relay::assemble(cfg, error);
      if (!checked) {
        std::cout << check_file << ": " << error << '\n';
        return 1;
      }
      if (checked->identity_created) {
        std::cout << check_file << ": identity_key_file " << cfg.identity_key_file
                  << " does not exist yet: the relay creates it at its first start\n";
      }
      std::cout << check_file << ": ok\n";
      return 0;
    }
    config::RelayConfig cfg;
    if (!config_file.empty()) {
      const auto problems = portal::apps::load_config_file(config_file, cfg);
      if (!problems.empty()) {
        // One line per problem on stderr, then the summary line.
        for (std::size_t i = 1; i < problems.size(); ++i) {
          std::cerr << "portal-relay: error: " << problems[i].to_string(config_file) << '\n';
        }
        throw UsageError(problems.front().to_string(config_file));
      }
    }
    apply_flags(cfg);
    if (print_config) {
      std::cout << config::to_json(cfg);
      return 0;
    }
    if (list) return list_plugins(cfg.plugin_dirs);
    return serve(cfg);
  });
}
