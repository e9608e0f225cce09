// SPDX-License-Identifier: Apache-2.0
// The plugin entry of portal.transport.ws.
#include "portal/plugin/sdk.hpp"
#include "portal/version.hpp"
#include "ws_transport.hpp"

namespace {
portal::plugin::Factory* make_factory() noexcept { return &portal::plugins::ws::factory(); }
}  // namespace

PORTAL_PLUGIN(portal::plugin::Kind::Transport, "portal.transport.ws", portal::kVersion,
              make_factory, "ws", "wss", "http", "https")
