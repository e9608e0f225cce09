// SPDX-License-Identifier: Apache-2.0
// The plugin entry of portal.cipher.openssl.
#include "openssl_aead.hpp"
#include "portal/plugin/sdk.hpp"
#include "portal/version.hpp"

namespace {
portal::plugin::Factory* make_factory() noexcept { return &portal::plugins::openssl::factory(); }
}  // namespace

PORTAL_PLUGIN(portal::plugin::Kind::Cipher, "portal.cipher.openssl", portal::kVersion, make_factory,
              "chacha20-poly1305", "aes-256-gcm")
