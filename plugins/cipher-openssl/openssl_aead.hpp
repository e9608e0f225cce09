// SPDX-License-Identifier: Apache-2.0
#pragma once

// ChaCha20-Poly1305 (RFC 8439) and AES-256-GCM (NIST SP 800-38D) on OpenSSL 3's EVP interface,
// behind portal::cipher::AeadFactory. ChaCha20-Poly1305 is byte for byte the algorithm of
// cipher-chacha (Crypto++), several times faster; AES-256-GCM is offered only where nonces never
// repeat (counter nonces), never on v1's random-nonce channel.

#include <string_view>

#include "portal/cipher/aead_factory.hpp"

namespace portal::plugins::openssl {

/// The algorithm names the factory accepts.
inline constexpr std::string_view kChaCha20Poly1305 = "chacha20-poly1305";
inline constexpr std::string_view kAes256Gcm = "aes-256-gcm";

/// The process-wide factory (stateless, thread-safe; each Aead it creates is not).
cipher::AeadFactory& factory() noexcept;

}  // namespace portal::plugins::openssl
