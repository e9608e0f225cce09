// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shared by the relay's and the client's stack assembly: loading the configured plugins and
// resolving factories from them, each failure one line naming the config key at fault.

#include <memory>
#include <string>
#include <vector>

#include "portal/config/relay_config.hpp"
#include "portal/mux/mux.hpp"
#include "portal/platform/paths.hpp"
#include "portal/plugin/host.hpp"
#include "portal/transport/transport.hpp"

namespace portal::detail {

class StackAssembly {
 public:
  // Loads every plugin of `dirs` (the default directory when empty), checking `pins`.
  StackAssembly(const std::vector<std::string>& dirs, const config::Settings& pins) : dirs_(dirs) {
    plugin::HostOptions ho;
    ho.directories.assign(dirs.begin(), dirs.end());
    for (const auto& [file, pin] : pins) ho.sha256_pins.emplace(file, pin);
    host = std::make_unique<plugin::Host>(ho);
    host->load_all();
    for (const auto& r : host->refusals()) warnings.push_back(r.to_string());
  }

  // The factory of the plugin of `kind` that provides `name`; null with `error` set otherwise.
  template <class Factory>
  std::shared_ptr<Factory> find(plugin::Kind kind, const std::string& name, const std::string& key,
                                const char* what, std::string& error) {
    auto p = host->find_provider(kind, name);
    if (!p) {
      error = key + ": no " + what + " plugin provides '" + name + "'" + where();
      return nullptr;
    }
    auto f = (*p)->factory<Factory>();
    if (!f) {
      error = key + ": " + (*p)->file().string() + ": " + f.error().message();
      return nullptr;
    }
    return *f;
  }

  // The mux named `name`, its settings validated.
  std::shared_ptr<mux::MuxFactory> mux(const std::string& name, const mux::Settings& settings,
                                       std::string& error) {
    auto f = find<mux::MuxFactory>(plugin::Kind::Mux, name, "mux.name", "mux", error);
    std::string problem;
    if (f && !f->validate(settings, problem)) {
      error = "mux.settings: " + problem;
      return nullptr;
    }
    return f;
  }

  // The transport of `text`'s scheme, with that scheme's settings from `by_scheme` validated
  // and copied to `settings`. `key` names the config key the URI came from.
  std::shared_ptr<transport::TransportFactory> transport(
      const std::string& text, const std::string& key,
      const std::map<std::string, config::Settings, std::less<>>& by_scheme,
      transport::Settings& settings, std::string& error) {
    const auto uri = transport::parse_uri(text);
    if (!uri) {
      error = key + ": '" + text + "': " + uri.error().message();
      return nullptr;
    }
    auto f = find<transport::TransportFactory>(plugin::Kind::Transport, uri->scheme,
                                               key + ": '" + text + "'", "transport", error);
    if (!f) return nullptr;
    // Host-less URIs (scheme:///path) came with ABI 2.2: a plugin built for an older minor was
    // never given one and might take the empty host for "every address".
    if (uri->local()) {
      auto p = host->find_provider(plugin::Kind::Transport, uri->scheme);
      if (p && (*p)->abi_minor() < 2) {
        error = key + ": '" + text + "': " + (*p)->id() + " was built for plugin ABI 2." +
                std::to_string((*p)->abi_minor()) + ", before host-less URIs (2.2)";
        return nullptr;
      }
    }
    settings.clear();
    if (auto it = by_scheme.find(uri->scheme); it != by_scheme.end()) settings = it->second;
    std::string problem;
    if (!f->validate(settings, problem)) {
      error = "transports." + uri->scheme + ": " + problem;
      return nullptr;
    }
    return f;
  }

  std::unique_ptr<plugin::Host> host;
  std::vector<std::string> warnings;  ///< refused plugin files, one line each

  // " (plugin directories: ...)", for errors about a missing plugin.
  std::string where() const {
    std::string dirs;
    for (const auto& d : dirs_) dirs += (dirs.empty() ? "" : ", ") + d;
    if (dirs.empty()) {
      auto d = platform::default_plugin_dir();
      dirs = d ? d->string() : "the default plugin directory";
    }
    return " (plugin directories: " + dirs + ")";
  }

 private:
  std::vector<std::string> dirs_;
};

}  // namespace portal::detail
