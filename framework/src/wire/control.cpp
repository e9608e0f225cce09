// SPDX-License-Identifier: Apache-2.0
#include "portal/wire/control.hpp"

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
  if (type > static_cast<std::uint32_t>(PacketType::ConnectionResponse)) {
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
