// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/crypto/ed25519.hpp"
#include "portal/identity/errors.hpp"

namespace portal::identity {

/// Length of a Portal v1 ID: base32 of 16 bytes, unpadded (portal-v1 §5.2).
inline constexpr std::size_t kIdLength = 26;

/// The HMAC key of the v1 ID derivation (portal-v1 §5.2).
inline constexpr std::string_view kIdHmacKey = "RDVERB_PROTOCOL_VER_01_SHA256_ID";

/// Derives the v1 ID of an Ed25519 public key:
/// base32(HMAC-SHA256(key = kIdHmacKey, message = public_key)[0..16]), 26 characters.
[[nodiscard]] PORTAL_API std::string derive_id(const crypto::Ed25519PublicKey& public_key);

/// True when `id` has the form of a v1 ID: 26 characters of the upper-case base32 alphabet whose
/// last character carries only 3 data bits (one of A E I M Q U Y 4). Says nothing about which key
/// it belongs to.
[[nodiscard]] PORTAL_API bool is_well_formed_id(std::string_view id) noexcept;

/// `text` upper-cased when that is a well-formed ID (an ID typed in any letter case), else
/// nothing.
[[nodiscard]] PORTAL_API std::optional<std::string> id_in_any_case(std::string_view text);

/// An Identity as it travels on the wire (the v1 `rdsec.Identity` message): an ID and the
/// public key it claims to belong to. Unvalidated until validate() says otherwise.
struct Identity {
  /// The claimed v1 ID: base32 of the first 16 bytes of HMAC-SHA256(kIdHmacKey, public_key), 26
  /// characters; not yet checked against `public_key`.
  std::string id;
  /// The claimed Ed25519 public key; validate() requires exactly 32 bytes.
  base::Bytes public_key;

  /// Byte-exact equality of both fields (the ID compares case-sensitively).
  friend bool operator==(const Identity&, const Identity&) = default;
};

/// Validates an Identity as v1 peers do (portal-v1 §5.3): the public key is 32 bytes and the ID
/// equals derive_id(public_key) exactly (case-sensitive, no padding).
/// Errors: Errc::InvalidPublicKey, Errc::IdMismatch.
[[nodiscard]] PORTAL_API base::Result<void> validate(const Identity& identity);

/// Serializes an Identity as the v1 protobuf message {1: id, 2: public_key}.
[[nodiscard]] PORTAL_API base::Bytes encode_identity(const Identity& identity);

/// Parses the v1 protobuf Identity message. Does not validate it.
/// Errors: Errc::MalformedIdentity.
[[nodiscard]] PORTAL_API base::Result<Identity> decode_identity(base::ByteSpan bytes);

}  // namespace portal::identity
