// SPDX-License-Identifier: Apache-2.0
#pragma once

// The `portal` subcommands that build a client stack: expose, connect, info.

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace portal::apps {

/// The options every stack-building subcommand takes.
struct StackFlags {
  std::string config_file;
  std::vector<std::string> plugin_dirs;
  std::string relays;  ///< comma-separated
  std::string key_file;
  std::string ca_file;  ///< trusted besides the system store (tls:// and wss://)
};

struct ExposeFlags {
  StackFlags stack;
  std::string target;  ///< HOST:PORT
  std::string name;
  std::string alpn = "http/1.1,h2";
  std::string description;
  std::string owner;
  std::vector<std::string> tags;
  bool hide = false;
};

struct ConnectFlags {
  StackFlags stack;
  std::string target;  ///< a lease name or ID
  std::string listen;  ///< HOST:PORT
  std::string alpn = "http/1.1";
};

struct InfoFlags {
  StackFlags stack;
};

CLI::App* add_expose(CLI::App& app, ExposeFlags& flags);
CLI::App* add_connect(CLI::App& app, ConnectFlags& flags);
CLI::App* add_info(CLI::App& app, InfoFlags& flags);

int run_expose(const ExposeFlags& flags);
int run_connect(const ConnectFlags& flags);
int run_info(const InfoFlags& flags);

}  // namespace portal::apps
