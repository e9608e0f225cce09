// SPDX-License-Identifier: Apache-2.0
// The plugin entry of portal.cipher.chacha20-poly1305.
#include "chacha20_poly1305.hpp"
#include "portal/plugin/sdk.hpp"
#include "portal/version.hpp"

namespace {
portal::plugin::Factory* make_factory() noexcept { return &portal::plugins::chacha::factory(); }
}  // namespace

PORTAL_PLUGIN(portal::plugin::Kind::Cipher, "portal.cipher.chacha20-poly1305", portal::kVersion,
              make_factory, "chacha20-poly1305")
