// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/identity/identity.hpp"

namespace portal::handshake {

/// The capability extension of the negotiated channel (docs/adr/0014-negotiated-channel.md),
/// carried in InitPayload field 15, which v1 peers skip.
struct Capabilities {
  /// The negotiated channel's version; kNegotiatedChannelVersion is the only one.
  std::uint32_t version = 0;
  /// Client: the AEAD algorithms it offers, most preferred first. Server: exactly the one chosen.
  std::vector<std::string> ciphers;
  /// Server only: SHA-256 of the ClientInit's signed `data` bytes; empty from a client.
  base::Bytes client_init_hash;

  /// Field-by-field equality.
  friend bool operator==(const Capabilities&, const Capabilities&) = default;
};

/// ClientInitPayload / ServerInitPayload (portal-v1 §4.6, §8.2, §8.4): one layout for both.
struct InitPayload {
  std::uint32_t version = 0;   ///< PROTOCOL_VERSION_1 = 0, the only valid value
  base::Bytes nonce;           ///< 12 random bytes
  std::int64_t timestamp = 0;  ///< sender's clock, Unix seconds
  /// The sender's identity (ID and Ed25519 public key); the receiver validates it and checks that
  /// it signed the enclosing SignedPayload.
  identity::Identity identity;
  std::string alpn;                ///< client: the requested protocol; server: its echo
  base::Bytes session_public_key;  ///< 32-byte X25519 ephemeral public key
  /// Ours (field 15): present only when the sender speaks the negotiated channel.
  std::optional<Capabilities> capabilities;

  /// Field-by-field equality (for tests and round-trip checks).
  friend bool operator==(const InitPayload&, const InitPayload&) = default;
};

/// SignedPayload (portal-v1 §4.6): serialized bytes and the Ed25519 signature over them.
struct SignedPayload {
  /// The serialized InitPayload, exactly as signed: the signature is checked over these bytes,
  /// not over a re-encoding of the decoded payload.
  base::Bytes data;
  /// The sender's Ed25519 signature over `data` (64 bytes when well-formed).
  base::Bytes signature;

  /// Byte-exact equality of both fields.
  friend bool operator==(const SignedPayload&, const SignedPayload&) = default;
};

/// Serializes as the original does: fields in number order, proto3 defaults omitted.
[[nodiscard]] PORTAL_API base::Bytes encode(const InitPayload& payload);
/// Serializes a SignedPayload the same way: {1: data, 2: signature}, empty fields omitted.
[[nodiscard]] PORTAL_API base::Bytes encode(const SignedPayload& payload);

/// Parses peer bytes. Errors: Errc::MalformedMessage. Never throws, whatever the input.
[[nodiscard]] PORTAL_API base::Result<InitPayload> decode_init_payload(base::ByteSpan bytes);
/// Parses a SignedPayload from peer bytes (the signature is not checked here). Errors:
/// Errc::MalformedMessage. Never throws.
[[nodiscard]] PORTAL_API base::Result<SignedPayload> decode_signed_payload(base::ByteSpan bytes);

}  // namespace portal::handshake
