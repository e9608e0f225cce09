// SPDX-License-Identifier: Apache-2.0
// The plugin entry of example.transport.unix: the one file that includes the SDK macro.
#include "portal/plugin/sdk.hpp"
#include "unix_transport.hpp"

namespace {
portal::plugin::Factory* make_factory() noexcept { return &example::unix_transport::factory(); }
}  // namespace

PORTAL_PLUGIN(portal::plugin::Kind::Transport, "example.transport.unix", "1.0.0", make_factory,
              "unix")
