// SPDX-License-Identifier: Apache-2.0
// portal-relay: the relay server. This cut reports its version and lists plugins; the server
// itself arrives with the relay issue.

#include <iostream>

#include "../common/cli_main.hpp"
#include "portal/plugin/host.hpp"
#include "portal/version.hpp"

namespace {

// One line per loaded plugin (id, kind, version, file) and one per refused file (file, reason).
// Exit status 0 when nothing was refused, 1 otherwise.
int list_plugins(const std::vector<std::string>& dirs) {
  portal::plugin::HostOptions options;
  options.directories.assign(dirs.begin(), dirs.end());
  portal::plugin::Host host(options);
  host.load_all();
  for (const auto& p : host.plugins()) {
    std::cout << "plugin  " << p->id() << "  " << portal::plugin::to_string(p->kind()) << "  "
              << p->version() << "  " << p->file().string() << '\n';
  }
  for (const auto& r : host.refusals()) std::cout << "refused " << r.to_string() << '\n';
  return host.refusals().empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Portal relay: forwards end-to-end encrypted connections between Portal clients",
               "portal-relay"};
  portal::apps::use_one_line_errors(app);
  bool version = false;
  bool list = false;
  std::vector<std::string> plugin_dirs;
  app.add_flag("--version", version, "Print the version and exit");
  app.add_flag("--list-plugins", list,
               "List the plugins found (id, kind, version, file) and every refused file, then "
               "exit; status 1 if any file was refused");
  app.add_option("--plugin-dir", plugin_dirs,
                 "Load plugins from DIR instead of <prefix>/lib/portal/plugins (repeatable)")
      ->type_name("DIR");

  return portal::apps::run_cli(app, argc, argv, [&]() -> int {
    if (version) {
      std::cout << "portal-relay " << portal::kVersion << " (" << portal::kWireProtocol
                << " wire protocol)\n";
      return 0;
    }
    if (list) return list_plugins(plugin_dirs);
    throw portal::apps::UsageError(
        "the relay server is not implemented in this build yet; only --version and "
        "--list-plugins are available",
        2);
  });
}
