// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The relay's configuration: compiled-in defaults, a JSON file that overrides them, and precise
/// errors (file, key, reason; line and column for syntax errors). See docs/relay.md, the README and
/// config/relay.example.json (every key with its default).

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "portal/base/export.hpp"
#include "portal/base/settings.hpp"

namespace portal::config {

using Settings = base::Settings;  ///< read with plugin::SettingsReader

/// The relay's limits (config key "limits"; docs/relay.md lists what hitting each one does). Every
/// field is a count or a duration in milliseconds as its name says; the defaults suit a public
/// relay. A per-IP limit counts by the client's address (behind a trusted proxy, the address it
/// reports).
struct RelayLimits {
  /// Leases one relay connection may hold at once (at least 1); one more is REJECTED.
  std::uint32_t max_leases_per_connection = 64;
  /// Connections from one address at once, counted from the TCP accept on every listener (at least
  /// 1); one more is closed before a byte is read.
  std::uint32_t max_connections_per_ip = 256;
  /// The per-address limits count an IPv6 client under its network of this many bits (1-128):
  /// one host commonly owns a whole /64, so counting each address apart would let it multiply
  /// every per-IP limit. 128 counts each address apart. IPv4 addresses are always counted apart.
  std::uint32_t ipv6_prefix = 64;
  /// Relayed streams to one lease at once, forwards in flight included (at least 1); one more dial
  /// is REJECTED.
  std::uint32_t max_streams_per_lease = 256;
  std::uint32_t session_idle_timeout_ms = 90'000;      ///< no frame at all (pings count)
  std::uint32_t spliced_idle_timeout_ms = 900'000;     ///< 0: none on spliced streams
  std::uint32_t first_frame_timeout_ms = 10'000;       ///< TCP accept to first yamux frame
  std::uint32_t max_control_packet = 64 * 1024;        ///< received control packets
  std::uint32_t forward_timeout_ms = 30'000;           ///< lease holder's answer to a forward
  std::uint32_t drain_timeout_ms = 10'000;             ///< graceful shutdown
  std::uint32_t max_lease_ttl_ms = 300'000;            ///< a lease's expires at most this far ahead
  std::uint32_t max_leases = 10'000;                   ///< leases in the whole table
  std::uint32_t max_lease_bytes = 4096;                ///< name + metadata + ALPNs of one lease
  std::uint32_t max_control_streams_per_session = 64;  ///< open, not spliced
  std::uint32_t max_control_streams_per_ip = 64;       ///< open, not spliced, all sessions
  std::uint32_t first_packet_timeout_ms = 10'000;      ///< stream open to first full packet
  std::uint32_t max_spliced_per_dialer_session = 64;   ///< spliced streams one session dials
  std::uint32_t max_spliced_per_dialer_ip = 128;       ///< spliced streams one address dials
  std::uint32_t max_leases_per_ip = 256;               ///< leases held over one address's sessions
  /// RelayInfo answer bytes (at least 1 KiB each) per minute; 0: no limit. v1 clients ask for
  /// RelayInfo before every dial, so this limits bytes (the amplification), not requests.
  std::uint32_t relay_info_kib_per_minute_per_session = 256 * 1024;
  /// The same byte budget for all the sessions of one address together; 0: no limit.
  std::uint32_t relay_info_kib_per_minute_per_ip = 1024 * 1024;
  std::uint32_t replay_capacity = 65'536;  ///< (identity, nonce) entries of signed requests
  std::uint32_t replay_per_identity = 64;  ///< live entries of one identity (v1: ~7 per 30 s)
  // --- Bandwidth (ADR 0017 §4) ---
  /// Bytes per second each direction of one lease identity's relayed streams may carry, all of
  /// its streams together (v1's `--lease-bps`); 0: no limit, else kMinBytesPerSecond at least.
  std::uint64_t lease_bytes_per_second = 0;
  /// Bytes per second each direction of all the relay's relayed streams may carry; 0: no limit.
  std::uint64_t relay_bytes_per_second = 0;
  /// Limits of their own for some lease identities (upper-cased IDs; each kMinBytesPerSecond at
  /// least, kMaxLeaseRatesById of them at most), in place of lease_bytes_per_second.
  std::map<std::string, std::uint64_t> lease_bytes_per_second_by_id;
  static constexpr std::size_t kMaxLeaseRatesById = 4096;          ///< entries of the map above
  static constexpr std::uint64_t kMinBytesPerSecond = 1024;        ///< the lowest limit but 0
  static constexpr std::uint64_t kMaxBytesPerSecond = 1ull << 40;  ///< the highest (1 TiB/s)
  // --- end of bandwidth ---
};

/// Everything portal-relay reads from its JSON config file (docs/relay.md): the defaults are a
/// relay for local testing. Fill it with apply_json() or in code; relay::assemble() resolves its
/// plugins and listeners into a relay::Assembly, and relay::listen_all() starts serving.
struct RelayConfig {
  /// Transport URIs to listen on, each served by the transport plugin that provides its scheme
  /// (`ws://host:port/path`, `tcp://host:port`, ...); at least one. Port 0 picks a free port.
  std::vector<std::string> listeners{"ws://127.0.0.1:4017/relay", "tcp://127.0.0.1:4027"};
  std::string mux = "yamux";  ///< a name a mux plugin provides
  Settings mux_settings;      ///< passed to the mux plugin
  std::map<std::string, Settings, std::less<>> transport_settings;  ///< by URI scheme
  std::vector<std::string> plugin_dirs;  ///< empty: `<prefix>/lib/portal/plugins`
  Settings plugin_pins;                  ///< plugin file name -> sha256 hex
  std::string identity_key_file;         ///< empty: a new identity at each start
  std::vector<std::string> advertise;    ///< RelayInfo.address and page links
  /// Reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client on a
  /// ws:// or wss:// upgrade; per-IP limits and logs then use the client's address.
  std::vector<std::string> trusted_proxies;
  std::string log_level = "info";  ///< debug, info, warn, error
  /// The public base URL of the relay (docs/browser.md). Its host names the browser app hosts;
  /// "" turns the browser path off.
  std::string portal_url = "http://localhost:4017";
  /// The host pattern of browser app hosts; empty: "*.<host of portal_url>" (with its port).
  std::string app_hosts;
  /// Lease names nobody may register (so nobody can phish under the operator's own names).
  std::vector<std::string> reserved_names{"www",   "admin",  "api",      "login",
                                          "relay", "static", "frontend", "app"};
  /// Where the browser client's static files are; empty: found next to the executable
  /// (`<prefix>/share/portal/frontend`), or in a build tree's build/wasm/frontend.
  std::string frontend_dir;
  /// Threads that serve connections (ADR 0013): 1 runs everything on one thread; N > 1 spreads
  /// connections over N event loops (the one the relay runs on and N - 1 of its own), while the
  /// relay's state stays on the first; 0 is one per hardware thread. At most kMaxRelayThreads.
  std::uint32_t threads = 1;
  /// Asks search engines not to index the relay's pages (config key "noindex"): `/robots.txt`
  /// disallows everything and every HTTP answer carries `X-Robots-Tag: noindex, nofollow`.
  bool noindex = false;
  /// Who may register leases (config key "access": {"mode", "allowed_ids", "allowed_file"};
  /// ADR 0017): "open" (anyone, the default), "allowlist" (only the identity IDs in
  /// access_allowed_ids and access_allowed_file) or "approval" (as "allowlist", and others wait
  /// for an operator's approval through the admin API).
  std::string access_mode = "open";
  /// The identity IDs that may register under "allowlist" and "approval" (upper-cased).
  std::vector<std::string> access_allowed_ids;
  /// A file of more allowed IDs, one per line (`#` comments), re-read when it changes; approvals
  /// are added to it. Empty: none.
  std::string access_allowed_file;
  /// Where bans (and per-identity rates set through the admin API) persist, as JSON written
  /// atomically; read at start. Empty: they live in memory only.
  std::string bans_file;
  /// The admin surface's own listener (`http://127.0.0.1:4018`, or `https://` with the https
  /// transport settings): /metrics, /api/... and the admin API; the public listeners then serve
  /// neither /metrics nor /api/.... Empty: /metrics and /api/... stay on the public listeners,
  /// and there is no admin API.
  std::string admin_listen;
  /// The admin API's bearer token, in a file of mode 0600 (needed with admin_listen).
  std::string admin_token_file;
  /// Allows admin_listen over http:// on an address other than loopback (the token then crosses
  /// the network in the clear).
  bool admin_allow_plaintext = false;
  /// A fleet's shared lease directory (config key "directory": {"name", "settings"}; docs/fleet.md,
  /// ADR 0015): the name a directory plugin provides, e.g. "redis". Empty: a single relay. Needs
  /// identity_key_file, so that the relay keeps its ID (its directory records are keyed by it).
  std::string directory;
  Settings directory_settings;  ///< passed to the directory plugin
  /// The address other relays of the fleet dial to reach this one (config key
  /// "fleet": {"peer_uri"}), published with every heartbeat; empty: none yet.
  std::string fleet_peer_uri;
  /// The relay IDs this relay accepts as peers and forwards to (config key "fleet": {"peers"};
  /// ADR 0015 §3): the allow-list. The directory only says where a listed peer is reachable.
  /// Empty: no peering (leases held on other relays are not reached). Needs a directory.
  std::vector<std::string> fleet_peers;
  /// How often the relay tells the directory it is alive and refreshes its records ("fleet":
  /// {"heartbeat_ms"}); name claims and records live three of these.
  std::uint32_t fleet_heartbeat_ms = 5'000;
  /// Resource limits (config key "limits").
  RelayLimits limits;
};

/// The largest `threads` a relay config may ask for.
inline constexpr std::uint32_t kMaxRelayThreads = 64;

/// One problem in a config file.
struct Problem {
  std::string key;  ///< dotted path, e.g. "limits.max_streams_per_lease"; empty for syntax
  /// What is wrong, in one line (e.g. "unknown key", "expected an object").
  std::string reason;
  std::size_t line = 0;    ///< 1-based, for syntax errors (0 otherwise)
  std::size_t column = 0;  ///< 1-based, for syntax errors

  /// "<file>:<line>:<column>: <reason>" or "<file>: <key>: <reason>".
  [[nodiscard]] PORTAL_API std::string to_string(std::string_view file) const;
};

/// Applies the JSON text over `config` (keys not given keep their values). Every problem is
/// collected; the config is usable only when `problems` comes back empty. Unknown keys, wrong
/// types, bad URIs and out-of-range numbers are problems. Never throws on the text.
PORTAL_API void apply_json(std::string_view text, RelayConfig& config,
                           std::vector<Problem>& problems);

/// The config as JSON (pretty, keys in a fixed order), as `--print-config` shows it.
[[nodiscard]] PORTAL_API std::string to_json(const RelayConfig& config);

}  // namespace portal::config
