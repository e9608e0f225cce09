// SPDX-License-Identifier: Apache-2.0
#pragma once

// The plugin listing both programs print for --list-plugins (docs/plugins.md).

#include <iostream>

#include "portal/plugin/host.hpp"

namespace portal::apps {

/// One line per loaded plugin (`plugin  <id>  <kind>  <version>  <file>`) and per refused file
/// (`refused <file>: <reason>`). Returns whether nothing was refused.
inline bool print_plugins(const plugin::Host& host) {
  for (const auto& p : host.plugins()) {
    std::cout << "plugin  " << p->id() << "  " << plugin::to_string(p->kind()) << "  "
              << p->version() << "  " << p->file().string() << '\n';
  }
  for (const auto& r : host.refusals()) std::cout << "refused " << r.to_string() << '\n';
  return host.refusals().empty();
}

}  // namespace portal::apps
