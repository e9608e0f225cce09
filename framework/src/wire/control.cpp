// SPDX-License-Identifier: Apache-2.0
#include "portal/wire/control.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <climits>

#include "detail/error_category.hpp"
#include "detail/protobuf_codec.hpp"
#include "portal/base/length_prefixed.hpp"
#include "rdverb.pb.h"

namespace portal::wire {
namespace {

namespace pb = portal::wire::rdverb;
namespace pbsec = portal::wire::rdsec;

const char* describe(Errc e) noexcept {
  switch (e) {
    case Errc::MalformedPacket: return "malformed control packet";
    case Errc::MalformedMessage: return "malformed control message";
    case Errc::UnknownPacketType: return "unknown control packet type";
    case Errc::TargetTooLarge: return "lease lookup target larger than the limit";
    case Errc::TooManyLeases: return "lease lookup answer with more leases than the limit";
  }
  return nullptr;
}

std::string text(base::ByteSpan b) { return std::string(base::as_chars(b)); }
base::Bytes bytes(const std::string& s) { return base::to_bytes(base::as_bytes(s)); }

void to_pb(const identity::Identity& in, pbsec::Identity& out) {
  out.set_id(in.id);
  out.set_public_key(text(in.public_key));
}

identity::Identity from_pb(const pbsec::Identity& in) {
  return identity::Identity{in.id(), bytes(in.public_key())};
}

void to_pb(const Lease& in, pb::Lease& out) {
  if (in.identity) to_pb(*in.identity, *out.mutable_identity());
  out.set_expires(in.expires);
  out.set_name(in.name);
  for (const auto& a : in.alpn) out.add_alpn(a);
  out.set_metadata(in.metadata);
}

Lease from_pb(const pb::Lease& in) {
  Lease out;
  if (in.has_identity()) out.identity = from_pb(in.identity());
  out.expires = in.expires();
  out.name = in.name();
  out.alpn.assign(in.alpn().begin(), in.alpn().end());
  out.metadata = in.metadata();
  return out;
}

// What scan() found of one field number among a message's top-level fields.
struct FieldScan {
  std::size_t count = 0;    // occurrences
  std::size_t largest = 0;  // the largest length-delimited value, in bytes
};

// Walks the top-level fields of a serialized message without decoding or copying anything, so
// that a decoder can check a bound before protobuf allocates for the field. False when the bytes
// do not parse as protobuf.
bool scan(base::ByteSpan in, int field, FieldScan& out) {
  namespace gp = google::protobuf;
  using gp::internal::WireFormatLite;
  if (in.size() > static_cast<std::size_t>(INT_MAX)) return false;
  gp::io::CodedInputStream stream(reinterpret_cast<const std::uint8_t*>(in.data()),
                                  static_cast<int>(in.size()));
  for (;;) {
    const std::uint32_t tag = stream.ReadTag();
    if (tag == 0) return stream.ConsumedEntireMessage();  // the end, or a malformed tag
    if (WireFormatLite::GetTagFieldNumber(tag) == field &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      std::uint32_t length = 0;
      if (!stream.ReadVarint32(&length) || length > static_cast<std::uint32_t>(INT_MAX) ||
          !stream.Skip(static_cast<int>(length))) {
        return false;
      }
      ++out.count;
      out.largest = std::max<std::size_t>(out.largest, length);
      continue;
    }
    if (WireFormatLite::GetTagFieldNumber(tag) == field) ++out.count;
    if (!WireFormatLite::SkipField(&stream, tag)) return false;
  }
}

}  // namespace

const boost::system::error_category& wire_category() noexcept {
  static const detail::EnumCategory<Errc> category("portal.wire", describe);
  return category;
}

base::Bytes encode(const Packet& packet) {
  pb::Packet msg;
  msg.set_type(static_cast<pb::PacketType>(packet.type));
  msg.set_payload(text(packet.payload));
  return detail::serialize_message(msg);
}

base::Bytes encode_packet_wire(const Packet& packet) {
  base::Bytes wire;
  base::append_length_prefixed(wire, encode(packet));
  return wire;
}

base::Result<Packet> decode_packet(base::ByteSpan bytes_in) {
  pb::Packet msg;
  if (!detail::parse_message(msg, bytes_in)) return Errc::MalformedPacket;
  const auto type = static_cast<std::uint32_t>(msg.type());
  if (type > static_cast<std::uint32_t>(PacketType::LeaseLookupResponse)) {
    return Errc::UnknownPacketType;
  }
  return Packet{static_cast<PacketType>(type), bytes(msg.payload())};
}

base::Bytes encode(const RelayInfo& info) {
  pb::RelayInfoResponse msg;
  auto* ri = msg.mutable_relay_info();
  if (info.identity) to_pb(*info.identity, *ri->mutable_identity());
  for (const auto& a : info.address) ri->add_address(a);
  for (const auto& l : info.leases) to_pb(l, *ri->add_leases());
  for (const auto& f : info.features) ri->add_features(f);
  return detail::serialize_message(msg);
}

base::Result<RelayInfo> decode_relay_info_response(base::ByteSpan in) {
  pb::RelayInfoResponse msg;
  if (!detail::parse_message(msg, in)) return Errc::MalformedMessage;
  RelayInfo out;
  const auto& ri = msg.relay_info();
  if (ri.has_identity()) out.identity = from_pb(ri.identity());
  out.address.assign(ri.address().begin(), ri.address().end());
  for (const auto& l : ri.leases()) out.leases.push_back(from_pb(l));
  out.features.assign(ri.features().begin(), ri.features().end());
  return out;
}

base::Bytes encode(const LeaseUpdateRequest& request) {
  pb::LeaseUpdateRequest msg;
  if (request.lease) to_pb(*request.lease, *msg.mutable_lease());
  msg.set_nonce(text(request.nonce));
  msg.set_timestamp(request.timestamp);
  return detail::serialize_message(msg);
}

base::Result<LeaseUpdateRequest> decode_lease_update_request(base::ByteSpan in) {
  pb::LeaseUpdateRequest msg;
  if (!detail::parse_message(msg, in)) return Errc::MalformedMessage;
  LeaseUpdateRequest out;
  if (msg.has_lease()) out.lease = from_pb(msg.lease());
  out.nonce = bytes(msg.nonce());
  out.timestamp = msg.timestamp();
  return out;
}

base::Bytes encode(const LeaseDeleteRequest& request) {
  pb::LeaseDeleteRequest msg;
  if (request.identity) to_pb(*request.identity, *msg.mutable_identity());
  msg.set_nonce(text(request.nonce));
  msg.set_timestamp(request.timestamp);
  return detail::serialize_message(msg);
}

base::Result<LeaseDeleteRequest> decode_lease_delete_request(base::ByteSpan in) {
  pb::LeaseDeleteRequest msg;
  if (!detail::parse_message(msg, in)) return Errc::MalformedMessage;
  LeaseDeleteRequest out;
  if (msg.has_identity()) out.identity = from_pb(msg.identity());
  out.nonce = bytes(msg.nonce());
  out.timestamp = msg.timestamp();
  return out;
}

base::Bytes encode(const ConnectionRequest& request) {
  pb::ConnectionRequest msg;
  msg.set_lease_id(request.lease_id);
  if (request.client_identity) to_pb(*request.client_identity, *msg.mutable_client_identity());
  return detail::serialize_message(msg);
}

base::Result<ConnectionRequest> decode_connection_request(base::ByteSpan in) {
  pb::ConnectionRequest msg;
  if (!detail::parse_message(msg, in)) return Errc::MalformedMessage;
  ConnectionRequest out;
  out.lease_id = msg.lease_id();
  if (msg.has_client_identity()) out.client_identity = from_pb(msg.client_identity());
  return out;
}

base::Bytes encode_response(ResponseCode code) {
  pb::CodeResponse msg;
  msg.set_code(static_cast<pb::ResponseCode>(code));
  return detail::serialize_message(msg);
}

base::Result<ResponseCode> decode_response(base::ByteSpan in) {
  pb::CodeResponse msg;
  if (!detail::parse_message(msg, in)) return Errc::MalformedMessage;
  return static_cast<ResponseCode>(msg.code());
}

base::Bytes encode(const LeaseLookupRequest& request) {
  pb::LeaseLookupRequest msg;
  msg.set_target(request.target);
  return detail::serialize_message(msg);
}

base::Result<LeaseLookupRequest> decode_lease_lookup_request(base::ByteSpan in) {
  FieldScan target;
  if (!scan(in, 1, target)) return Errc::MalformedMessage;
  if (target.largest > kMaxLookupTarget) return Errc::TargetTooLarge;
  pb::LeaseLookupRequest msg;
  if (!detail::parse_message(msg, in)) return Errc::MalformedMessage;
  return LeaseLookupRequest{msg.target()};
}

base::Bytes encode(const LeaseLookupResponse& response) {
  pb::LeaseLookupResponse msg;
  msg.set_code(static_cast<pb::ResponseCode>(response.code));
  for (const auto& l : response.leases) to_pb(l, *msg.add_leases());
  return detail::serialize_message(msg);
}

base::Result<LeaseLookupResponse> decode_lease_lookup_response(base::ByteSpan in) {
  FieldScan leases;
  if (!scan(in, 2, leases)) return Errc::MalformedMessage;
  if (leases.count > kMaxLookupLeases) return Errc::TooManyLeases;
  pb::LeaseLookupResponse msg;
  if (!detail::parse_message(msg, in)) return Errc::MalformedMessage;
  LeaseLookupResponse out;
  out.code = static_cast<ResponseCode>(msg.code());
  out.leases.reserve(static_cast<std::size_t>(msg.leases_size()));
  for (const auto& l : msg.leases()) out.leases.push_back(from_pb(l));
  return out;
}

const char* to_string(ResponseCode code) noexcept {
  switch (code) {
    case ResponseCode::Accepted: return "ACCEPTED";
    case ResponseCode::InvalidExpires: return "INVALID_EXPIRES";
    case ResponseCode::InvalidIdentity: return "INVALID_IDENTITY";
    case ResponseCode::InvalidName: return "INVALID_NAME";
    case ResponseCode::InvalidAlpn: return "INVALID_ALPN";
    case ResponseCode::Rejected: return "REJECTED";
    case ResponseCode::Unknown: break;
  }
  return "UNKNOWN";
}

}  // namespace portal::wire
