// SPDX-License-Identifier: Apache-2.0
// portal-relay: the relay server. This build reports its version, lists plugins and loads,
// checks and prints its configuration; the serving loop arrives with the relay issue.

#include <fstream>
#include <iostream>
#include <sstream>

#include "../common/cli_main.hpp"
#include "portal/config/relay_config.hpp"
#include "portal/plugin/host.hpp"
#include "portal/transport/transport.hpp"
#include "portal/version.hpp"

namespace {

using portal::apps::UsageError;
namespace config = portal::config;

constexpr std::size_t kMaxConfigFile = 1024 * 1024;

// Reads and applies a config file; returns the problems (empty when it is valid).
std::vector<config::Problem> load(const std::string& path, config::RelayConfig& cfg) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {config::Problem{"", "cannot open the file", 0, 0}};
  std::string text(kMaxConfigFile + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxConfigFile) return {config::Problem{"", "larger than 1 MiB", 0, 0}};
  std::vector<config::Problem> problems;
  config::apply_json(text, cfg, problems);
  return problems;
}

// One line per plugin (id, kind, version, file) and per refused file (file, reason).
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
  bool print_config = false;
  std::string config_file;
  std::string check_file;
  std::vector<std::string> listen;
  std::vector<std::string> plugin_dirs;
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

  return portal::apps::run_cli(app, argc, argv, [&]() -> int {
    if (version) {
      std::cout << "portal-relay " << portal::kVersion << " (" << portal::kWireProtocol
                << " wire protocol)\n";
      return 0;
    }
    if (!check_file.empty()) {
      config::RelayConfig cfg;
      const auto problems = load(check_file, cfg);
      for (const auto& p : problems) std::cout << p.to_string(check_file) << '\n';
      if (problems.empty()) std::cout << check_file << ": ok\n";
      return problems.empty() ? 0 : 1;
    }
    config::RelayConfig cfg;
    if (!config_file.empty()) {
      const auto problems = load(config_file, cfg);
      if (!problems.empty()) {
        // One line per problem on stderr, then the summary line.
        for (std::size_t i = 1; i < problems.size(); ++i) {
          std::cerr << "portal-relay: error: " << problems[i].to_string(config_file) << '\n';
        }
        throw UsageError(problems.front().to_string(config_file));
      }
    }
    // Flags override config keys.
    if (!listen.empty()) {
      for (const auto& uri : listen) {
        if (!portal::transport::parse_uri(uri)) {
          throw UsageError("--listen '" + uri + "': not scheme://host:port[/path]");
        }
      }
      cfg.listeners = listen;
    }
    if (!plugin_dirs.empty()) cfg.plugin_dirs = plugin_dirs;
    if (print_config) {
      std::cout << config::to_json(cfg);
      return 0;
    }
    if (list) return list_plugins(cfg.plugin_dirs);
    throw UsageError(
        "the relay server is not implemented in this build yet; --version, --list-plugins, "
        "--print-config and --check-config are available",
        2);
  });
}
