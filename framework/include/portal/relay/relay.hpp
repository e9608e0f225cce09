// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The relay server (portal-v1 §4, §6, §7, §10): listeners → mux sessions → one control core per
/// accepted stream → forwarded connection requests → spliced streams, plus the lease table, its
/// sweep, every limit of the config, the HTTP surface and graceful shutdown.
///
/// Threading: the relay's state (the core: leases, counts, metrics) lives on the executor it is
/// constructed with (an io_context run by one thread, or a strand). With Options::threads = 1
/// (the default) everything it serves runs there too; with more, connections are spread over
/// that executor and threads - 1 event loops the relay runs itself (ADR 0013). No thread per
/// connection or stream. See docs/relay.md and ADR 0004.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "portal/base/clock.hpp"
#include "portal/base/export.hpp"
#include "portal/cipher/aead_factory.hpp"
#include "portal/config/relay_config.hpp"
#include "portal/directory/directory.hpp"
#include "portal/identity/credential.hpp"
#include "portal/mux/mux.hpp"
#include "portal/plugin/host.hpp"
#include "portal/relay/core.hpp"
#include "portal/transport/transport.hpp"

namespace portal::relay {

/// A loaded plugin, as /metrics reports it.
struct PluginInfo {
  /// The plugin's unique dotted id (plugin::Plugin::id()).
  std::string id;
  /// "transport", "cipher", "mux", "directory" or "extension" (plugin::to_string(Kind)).
  std::string kind;
  /// The plugin's own version string.
  std::string version;
};

/// What a Relay needs besides its executor and identity; relay::assemble() fills it from a
/// config::RelayConfig, an embedder may fill it in code.
struct Options {
  /// Every limit the relay enforces (docs/relay.md).
  config::RelayLimits limits;
  std::vector<std::string> advertise;       ///< RelayInfo.address and lease page links
  std::vector<std::string> reserved_names;  ///< lease names nobody may register
  /// The browser path (docs/browser.md). Empty portal_url: no app hosts are served.
  std::string portal_url;
  std::string app_hosts;     ///< "*.<host>"; empty: from portal_url
  std::string frontend_dir;  ///< the browser client's files; empty: next to the executable
  /// Serve `/robots.txt` (disallow everything) and add `X-Robots-Tag: noindex, nofollow` to
  /// every HTTP answer (RelayConfig::noindex).
  bool noindex = false;
  /// Who may register (access.mode, ADR 0017 §2) and the identity IDs allowed by the config.
  AccessMode access = AccessMode::Open;
  std::set<std::string> allowed_ids;  ///< see access
  /// access.allowed_file: more allowed IDs, one per line (`#` comments); read by assemble(),
  /// re-read by reload_files() when it changed, and approvals are added to it. Empty: none.
  std::string allowed_file;
  std::set<std::string> allowed_file_ids;  ///< its content when the relay starts
  /// bans_file: the bans (JSON), read by assemble() into `bans` and rewritten atomically after
  /// every change through the admin API. Empty: bans live in memory only.
  std::string bans_file;
  std::vector<Ban> bans;  ///< the bans in force at start
  /// Per-identity byte rates set through the admin API, from the bans file (bytes per second).
  std::map<std::string, std::uint64_t> rates;
  /// The admin API's bearer token (admin_token_file's content, ADR 0017 §1). Empty: the admin
  /// API is not served. serve_admin() serves it, with /metrics and /api.
  std::string admin_token;
  /// An admin listener is configured (admin_listen): the public listeners then serve neither
  /// /metrics nor /api/...
  bool admin_separate = false;
  /// Reverse proxies whose X-Forwarded-For names the client (ws://, wss://); parsed CIDRs.
  std::vector<std::string> trusted_proxies;
  /// The mux plugin's factory: one session per accepted connection. Required.
  std::shared_ptr<mux::MuxFactory> mux;
  /// Settings for every mux session, already validated by the factory.
  mux::Settings mux_settings;
  /// The loaded plugins, reported by /metrics (informational only).
  std::vector<PluginInfo> plugins;
  const base::Clock* clock = nullptr;  ///< null: the system clock
  /// How often expired leases are removed from the table.
  std::chrono::milliseconds sweep_interval{30'000};
  std::size_t splice_chunk = 32 * 1024;  ///< copy buffer per spliced direction
  /// Event loops that serve connections, the relay's executor included (ADR 0013): 1 runs
  /// everything on that executor; N > 1 starts N - 1 threads of the relay's own, joined when the
  /// relay is destroyed. Connections accepted by a transport that uses transport::accept_tcp()
  /// go to the loop with the fewest; others stay on the relay's executor. 0 counts as 1.
  unsigned threads = 1;
  /// A fleet's shared lease directory (docs/adr/0015-relay-fleet.md), opened on the relay's
  /// executor; null: a single relay. With one, `fleet.directory` must be true.
  std::shared_ptr<directory::DirectoryClient> directory;
  /// Fleet membership (heartbeat, peering address); see FleetOptions.
  FleetOptions fleet;
  /// Peer sessions (fleet.peers, ADR 0015 §3): the cipher of their secure channel (the v1
  /// channel's, ChaCha20-Poly1305, from the cipher plugin), and the transports peers are dialed
  /// with, by URI scheme, each with its settings. Needed when `fleet.peers` is not empty.
  std::shared_ptr<cipher::AeadFactory> peer_cipher;
  /// See peer_cipher.
  std::map<std::string,
           std::pair<std::shared_ptr<transport::TransportFactory>, transport::Settings>>
      peer_transports;
};

/// A Portal relay: accepts connections on the listeners given to serve(), runs a mux session on
/// each, answers control requests, keeps the lease table and splices dialers to lease holders. It
/// serves the HTTP surface (/healthz, /metrics, /api/leases, /api/relay, the lease page, the
/// browser path) on listeners whose transport speaks HTTP. Its state lives on the executor given
/// to the constructor, which must be single-threaded; call every member from it. Connections run
/// there too, or on the relay's own threads (Options::threads). See docs/relay.md and
/// docs/embedding.md.
class PORTAL_API Relay {
 public:
  /// A relay on `executor` with `identity` (sent in RelayInfo) and `options`; it accepts nothing
  /// until serve().
  Relay(boost::asio::any_io_executor executor, identity::Credential identity, Options options);
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;
  /// Closes every listener, session and stream at once (use shutdown() for a graceful stop), and
  /// joins the relay's threads (Options::threads).
  ~Relay();

  /// The relay's identity ID (26 characters, base32), as RelayInfo reports it.
  [[nodiscard]] const std::string& id() const noexcept;

  /// Starts accepting on `listener` and registers the HTTP routes when its transport speaks
  /// HTTP. Returns the bound address. Call from the executor.
  transport::Uri serve(std::unique_ptr<transport::Listener> listener);

  /// Serves the admin surface on `listener` (an HTTP listener, admin_listen): /metrics, /api/...
  /// and, with Options::admin_token, the admin API under /api/admin/ (docs/admin.md). Nothing
  /// is relayed there: connections it accepts are closed. Returns the bound address.
  transport::Uri serve_admin(std::unique_ptr<transport::Listener> listener);

  /// Re-reads the operator's files (ADR 0017): the allow file (access.allowed_file), and with
  /// `if_changed` false also the bans file; a file that does not parse is refused with a log
  /// line, and what was in force stays. With `if_changed`, only a file whose modification time
  /// or size changed is read. Returns "" or the problems, one per line. Call from the executor.
  std::string reload_files(bool if_changed);

  /// Asks every listener with credentials on disk (TLS certificate and key) to reload them; with
  /// `if_changed`, only those whose files changed. Logs one line per listener reloaded, or
  /// refused (the old credentials stay). Live connections keep theirs. Call from the executor.
  void reload_credentials(bool if_changed);

  /// Graceful shutdown: stops accepting, sends GO_AWAY on every session, waits up to `drain`
  /// for relayed streams to finish, then closes everything.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds drain);

  /// Current counters and gauges (leases, connections, relayed streams, bytes), copied.
  [[nodiscard]] Stats stats() const;
  /// The HTTP surface, also callable directly (embedders, tests).
  [[nodiscard]] std::string metrics_text() const;
  /// The body /api/leases serves: the unexpired, not hidden leases as JSON, without connection IDs.
  [[nodiscard]] std::string leases_json() const;
  /// The body /api/relay serves: identity, advertised addresses, version, uptime and counts as
  /// JSON.
  [[nodiscard]] std::string relay_json() const;
  /// The HTML lease list `/` serves, every user-supplied string escaped.
  [[nodiscard]] std::string lease_page() const;
  /// Accepted connections (sockets, from accept until they close) on each event loop, the
  /// relay's own executor first (Options::threads entries).
  [[nodiscard]] std::vector<std::size_t> loop_connections() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

/// A relay stack assembled from a config: plugins loaded, the mux and every listener's transport
/// resolved, all settings validated, the identity loaded (or created). Nothing is bound yet.
struct Assembly {
  /// The plugin host: keeps every plugin loaded; destroy it after the relay and its io_context.
  std::unique_ptr<plugin::Host> host;
  /// The mux plugin's factory (also in `options`).
  std::shared_ptr<mux::MuxFactory> mux;
  /// One configured listener, resolved but not bound.
  struct Listen {
    /// The address to listen on, parsed from RelayConfig::listeners.
    transport::Uri uri;
    /// The transport plugin's factory that provides the URI's scheme.
    std::shared_ptr<transport::TransportFactory> transport;
    /// The settings for that scheme (RelayConfig::transport_settings), validated.
    transport::Settings settings;
  };
  /// Every listener of the config, in order; listen_all() binds them.
  std::vector<Listen> listeners;
  /// The admin listener (admin_listen), when configured; listen_all() binds it last.
  std::optional<Listen> admin;
  /// The relay's identity: from identity_key_file, or a new one.
  std::unique_ptr<identity::Credential> identity;
  /// True when no identity_key_file is configured: the identity is new at each start.
  bool ephemeral_identity = false;
  /// identity_key_file did not exist: a new identity was written there (create_identity), or,
  /// in a check, will be at the first start.
  bool identity_created = false;
  /// The directory plugin's factory when the config names one (`directory`), with its
  /// validated settings; open_directory() opens the client into `options.directory`.
  std::shared_ptr<directory::DirectoryFactory> directory;
  directory::Settings directory_settings;  ///< RelayConfig::directory_settings, validated
  std::vector<std::string> warnings;       ///< refused plugin files, one line each
  /// The Relay's options, filled from the config; move it into the Relay's constructor.
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

/// Opens the fleet directory's client of `assembly` (when its config names one) on `executor`,
/// the executor the Relay will be constructed with, into `assembly.options.directory`. The
/// client connects in the background: an engine that is down now is retried. Returns false with
/// `error` set when the plugin refuses to open. Without a directory, does nothing.
[[nodiscard]] PORTAL_API bool open_directory(Assembly& assembly,
                                             boost::asio::any_io_executor executor,
                                             std::string& error);

/// Binds every listener of `assembly` and serves it on `relay`; returns the bound addresses.
/// On failure returns the listeners bound so far and sets `error` ("<uri>: <reason>").
PORTAL_API std::vector<transport::Uri> listen_all(Relay& relay, Assembly& assembly,
                                                  boost::asio::any_io_executor executor,
                                                  std::string& error);

}  // namespace portal::relay
