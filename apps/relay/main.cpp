// SPDX-License-Identifier: Apache-2.0
// portal-relay: the relay server. This first cut reports its version; the server itself arrives
// with the relay issue.

#include <iostream>

#include "../common/cli_main.hpp"
#include "portal/version.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Portal relay: forwards end-to-end encrypted connections between Portal clients",
               "portal-relay"};
  portal::apps::use_one_line_errors(app);
  bool version = false;
  app.add_flag("--version", version, "Print the version and exit");

  return portal::apps::run_cli(app, argc, argv, [&]() -> int {
    if (version) {
      std::cout << "portal-relay " << portal::kVersion << " (" << portal::kWireProtocol
                << " wire protocol)\n";
      return 0;
    }
    throw portal::apps::UsageError(
        "the relay server is not implemented in this build yet; only --version is available", 2);
  });
}
