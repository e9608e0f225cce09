// SPDX-License-Identifier: Apache-2.0
// Stack assembly: from a RelayConfig to loaded plugins, resolved factories, validated settings
// and an identity, before any port is opened.

#include <algorithm>
#include <thread>

#include "detail/cipher_choice.hpp"
#include "detail/stack_assembly.hpp"
#include "portal/base/random.hpp"
#include "portal/handshake/handshake.hpp"
#include "portal/identity/errors.hpp"
#include "portal/platform/key_file.hpp"
#include "portal/platform/paths.hpp"
#include "portal/relay/relay.hpp"
#include "relay/admin.hpp"

namespace portal::relay {

std::unique_ptr<Assembly> assemble(const config::RelayConfig& config, std::string& error,
                                   bool create_identity) {
  auto a = std::make_unique<Assembly>();
  detail::StackAssembly stack(config.plugin_dirs, config.plugin_pins);
  a->warnings = stack.warnings;
  a->mux = stack.mux(config.mux, config.mux_settings, error);
  if (!a->mux) return nullptr;
  // Every listener's transport and settings.
  for (const auto& text : config.listeners) {
    transport::Settings settings;
    auto tf = stack.transport(text, "listeners", config.transport_settings, settings, error);
    if (!tf) return nullptr;
    // A PROXY header is only believed from a trusted proxy: without any, the setting would
    // silently do nothing.
    if (auto p = settings.find("proxy_protocol");
        p != settings.end() && p->second == "true" && config.trusted_proxies.empty()) {
      error = text +
              ": proxy_protocol needs trusted_proxies (the proxies whose PROXY header "
              "names the client)";
      return nullptr;
    }
    // With several threads a connection's transport runs on a worker after its upgrade, but
    // the WebSocket keep-alive timer Beast arms at the upgrade would stay on the accepting
    // thread (ADR 0013); the relay's own session idle timeout covers what it is for.
    const auto scheme = transport::parse_uri(text)->scheme;
    if (auto idle = settings.find("idle_timeout_ms");
        config.threads != 1 && (scheme == "ws" || scheme == "wss") && idle != settings.end() &&
        idle->second != "0") {
      error = "transports." + scheme +
              ".idle_timeout_ms: not with threads other than 1 (use "
              "limits.session_idle_timeout_ms, which closes idle sessions on any transport)";
      return nullptr;
    }
    a->listeners.push_back(Assembly::Listen{*transport::parse_uri(text), tf, std::move(settings)});
  }
  if (!config.directory.empty()) {
    // Its records are keyed by the relay's ID, and peers allow relays by ID: it must not
    // change at each start.
    if (config.identity_key_file.empty()) {
      error =
          "directory: needs identity_key_file (a fleet relay's ID must survive restarts: its "
          "directory records and its peers know it by that ID)";
      return nullptr;
    }
    a->directory = stack.find<directory::DirectoryFactory>(
        plugin::Kind::Directory, config.directory, "directory.name", "directory", error);
    if (!a->directory) return nullptr;
    std::string problem;
    if (!a->directory->validate(config.directory_settings, problem)) {
      error = "directory.settings: " + problem;
      return nullptr;
    }
    a->directory_settings = config.directory_settings;
  }
  if (!config.fleet_peers.empty()) {
    if (config.directory.empty()) {
      error = "fleet.peers: needs a directory (peers find each other's leases and addresses there)";
      return nullptr;
    }
    // Peer sessions run the project's handshake and secure channel (ADR 0015 §3) on
    // ChaCha20-Poly1305: the fastest implementation here that passes its known answer.
    std::vector<std::string> problems;
    auto ciphers =
        detail::rank_ciphers(*stack.host, std::string(handshake::kV1Cipher), "", problems);
    a->warnings.insert(a->warnings.end(), problems.begin(), problems.end());
    if (ciphers.empty()) {
      error = "fleet.peers: no usable cipher plugin provides '" +
              std::string(handshake::kV1Cipher) + "' (peer sessions need it)" + stack.where();
      return nullptr;
    }
    a->options.peer_cipher = ciphers.front().factory;
    // Every loaded transport may dial a peer, with its configured settings.
    for (const auto& p : stack.host->plugins()) {
      if (p->kind() != plugin::Kind::Transport) continue;
      auto f = p->factory<transport::TransportFactory>();
      if (!f) continue;  // refused when a listener needs it
      for (const auto& scheme : p->provides()) {
        if (a->options.peer_transports.count(scheme) != 0) continue;
        transport::Settings settings;
        if (auto it = config.transport_settings.find(scheme);
            it != config.transport_settings.end()) {
          settings = it->second;
        }
        std::string problem;
        if (!(*f)->validate(settings, problem)) {
          error = "transports." + scheme + ": " + problem;
          return nullptr;
        }
        a->options.peer_transports[scheme] = {*f, std::move(settings)};
      }
    }
  }
  // The admin surface (ADR 0017 §1): its own HTTP listener, and a token for the admin API.
  if (!config.admin_listen.empty()) {
    transport::Settings settings;
    auto tf = stack.transport(config.admin_listen, "admin_listen", config.transport_settings,
                              settings, error);
    if (!tf) return nullptr;
    const auto uri = *transport::parse_uri(config.admin_listen);
    if (uri.scheme != "http" && uri.scheme != "https") {
      error = "admin_listen: '" + config.admin_listen + "': expected an http:// or https:// URI";
      return nullptr;
    }
    if (config.admin_token_file.empty()) {
      error = "admin_listen: needs admin_token_file (the admin API's bearer token)";
      return nullptr;
    }
    const bool loopback = uri.host == "localhost" || uri.host.rfind("127.", 0) == 0 ||
                          uri.host == "::1" || uri.host == "[::1]";
    if (uri.scheme == "http" && !loopback && !config.admin_allow_plaintext) {
      error = "admin_listen: '" + config.admin_listen +
              "' is http:// on an address other than loopback: the token would cross the "
              "network in the clear (use https://, or set admin_allow_plaintext)";
      return nullptr;
    }
    std::string problem;
    if (!ops::read_token_file(config.admin_token_file, a->options.admin_token, problem)) {
      error = "admin_token_file: " + problem;
      return nullptr;
    }
    a->options.admin_separate = true;
    a->admin = Assembly::Listen{uri, tf, std::move(settings)};
  } else if (!config.admin_token_file.empty()) {
    error = "admin_token_file: needs admin_listen (the admin API is served only there)";
    return nullptr;
  }
  // Who may register, and the bans in force (ADR 0017 §2, §3).
  a->options.access = config.access_mode == "allowlist"  ? AccessMode::Allowlist
                      : config.access_mode == "approval" ? AccessMode::Approval
                                                         : AccessMode::Open;
  a->options.allowed_ids.insert(config.access_allowed_ids.begin(), config.access_allowed_ids.end());
  a->options.allowed_file = config.access_allowed_file;
  if (!config.access_allowed_file.empty()) {
    std::string problem;
    const bool exists = ops::stamp_of(config.access_allowed_file).size >= 0;
    // Under approval the file may come with the first approval; under allowlist a missing file
    // is a mistake in the path.
    if ((exists || a->options.access != AccessMode::Approval) &&
        !ops::read_allowed_file(config.access_allowed_file, a->options.allowed_file_ids, problem)) {
      error = "access.allowed_file: " + problem;
      return nullptr;
    }
  }
  a->options.bans_file = config.bans_file;
  if (!config.bans_file.empty()) {
    ops::OperatorState state;
    std::string problem;
    if (!ops::read_bans_file(config.bans_file, state, problem)) {
      error = "bans_file: " + problem;
      return nullptr;
    }
    a->options.bans = std::move(state.bans);
    a->options.rates = std::move(state.rates);
  }
  a->host = std::move(stack.host);

  // The identity: a key file, or a new one at each start.
  if (!config.identity_key_file.empty()) {
    auto cred = platform::load_key_file(config.identity_key_file);
    if (!cred && cred.error() == identity::Errc::KeyFileNotFound) {
      // The first start: a new identity, kept in the file from now on.
      base::OsRandom random;
      cred = identity::Credential::generate(random);
      if (cred && create_identity) {
        if (auto saved = platform::save_key_file(config.identity_key_file, *cred); !saved) {
          error = "identity_key_file: " + config.identity_key_file +
                  ": cannot create it: " + saved.error().message();
          return nullptr;
        }
      }
      a->identity_created = true;
    }
    if (!cred) {
      error = "identity_key_file: " + config.identity_key_file + ": " + cred.error().message();
      return nullptr;
    }
    a->identity = std::make_unique<identity::Credential>(std::move(*cred));
  } else {
    base::OsRandom random;
    auto cred = identity::Credential::generate(random);
    if (!cred) {
      error = "cannot create an identity: " + cred.error().message();
      return nullptr;
    }
    a->identity = std::make_unique<identity::Credential>(std::move(*cred));
    a->ephemeral_identity = true;
  }

  a->options.limits = config.limits;
  // 0: one per hardware thread (at least 1, at most the config's cap).
  a->options.threads = config.threads != 0 ? config.threads
                                           : std::clamp(std::thread::hardware_concurrency(), 1u,
                                                        config::kMaxRelayThreads);
  a->options.advertise = config.advertise;
  a->options.reserved_names = config.reserved_names;
  a->options.portal_url = config.portal_url;
  a->options.app_hosts = config.app_hosts;
  a->options.frontend_dir = config.frontend_dir;
  a->options.noindex = config.noindex;
  a->options.trusted_proxies = config.trusted_proxies;
  a->options.mux = a->mux;
  a->options.mux_settings = config.mux_settings;
  a->options.fleet.peer_uri = config.fleet_peer_uri;
  a->options.fleet.heartbeat = std::chrono::milliseconds(config.fleet_heartbeat_ms);
  a->options.fleet.peers = config.fleet_peers;
  for (const auto& p : a->host->plugins()) {
    a->options.plugins.push_back(
        PluginInfo{p->id(), std::string(plugin::to_string(p->kind())), p->version()});
  }
  return a;
}

bool open_directory(Assembly& assembly, boost::asio::any_io_executor executor, std::string& error) {
  if (!assembly.directory) return true;
  std::string problem;
  auto client = assembly.directory->open(std::move(executor), assembly.directory_settings,
                                         lease::DirectoryBounds{}, problem);
  if (!client) {
    error = "directory: " + (problem.empty() ? client.error().message() : problem);
    return false;
  }
  assembly.options.directory = std::move(*client);
  return true;
}

std::vector<transport::Uri> listen_all(Relay& relay, Assembly& assembly,
                                       boost::asio::any_io_executor executor, std::string& error) {
  std::vector<transport::Uri> bound;
  for (const auto& l : assembly.listeners) {
    auto listener = l.transport->listen(executor, l.uri, l.settings);
    if (!listener) {
      error = l.uri.to_string() + ": " + listener.error().message();
      return bound;
    }
    bound.push_back(relay.serve(std::move(*listener)));
  }
  if (assembly.admin) {
    const auto& l = *assembly.admin;
    auto listener = l.transport->listen(executor, l.uri, l.settings);
    if (!listener) {
      error = "admin_listen " + l.uri.to_string() + ": " + listener.error().message();
      return bound;
    }
    bound.push_back(relay.serve_admin(std::move(*listener)));
  }
  return bound;
}

}  // namespace portal::relay
