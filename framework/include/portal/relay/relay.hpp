// SPDX-License-Identifier: Apache-2.0
#pragma once

// The relay server (portal-v1 §4, §6, §7, §10): listeners → mux sessions → one control core per
// accepted stream → forwarded connection requests → spliced streams, plus the lease table, its
// sweep, every limit of the config, the HTTP surface and graceful shutdown.
//
// Threading: a relay and everything it serves run on one executor (an io_context run by one
// thread, or a strand). No thread per connection or stream. See docs/relay.md and ADR 0004.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "portal/base/clock.hpp"
#include "portal/base/export.hpp"
#include "portal/config/relay_config.hpp"
#include "portal/identity/credential.hpp"
#include "portal/mux/mux.hpp"
#include "portal/plugin/host.hpp"
#include "portal/relay/core.hpp"
#include "portal/transport/transport.hpp"

namespace portal::relay {

/// A loaded plugin, as /metrics reports it.
struct PluginInfo {
  std::string id;
  std::string kind;
  std::string version;
};

struct Options {
  config::RelayLimits limits;
  std::vector<std::string> advertise;       ///< RelayInfo.address and lease page links
  std::vector<std::string> reserved_names;  ///< lease names nobody may register
  /// The browser path (docs/browser.md). Empty portal_url: no app hosts are served.
  std::string portal_url;
  std::string app_hosts;     ///< "*.<host>"; empty: from portal_url
  std::string frontend_dir;  ///< the browser client's files; empty: next to the executable
  /// Reverse proxies whose X-Forwarded-For names the client (ws://, wss://); parsed CIDRs.
  std::vector<std::string> trusted_proxies;
  std::shared_ptr<mux::MuxFactory> mux;
  mux::Settings mux_settings;
  std::vector<PluginInfo> plugins;
  const base::Clock* clock = nullptr;  ///< null: the system clock
  std::chrono::milliseconds sweep_interval{30'000};
  std::size_t splice_chunk = 32 * 1024;  ///< copy buffer per spliced direction
};

class PORTAL_API Relay {
 public:
  Relay(boost::asio::any_io_executor executor, identity::Credential identity, Options options);
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;
  /// Closes every listener, session and stream at once (use shutdown() for a graceful stop).
  ~Relay();

  [[nodiscard]] const std::string& id() const noexcept;

  /// Starts accepting on `listener` and registers the HTTP routes when its transport speaks
  /// HTTP. Returns the bound address. Call from the executor.
  transport::Uri serve(std::unique_ptr<transport::Listener> listener);

  /// Asks every listener with credentials on disk (TLS certificate and key) to reload them; with
  /// `if_changed`, only those whose files changed. Logs one line per listener reloaded, or
  /// refused (the old credentials stay). Live connections keep theirs. Call from the executor.
  void reload_credentials(bool if_changed);

  /// Graceful shutdown: stops accepting, sends GO_AWAY on every session, waits up to `drain`
  /// for relayed streams to finish, then closes everything.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds drain);

  [[nodiscard]] Stats stats() const;
  /// The HTTP surface, also callable directly (embedders, tests).
  [[nodiscard]] std::string metrics_text() const;
  [[nodiscard]] std::string leases_json() const;
  [[nodiscard]] std::string relay_json() const;
  [[nodiscard]] std::string lease_page() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

/// A relay stack assembled from a config: plugins loaded, the mux and every listener's transport
/// resolved, all settings validated, the identity loaded (or created). Nothing is bound yet.
struct Assembly {
  std::unique_ptr<plugin::Host> host;
  std::shared_ptr<mux::MuxFactory> mux;
  struct Listen {
    transport::Uri uri;
    std::shared_ptr<transport::TransportFactory> transport;
    transport::Settings settings;
  };
  std::vector<Listen> listeners;
  std::unique_ptr<identity::Credential> identity;
  bool ephemeral_identity = false;
  /// identity_key_file did not exist: a new identity was written there (create_identity), or,
  /// in a check, will be at the first start.
  bool identity_created = false;
  std::vector<std::string> warnings;  ///< refused plugin files, one line each
  Options options;
};

/// Builds the stack. On failure returns null and sets `error` to one line naming the key, file
/// or plugin at fault. A configured identity_key_file that does not exist is created (mode 0600,
/// a new identity) when `create_identity` is set, as at a relay's first start; otherwise (a
/// config check) it is left alone and a new identity is used. A key file that exists must be
/// usable: too open, unreadable or not a key is an error.
[[nodiscard]] PORTAL_API std::unique_ptr<Assembly> assemble(const config::RelayConfig& config,
                                                            std::string& error,
                                                            bool create_identity = false);

/// Binds every listener of `assembly` and serves it on `relay`; returns the bound addresses.
/// On failure returns the listeners bound so far and sets `error` ("<uri>: <reason>").
PORTAL_API std::vector<transport::Uri> listen_all(Relay& relay, Assembly& assembly,
                                                  boost::asio::any_io_executor executor,
                                                  std::string& error);

}  // namespace portal::relay
