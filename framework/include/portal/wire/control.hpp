// SPDX-License-Identifier: Apache-2.0
#pragma once

// The Portal v1 control messages (portal-v1 §4): the packet envelope and every message, with the
// original's byte-exact encoding (§4.7). Sans-IO; peer bytes never throw.

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/identity/identity.hpp"

namespace portal::wire {

/// Errors of the control codec.
enum class Errc {
  MalformedPacket = 1,  ///< the Packet envelope does not parse
  MalformedMessage,     ///< the payload does not parse as the message its type names
  UnknownPacketType,    ///< a type outside 0-7
};

PORTAL_API const boost::system::error_category& wire_category() noexcept;

inline base::ErrorCode make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), wire_category()};
}

/// Largest control packet (portal-v1 §4.2: N <= 2^26).
inline constexpr std::size_t kMaxPacketSize = std::size_t{1} << 26;

/// §4.4
enum class PacketType : std::uint32_t {
  RelayInfoRequest = 0,
  RelayInfoResponse = 1,
  LeaseUpdateRequest = 2,
  LeaseUpdateResponse = 3,
  LeaseDeleteRequest = 4,
  LeaseDeleteResponse = 5,
  ConnectionRequest = 6,
  ConnectionResponse = 7,
};

/// §4.5
enum class ResponseCode : std::uint32_t {
  Unknown = 0,
  Accepted = 1,
  InvalidExpires = 2,
  InvalidIdentity = 3,
  InvalidName = 4,
  InvalidAlpn = 5,
  Rejected = 6,
};

/// The code's name as the protocol writes it ("ACCEPTED", "INVALID_NAME", ...; "UNKNOWN").
[[nodiscard]] PORTAL_API const char* to_string(ResponseCode code) noexcept;

/// The envelope: a type and the serialized inner message.
struct Packet {
  PacketType type = PacketType::RelayInfoRequest;
  base::Bytes payload;
  friend bool operator==(const Packet&, const Packet&) = default;
};

struct Lease {
  std::optional<identity::Identity> identity;
  std::int64_t expires = 0;  ///< Unix seconds
  std::string name;
  std::vector<std::string> alpn;
  std::string metadata;  ///< later v1: JSON text
  friend bool operator==(const Lease&, const Lease&) = default;
};

struct RelayInfo {
  std::optional<identity::Identity> identity;
  std::vector<std::string> address;
  std::vector<Lease> leases;
  friend bool operator==(const RelayInfo&, const RelayInfo&) = default;
};

struct LeaseUpdateRequest {
  std::optional<Lease> lease;
  base::Bytes nonce;
  std::int64_t timestamp = 0;
  friend bool operator==(const LeaseUpdateRequest&, const LeaseUpdateRequest&) = default;
};

struct LeaseDeleteRequest {
  std::optional<identity::Identity> identity;
  base::Bytes nonce;
  std::int64_t timestamp = 0;
  friend bool operator==(const LeaseDeleteRequest&, const LeaseDeleteRequest&) = default;
};

struct ConnectionRequest {
  std::string lease_id;
  std::optional<identity::Identity> client_identity;
  friend bool operator==(const ConnectionRequest&, const ConnectionRequest&) = default;
};

/// Envelope. encode_packet_wire adds the 4-byte length prefix (§4.2).
[[nodiscard]] PORTAL_API base::Bytes encode(const Packet& packet);
[[nodiscard]] PORTAL_API base::Bytes encode_packet_wire(const Packet& packet);
/// Errors: Errc::MalformedPacket, Errc::UnknownPacketType.
[[nodiscard]] PORTAL_API base::Result<Packet> decode_packet(base::ByteSpan bytes);

// Inner messages. Absent optional sub-messages are omitted; present ones are always emitted,
// even when empty (§4.7). Decoders accept any valid protobuf; errors: Errc::MalformedMessage.
[[nodiscard]] PORTAL_API base::Bytes encode(const RelayInfo& relay_info);  ///< RelayInfoResponse
[[nodiscard]] PORTAL_API base::Result<RelayInfo> decode_relay_info_response(base::ByteSpan bytes);
[[nodiscard]] PORTAL_API base::Bytes encode(const LeaseUpdateRequest& request);
[[nodiscard]] PORTAL_API base::Result<LeaseUpdateRequest> decode_lease_update_request(
    base::ByteSpan bytes);
[[nodiscard]] PORTAL_API base::Bytes encode(const LeaseDeleteRequest& request);
[[nodiscard]] PORTAL_API base::Result<LeaseDeleteRequest> decode_lease_delete_request(
    base::ByteSpan bytes);
[[nodiscard]] PORTAL_API base::Bytes encode(const ConnectionRequest& request);
[[nodiscard]] PORTAL_API base::Result<ConnectionRequest> decode_connection_request(
    base::ByteSpan bytes);
/// LeaseUpdateResponse, LeaseDeleteResponse and ConnectionResponse: {1: code}.
[[nodiscard]] PORTAL_API base::Bytes encode_response(ResponseCode code);
[[nodiscard]] PORTAL_API base::Result<ResponseCode> decode_response(base::ByteSpan bytes);

}  // namespace portal::wire

template <>
struct boost::system::is_error_code_enum<portal::wire::Errc> : std::true_type {};
