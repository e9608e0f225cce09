// SPDX-License-Identifier: Apache-2.0
// The mux conformance suites (kit/) on portal-mux-yamux, loaded from the build tree's plugin
// folder.
#include "portal/conformance/mux.hpp"

namespace {

using portal::conformance::MuxParams;

MuxParams yamux() {
  MuxParams p;
  p.name = "yamux";
  p.plugin = std::filesystem::path(PORTAL_BUILD_PLUGIN_DIR) / "portal-mux-yamux.so";
  p.keepalive_settings = {{"keepalive_interval_ms", "100"}, {"ping_timeout_ms", "200"}};
  p.keepalive_deadline = std::chrono::milliseconds(2000);
  return p;
}

}  // namespace

PORTAL_MUX_CONFORMANCE(Shipped, ::testing::Values(yamux()));
PORTAL_MUX_KEEPALIVE_CONFORMANCE(Shipped, ::testing::Values(yamux()));
