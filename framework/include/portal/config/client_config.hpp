// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// A client's configuration (the `portal` tool and embedders): the stack (mux, transports,
/// cipher, plugins) and the SDK's timers. Compiled-in defaults, overridden by a JSON file with
/// the same error reporting as the relay's (relay_config.hpp). See config/client.example.json.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "portal/base/export.hpp"
#include "portal/config/relay_config.hpp"

namespace portal::config {

/// The SDK's cadence (portal-v1 §6.7, §11.4) and its own bounds.
struct ClientTimers {
  std::uint32_t lease_ttl_s = 30;               ///< expires = now + this
  std::uint32_t renew_interval_ms = 5'000;      ///< every lease is renewed this often
  std::uint32_t health_interval_ms = 10'000;    ///< a ping per relay this often
  std::uint32_t health_timeout_ms = 10'000;     ///< a ping slower than this drops the relay
  std::uint32_t reconnect_initial_ms = 500;     ///< first reconnect delay
  std::uint32_t reconnect_max_ms = 5'000;       ///< the delay doubles up to this
  std::uint32_t reconnect_jitter_percent = 20;  ///< each delay is varied by ± this
  std::uint32_t request_timeout_ms = 10'000;    ///< a control request's answer (info, lease, dial)
  std::uint32_t handshake_timeout_ms = 10'000;  ///< the end-to-end handshake
  std::uint32_t accept_queue = 100;             ///< incoming connections waiting for accept()
};

/// One entry of the client's `ciphers` list: an AEAD algorithm and, optionally, the plugin that
/// must implement it.
struct CipherChoice {
  std::string algorithm;       ///< e.g. "chacha20-poly1305" or "aes-256-gcm"
  std::string implementation;  ///< a cipher plugin's id; empty: the fastest plugin present

  /// Field-by-field equality.
  friend bool operator==(const CipherChoice&, const CipherChoice&) = default;
};

/// Everything the `portal` tool and the client SDK read from a client config file (docs/client.md).
/// Fill it with apply_json() or in code; client::assemble() loads the plugins it names, and its
/// relays and timers go into client::Options.
struct ClientConfig {
  std::vector<std::string> relays;  ///< relay URIs; the command line's --relay replaces them
  /// The multiplexer over each relay connection: a name a mux plugin provides; v1 relays speak
  /// "yamux".
  std::string mux = "yamux";
  /// Settings passed to the mux plugin (its keys: docs/mux-yamux.md).
  Settings mux_settings;
  std::map<std::string, Settings, std::less<>> transport_settings;  ///< by URI scheme
  /// SPKI SHA-256 pins by relay URI (as in `relays`): for that relay only, the `spki_sha256`
  /// TLS setting (comma-separated hex), which replaces chain verification (docs/tls.md).
  Settings relay_pins;
  /// The end-to-end ciphers, most preferred first (config key `ciphers`; `cipher` is a
  /// one-element shorthand). The negotiated channel offers them all; a v1 peer always gets
  /// chacha20-poly1305, which must then be in the list. Empty: chacha20-poly1305, then
  /// aes-256-gcm when a plugin provides it.
  std::vector<CipherChoice> ciphers;
  /// Which channel to speak (docs/adr/0014-negotiated-channel.md): "auto" (the negotiated
  /// channel with peers that offer it, v1 with the others), "v1" or "negotiated" (v1 peers
  /// refused).
  std::string channel = "auto";
  std::vector<std::string> plugin_dirs;  ///< empty: `<prefix>/lib/portal/plugins`
  Settings plugin_pins;                  ///< plugin file name -> sha256 hex
  /// The least severe log level written: "debug", "info", "warn" or "error".
  std::string log_level = "info";
  /// Lease renewal, health checks, reconnects and request deadlines (config key "timers").
  ClientTimers timers;
};

/// Applies the JSON text over `config`; every problem is collected (unknown keys, wrong types,
/// out-of-range numbers, bad URIs). The config is usable only when `problems` is empty.
PORTAL_API void apply_json(std::string_view text, ClientConfig& config,
                           std::vector<Problem>& problems);

/// The config as JSON, keys in a fixed order.
[[nodiscard]] PORTAL_API std::string to_json(const ClientConfig& config);

/// Later v1's bootstrap normalisation (portal-v1 §11.1): `ws://`/`wss://`/`tcp://` URIs are kept
/// (a missing port becomes 80 for ws, 443 for wss); `http(s)://host[:port][/]` becomes
/// `ws(s)://host:port/relay`; a bare `host[:port]` becomes `wss://host:port/relay`; another
/// scheme's URI is kept as given when base::parse_uri accepts it (`unix:///run/relay.sock`).
/// Returns empty when the text is none of these.
[[nodiscard]] PORTAL_API std::string normalize_relay_uri(std::string_view text);

}  // namespace portal::config
