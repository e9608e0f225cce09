// SPDX-License-Identifier: Apache-2.0
#pragma once

// The relay's HTTP surface (rendering only): /healthz, /metrics, /, /api/leases, /api/relay.
// Every function renders a snapshot; none touches the relay's state.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "portal/directory/directory.hpp"
#include "portal/relay/relay.hpp"
#include "portal/transport/transport.hpp"

namespace portal::relay {

/// A snapshot of what the pages show.
struct HttpView {
  struct LeaseRow {
    std::string id;
    std::string name;
    std::vector<std::string> alpn;
    std::int64_t expires = 0;
    std::int64_t last_seen = 0;
    std::string metadata;
    std::size_t relayed_streams = 0;
  };
  std::string relay_id;
  std::vector<std::string> advertise;
  std::vector<std::string> listeners;
  std::int64_t now = 0;
  std::int64_t uptime_seconds = 0;
  std::vector<LeaseRow> leases;  ///< unexpired, by ID
  Stats stats;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t> answers;
  std::map<std::string, std::uint64_t> refusals;
  std::map<std::string, std::uint64_t> control_errors;
  std::map<std::string, std::uint64_t> accept_errors;
  /// A fleet directory is configured; its replies by (operation, status).
  bool fleet = false;
  std::map<std::pair<std::string, std::string>, std::uint64_t> directory;
  directory::Health directory_health;  ///< the client's, when `fleet`
  /// Peering is on (fleet.peers); peer session dials by result.
  bool peering = false;
  std::map<std::string, std::uint64_t> peer_dials;
  std::vector<Core::PeerSession> peer_sessions;            ///< open now
  std::map<std::string, std::uint64_t> forwarded_by_peer;  ///< splices started, by relay ID
  std::map<std::string, std::uint64_t> route_cache;        ///< forwards by "hit" / "miss"
  /// The operator surface (ADR 0017): the admin API is served; its failed authentications;
  /// bans in force by kind; identities waiting for approval (approval mode).
  bool admin = false;
  std::uint64_t admin_auth_failures = 0;
  std::map<std::string, std::size_t> bans;
  bool approval = false;
  std::size_t pending = 0;
  std::vector<PluginInfo> plugins;
  std::vector<std::size_t> loop_connections;  ///< accepted sockets per event loop (ADR 0013)
  /// The browser path, when on: a lease's page is app_prefix + name + app_suffix
  /// ("http://" "web" ".localhost:4017/"), and `portal connect` uses connect_relay.
  std::string app_prefix;
  std::string app_suffix;
  std::string connect_relay;
};

transport::HttpResponse http_healthz(const HttpView& view, const transport::HttpRequest& req);
transport::HttpResponse http_metrics(const HttpView& view, const transport::HttpRequest& req);
transport::HttpResponse http_api_leases(const HttpView& view, const transport::HttpRequest& req);
transport::HttpResponse http_api_relay(const HttpView& view, const transport::HttpRequest& req);
transport::HttpResponse http_index(const HttpView& view, const transport::HttpRequest& req);

/// HTML text escaping (&, <, >, ", ').
std::string html_escape(std::string_view text);
/// A Prometheus label value escaped (\\, ", newline).
std::string label_escape(std::string_view text);
/// Whether the lease's metadata asks to be hidden from public listings (`"hide": true`).
bool hidden(const std::string& metadata);

}  // namespace portal::relay
