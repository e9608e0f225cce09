// SPDX-License-Identifier: Apache-2.0
// The plugin entry of portal.transport.tcp.
#include "portal/plugin/sdk.hpp"
#include "portal/version.hpp"
#include "tcp_transport.hpp"

namespace {
portal::plugin::Factory* make_factory() noexcept { return &portal::plugins::tcp::factory(); }
}  // namespace

PORTAL_PLUGIN(portal::plugin::Kind::Transport, "portal.transport.tcp", portal::kVersion,
              make_factory, "tcp", "tls")
