// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "portal/plugin/host.hpp"

namespace portal::test {

/// A plugin host with every shipped plugin of this build tree loaded (<build>/lib/portal/plugins).
/// Each refused file is a test failure.
inline std::unique_ptr<plugin::Host> load_build_plugins() {
  plugin::HostOptions options;
  options.directories = {PORTAL_BUILD_PLUGIN_DIR};
  auto host = std::make_unique<plugin::Host>(options);
  host->load_all();
  for (const auto& r : host->refusals()) ADD_FAILURE() << r.to_string();
  return host;
}

}  // namespace portal::test
