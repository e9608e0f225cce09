// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The plugin side of ciphers: what a cipher plugin exports. Apart from aead.hpp so that the
/// protocol cores (secure_channel) see the Aead interface without the plugin ABI.

#include <memory>
#include <string_view>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/cipher/aead.hpp"
#include "portal/plugin/descriptor.hpp"

namespace portal::cipher {

/// The factory a cipher plugin exports (interface "portal.cipher.aead/1").
class PORTAL_API AeadFactory : public plugin::Factory {
 public:
  /// The name Plugin::factory() checks a cipher plugin's factory against (interface_name());
  /// the number after the slash is the interface's version.
  static constexpr std::string_view kInterface = "portal.cipher.aead/1";

  [[nodiscard]] std::string_view interface_name() const noexcept final { return kInterface; }

  /// A new cipher for `algorithm` (one of the plugin's provided names) keyed with `key`.
  /// Errors: Errc::UnknownAlgorithm, Errc::InvalidKeyLength, plugin::Errc::PluginOutOfMemory.
  [[nodiscard]] virtual base::Result<std::unique_ptr<Aead>> create(std::string_view algorithm,
                                                                   base::ByteSpan key) noexcept = 0;
};

}  // namespace portal::cipher
