// SPDX-License-Identifier: Apache-2.0
// Stack assembly: from a RelayConfig to loaded plugins, resolved factories, validated settings
// and an identity, before any port is opened.

#include "portal/base/random.hpp"
#include "portal/identity/key_file.hpp"
#include "portal/platform/paths.hpp"
#include "portal/relay/relay.hpp"

namespace portal::relay {

std::unique_ptr<Assembly> assemble(const config::RelayConfig& config, std::string& error) {
  auto a = std::make_unique<Assembly>();
  plugin::HostOptions ho;
  ho.directories.assign(config.plugin_dirs.begin(), config.plugin_dirs.end());
  for (const auto& [file, pin] : config.plugin_pins) ho.sha256_pins.emplace(file, pin);
  a->host = std::make_unique<plugin::Host>(ho);
  a->host->load_all();
  for (const auto& r : a->host->refusals()) a->warnings.push_back(r.to_string());
  const auto where = [&] {
    std::string dirs;
    for (const auto& d : config.plugin_dirs) dirs += (dirs.empty() ? "" : ", ") + d;
    if (dirs.empty()) {
      auto d = platform::default_plugin_dir();
      dirs = d ? d->string() : "the default plugin directory";
    }
    return " (plugin directories: " + dirs + ")";
  };

  // The mux.
  auto mp = a->host->find_provider(plugin::Kind::Mux, config.mux);
  if (!mp) {
    error = "mux.name: no mux plugin provides '" + config.mux + "'" + where();
    return nullptr;
  }
  auto mf = (*mp)->factory<mux::MuxFactory>();
  if (!mf) {
    error = "mux.name: " + (*mp)->file().string() + ": " + mf.error().message();
    return nullptr;
  }
  std::string problem;
  if (!(*mf)->validate(config.mux_settings, problem)) {
    error = "mux.settings: " + problem;
    return nullptr;
  }
  a->mux = *mf;

  // Every listener's transport and settings.
  for (const auto& text : config.listeners) {
    auto uri = transport::parse_uri(text);
    if (!uri) {
      error = "listeners: '" + text + "': not scheme://host:port[/path]";
      return nullptr;
    }
    auto tp = a->host->find_provider(plugin::Kind::Transport, uri->scheme);
    if (!tp) {
      error =
          "listeners: '" + text + "': no transport plugin provides '" + uri->scheme + "'" + where();
      return nullptr;
    }
    auto tf = (*tp)->factory<transport::TransportFactory>();
    if (!tf) {
      error = "listeners: " + (*tp)->file().string() + ": " + tf.error().message();
      return nullptr;
    }
    transport::Settings settings;
    if (auto it = config.transport_settings.find(uri->scheme);
        it != config.transport_settings.end()) {
      settings = it->second;
    }
    if (!(*tf)->validate(settings, problem)) {
      error = "transports." + uri->scheme + ": " + problem;
      return nullptr;
    }
    a->listeners.push_back(Assembly::Listen{*uri, *tf, std::move(settings)});
  }

  // The identity: a key file, or a new one at each start.
  if (!config.identity_key_file.empty()) {
    auto cred = identity::load_key_file(config.identity_key_file);
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
  a->options.advertise = config.advertise;
  a->options.mux = a->mux;
  a->options.mux_settings = config.mux_settings;
  for (const auto& p : a->host->plugins()) {
    a->options.plugins.push_back(
        PluginInfo{p->id(), std::string(plugin::to_string(p->kind())), p->version()});
  }
  return a;
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
  return bound;
}

}  // namespace portal::relay
