// SPDX-License-Identifier: Apache-2.0
#pragma once

// ChaCha20-Poly1305 (RFC 8439) on Crypto++, behind portal::cipher::AeadFactory. Built both into
// the portal.cipher.chacha20-poly1305 plugin and as a static object for direct linking.

#include "portal/cipher/aead_factory.hpp"

namespace portal::plugins::chacha {

/// The algorithm name the factory accepts.
inline constexpr std::string_view kAlgorithm = "chacha20-poly1305";

/// The process-wide factory (stateless, thread-safe).
cipher::AeadFactory& factory() noexcept;

}  // namespace portal::plugins::chacha
