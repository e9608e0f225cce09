// SPDX-License-Identifier: Apache-2.0
#pragma once

// The Portal v1 control messages (portal-v1 §4): the packet envelope and every message, with the
// original's byte-exact encoding (§4.7). Sans-IO; peer bytes never throw.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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
  UnknownPacketType,    ///< a type outside 0-9
  TargetTooLarge,       ///< a LeaseLookupRequest target above kMaxLookupTarget bytes
  TooManyLeases,        ///< a LeaseLookupResponse with more than kMaxLookupLeases leases
};

/// The category of wire::Errc ("portal.wire"): names the codes and gives their messages.
PORTAL_API const boost::system::error_category& wire_category() noexcept;

/// `e` as an error code of this module's category. Found by argument-dependent lookup, it
/// lets an Errc convert to base::ErrorCode and compare with one.
inline base::ErrorCode make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), wire_category()};
}

/// Largest control packet (portal-v1 §4.2: N <= 2^26).
inline constexpr std::size_t kMaxPacketSize = std::size_t{1} << 26;

/// The type of a control packet (portal-v1 §4.4): each request is answered on its stream by the
/// response numbered one above it. 8 and 9 are ours (docs/adr/0016-lease-lookup.md): v1 relays
/// close a stream on them, so they are sent only to a relay that lists kFeatureLeaseLookup. A
/// value outside 0-9 is Errc::UnknownPacketType.
enum class PacketType : std::uint32_t {
  RelayInfoRequest = 0,
  RelayInfoResponse = 1,
  LeaseUpdateRequest = 2,
  LeaseUpdateResponse = 3,
  LeaseDeleteRequest = 4,
  LeaseDeleteResponse = 5,
  ConnectionRequest = 6,
  ConnectionResponse = 7,
  LeaseLookupRequest = 8,   ///< ours: resolve one name or ID (ADR 0016)
  LeaseLookupResponse = 9,  ///< ours: the leases it names
};

/// The RelayInfo feature of a relay that answers LeaseLookupRequest (ADR 0016).
inline constexpr std::string_view kFeatureLeaseLookup = "lease-lookup/1";
/// The largest LeaseLookupRequest target decoded (a name or an ID; IDs are 26 bytes).
inline constexpr std::size_t kMaxLookupTarget = 1024;
/// The most leases a LeaseLookupResponse carries (one identity's holder relays, or the
/// identities a name matches).
inline constexpr std::size_t kMaxLookupLeases = 64;

/// The answer to a lease update, a lease delete or a connection request (portal-v1 §4.5).
enum class ResponseCode : std::uint32_t {
  Unknown = 0,          ///< the zero value: never sent; stands for "no answer" locally
  Accepted = 1,         ///< the lease is stored or deleted, or the connection is spliced
  InvalidExpires = 2,   ///< defined by v1, never sent
  InvalidIdentity = 3,  ///< no such lease, or a request without a valid identity or signature
  InvalidName = 4,      ///< the lease name is invalid or reserved by the relay
  InvalidAlpn = 5,      ///< defined by v1, never sent
  Rejected = 6,         ///< refused: a limit, a name taken, a stale or replayed request, or
                        ///< the lease holder refused or is gone
};

/// The code's name as the protocol writes it ("ACCEPTED", "INVALID_NAME", ...; "UNKNOWN").
[[nodiscard]] PORTAL_API const char* to_string(ResponseCode code) noexcept;

/// The envelope: a type and the serialized inner message.
struct Packet {
  /// Which message `payload` holds.
  PacketType type = PacketType::RelayInfoRequest;
  /// The serialized inner message (empty for a RelayInfoRequest); decode it with the decoder its
  /// type names.
  base::Bytes payload;
  /// Field-by-field equality.
  friend bool operator==(const Packet&, const Packet&) = default;
};

/// A lease (§4.6): an identity's announcement that it can be dialed through this relay, under an
/// optional name, until `expires`.
struct Lease {
  /// The lease holder; its ID is the lease ID dialers ask for. Absent only in malformed requests,
  /// which the relay answers with INVALID_IDENTITY.
  std::optional<identity::Identity> identity;
  std::int64_t expires = 0;  ///< Unix seconds
  /// Human-readable name for lookups, may be empty; not unique across relays. The relay refuses a
  /// name another identity holds (see lease::LeaseTable::update()).
  std::string name;
  /// The application protocols the holder accepts (e.g. "http/1.1"); a dialer's ALPN must be one of
  /// them.
  std::vector<std::string> alpn;
  std::string metadata;  ///< later v1: JSON text
  /// Field-by-field equality.
  friend bool operator==(const Lease&, const Lease&) = default;
};

/// A relay's answer to RelayInfoRequest: who it is, where it says it listens, and its leases.
struct RelayInfo {
  /// The relay's own identity (its configured key's, or a fresh one per start); clients report
  /// its ID (RelayStatus::relay_id) but do not authenticate the relay with it.
  std::optional<identity::Identity> identity;
  /// The relay's configured public URLs (informational; clients do not dial them).
  std::vector<std::string> address;
  /// Every unexpired lease, as last accepted, in no promised order.
  std::vector<Lease> leases;
  /// Ours (field 4, unknown to v1 clients, which skip it): what the relay supports beyond v1,
  /// such as kFeatureLeaseLookup. Empty from a v1 relay.
  std::vector<std::string> features;
  /// Field-by-field equality.
  friend bool operator==(const RelayInfo&, const RelayInfo&) = default;
};

/// Registers or renews a lease (§6.3); sent signed by the lease holder inside a
/// handshake::SignedPayload.
struct LeaseUpdateRequest {
  /// The full lease to register or renew; absent is INVALID_IDENTITY.
  std::optional<Lease> lease;
  /// 12 random bytes; with the identity it keys this relay's replay cache (v1 relays ignore it).
  base::Bytes nonce;
  /// The sender's clock, Unix seconds; this relay refuses it outside the allowed skew (v1 relays
  /// ignore it).
  std::int64_t timestamp = 0;
  /// Field-by-field equality.
  friend bool operator==(const LeaseUpdateRequest&, const LeaseUpdateRequest&) = default;
};

/// Deletes a lease before it expires (§6.4); signed by the lease holder like LeaseUpdateRequest.
struct LeaseDeleteRequest {
  /// Whose lease to delete: the signature must verify under this identity's key.
  std::optional<identity::Identity> identity;
  /// 12 random bytes; keys the replay cache as in LeaseUpdateRequest.
  base::Bytes nonce;
  /// The sender's clock, Unix seconds; checked against the allowed skew as in LeaseUpdateRequest.
  std::int64_t timestamp = 0;
  /// Field-by-field equality.
  friend bool operator==(const LeaseDeleteRequest&, const LeaseDeleteRequest&) = default;
};

/// The first message on a stream a dialer opens (§6.5): which lease to be connected to.
struct ConnectionRequest {
  /// The ID of the lease to reach, exact and case-sensitive (a 26-character identity ID).
  std::string lease_id;
  /// The dialer's identity as it claims it: informational only, never verified (the handshake
  /// authenticates the dialer end to end).
  std::optional<identity::Identity> client_identity;
  /// Field-by-field equality.
  friend bool operator==(const ConnectionRequest&, const ConnectionRequest&) = default;
};

/// Ours (ADR 0016): which lease a name or an ID names, asked of one relay.
struct LeaseLookupRequest {
  /// A lease name or an identity ID, as the client's resolve_target() takes it; at most
  /// kMaxLookupTarget bytes.
  std::string target;
  /// Field-by-field equality.
  friend bool operator==(const LeaseLookupRequest&, const LeaseLookupRequest&) = default;
};

/// Ours (ADR 0016): the relay's answer to a LeaseLookupRequest.
struct LeaseLookupResponse {
  /// ACCEPTED with leases; INVALID_IDENTITY when nothing was found; REJECTED when nothing was
  /// found locally and the fleet directory could not be asked.
  ResponseCode code = ResponseCode::Unknown;
  /// The leases found (at most kMaxLookupLeases), as in RelayInfo.
  std::vector<Lease> leases;
  /// Field-by-field equality.
  friend bool operator==(const LeaseLookupResponse&, const LeaseLookupResponse&) = default;
};

/// Envelope. encode_packet_wire adds the 4-byte length prefix (§4.2).
[[nodiscard]] PORTAL_API base::Bytes encode(const Packet& packet);
/// LP(encode(packet)): the packet as it is written to a control stream.
[[nodiscard]] PORTAL_API base::Bytes encode_packet_wire(const Packet& packet);
/// Parses an envelope (without its length prefix) from peer bytes; the payload is not decoded.
/// Errors: Errc::MalformedPacket, Errc::UnknownPacketType.
[[nodiscard]] PORTAL_API base::Result<Packet> decode_packet(base::ByteSpan bytes);

// Inner messages. Absent optional sub-messages are omitted; present ones are always emitted,
// even when empty (§4.7). Decoders accept any valid protobuf; errors: Errc::MalformedMessage.
/// The payload of a RelayInfoResponse: {1: relay_info}.
[[nodiscard]] PORTAL_API base::Bytes encode(const RelayInfo& relay_info);
/// Parses a RelayInfoResponse payload.
[[nodiscard]] PORTAL_API base::Result<RelayInfo> decode_relay_info_response(base::ByteSpan bytes);
/// The LeaseUpdateRequest message: the bytes the lease holder signs.
[[nodiscard]] PORTAL_API base::Bytes encode(const LeaseUpdateRequest& request);
/// Parses a LeaseUpdateRequest (the `data` of its SignedPayload).
[[nodiscard]] PORTAL_API base::Result<LeaseUpdateRequest> decode_lease_update_request(
    base::ByteSpan bytes);
/// The LeaseDeleteRequest message: the bytes the lease holder signs.
[[nodiscard]] PORTAL_API base::Bytes encode(const LeaseDeleteRequest& request);
/// Parses a LeaseDeleteRequest (the `data` of its SignedPayload).
[[nodiscard]] PORTAL_API base::Result<LeaseDeleteRequest> decode_lease_delete_request(
    base::ByteSpan bytes);
/// The payload of a ConnectionRequest packet (not signed).
[[nodiscard]] PORTAL_API base::Bytes encode(const ConnectionRequest& request);
/// Parses a ConnectionRequest payload.
[[nodiscard]] PORTAL_API base::Result<ConnectionRequest> decode_connection_request(
    base::ByteSpan bytes);
/// LeaseUpdateResponse, LeaseDeleteResponse and ConnectionResponse: {1: code}.
[[nodiscard]] PORTAL_API base::Bytes encode_response(ResponseCode code);
/// Parses any of the three responses. A code outside v1's set is returned as it is.
[[nodiscard]] PORTAL_API base::Result<ResponseCode> decode_response(base::ByteSpan bytes);
/// The payload of a LeaseLookupRequest packet: {1: target}.
[[nodiscard]] PORTAL_API base::Bytes encode(const LeaseLookupRequest& request);
/// Parses a LeaseLookupRequest payload. The target's size is checked before it is copied.
/// Errors: Errc::MalformedMessage, Errc::TargetTooLarge.
[[nodiscard]] PORTAL_API base::Result<LeaseLookupRequest> decode_lease_lookup_request(
    base::ByteSpan bytes);
/// The payload of a LeaseLookupResponse packet: {1: code, 2: leases}.
[[nodiscard]] PORTAL_API base::Bytes encode(const LeaseLookupResponse& response);
/// Parses a LeaseLookupResponse payload. The leases are counted before any is decoded.
/// Errors: Errc::MalformedMessage, Errc::TooManyLeases.
[[nodiscard]] PORTAL_API base::Result<LeaseLookupResponse> decode_lease_lookup_response(
    base::ByteSpan bytes);

}  // namespace portal::wire

template <>
struct boost::system::is_error_code_enum<portal::wire::Errc> : std::true_type {};
