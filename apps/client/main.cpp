// SPDX-License-Identifier: Apache-2.0
// portal: the Portal client tool. Subcommands: keygen, id, vanity, expose, connect, info; and
// `portal --list-plugins [--plugin-dir DIR]...`.

#include <iostream>
#include <string>
#include <vector>

#include "../common/cli_main.hpp"
#include "../common/plugin_list.hpp"
#include "commands.hpp"
#include "keys.hpp"
#include "portal/base/random.hpp"
#include "portal/client/client.hpp"
#include "portal/config/client_config.hpp"
#include "portal/identity/credential.hpp"
#include "portal/platform/key_file.hpp"
#include "portal/version.hpp"
#include "vanity.hpp"

namespace {

using portal::apps::UsageError;
namespace identity = portal::identity;
namespace platform = portal::platform;

using portal::apps::fail_key_file;
using portal::apps::load_key;

// One line per plugin (id, kind, version, file) and per refused file, then one line per plugin
// that provides each of the client's cipher algorithms: the active one first (the fastest here,
// timed at assembly; docs/client.md), with its measured speed. Exit status 1 when a file was
// refused or the client's stack cannot be assembled from these plugins.
int list_plugins(const std::vector<std::string>& dirs) {
  portal::config::ClientConfig cfg;
  cfg.relays.clear();
  if (!dirs.empty()) cfg.plugin_dirs = dirs;
  std::string error;
  auto stack = portal::client::assemble(cfg, error);
  if (!stack) {
    // The plugins as found, then why the stack is unusable.
    portal::plugin::HostOptions options;
    options.directories.assign(cfg.plugin_dirs.begin(), cfg.plugin_dirs.end());
    portal::plugin::Host host(options);
    host.load_all();
    portal::apps::print_plugins(host);
    throw UsageError(error);
  }
  const bool clean = portal::apps::print_plugins(*stack->host);
  for (const auto& cipher : stack->ciphers) {
    bool first = true;
    for (const auto& c : cipher.candidates) {
      std::cout << "cipher  " << cipher.algorithm << "  " << c.plugin_id << "  "
                << (first ? "active" : "standby");
      if (c.bytes_per_second > 0) {
        std::cout << "  " << static_cast<long long>(c.bytes_per_second / 1e6) << " MB/s";
      }
      std::cout << '\n';
      first = false;
    }
  }
  return clean ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Portal client: identities, exposing services and connecting to them", "portal"};
  portal::apps::use_one_line_errors(app);
  app.set_version_flag("--version", std::string("portal ") + portal::kVersion);
  // A subcommand, or --list-plugins on its own.
  app.require_subcommand(0, 1);
  bool list = false;
  std::vector<std::string> list_dirs;
  auto* list_flag = app.add_flag(
      "--list-plugins", list,
      "List the plugins, the refused files, and which cipher implementation is active, then exit");
  app.add_option("--plugin-dir", list_dirs,
                 "With --list-plugins: a plugin directory (repeatable; default: "
                 "<prefix>/lib/portal/plugins)")
      ->needs(list_flag);

  auto* keygen = app.add_subcommand(
      "keygen",
      "Create a new Ed25519 identity, write it as a PKCS#8 PEM key file (mode 0600) "
      "and print its ID");
  std::string keygen_out;
  bool keygen_force = false;
  keygen->add_option("--out", keygen_out, "Key file to create")->required();
  keygen->add_flag("--force", keygen_force, "Replace the file if it exists");

  auto* id = app.add_subcommand("id", "Print the 26-character ID of a key file");
  std::string id_key;
  id->add_option("--key", id_key, "PKCS#8 PEM Ed25519 key file (mode 0600)")->required();

  portal::apps::client::VanityOptions vanity_options;
  auto* vanity = portal::apps::client::add_vanity_command(app, vanity_options);

  portal::apps::ExposeFlags expose_flags;
  auto* expose = portal::apps::add_expose(app, expose_flags);
  portal::apps::ConnectFlags connect_flags;
  auto* connect = portal::apps::add_connect(app, connect_flags);
  portal::apps::InfoFlags info_flags;
  auto* info = portal::apps::add_info(app, info_flags);

  return portal::apps::run_cli(app, argc, argv, [&]() -> int {
    if (list && !app.get_subcommands().empty()) {
      throw UsageError("--list-plugins takes no command");
    }
    if (keygen->parsed()) {
      auto credential = identity::Credential::generate(portal::base::OsRandom::instance());
      if (!credential) throw UsageError("cannot create a key: " + credential.error().message());
      auto saved = platform::save_key_file(
          keygen_out, *credential,
          keygen_force ? platform::Overwrite::Yes : platform::Overwrite::No);
      if (!saved) fail_key_file("cannot write key file", keygen_out, saved.error());
      std::cout << credential->id() << '\n';
      return 0;
    }
    if (id->parsed()) {
      std::cout << load_key(id_key).id() << '\n';
      return 0;
    }
    if (vanity->parsed()) return portal::apps::client::run_vanity(vanity_options);
    if (expose->parsed()) return portal::apps::run_expose(expose_flags);
    if (connect->parsed()) return portal::apps::run_connect(connect_flags);
    if (info->parsed()) return portal::apps::run_info(info_flags);
    if (list) return list_plugins(list_dirs);
    throw UsageError(
        "a command is required (keygen, id, vanity, expose, connect, info) or "
        "--list-plugins; see --help");
  });
}
