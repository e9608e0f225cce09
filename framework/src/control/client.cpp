// SPDX-License-Identifier: Apache-2.0
#include "portal/control/client.hpp"

#include <algorithm>

#include "detail/error_category.hpp"
#include "portal/handshake/messages.hpp"

namespace portal::control {
namespace {

using wire::PacketType;

const char* describe(Errc e) noexcept {
  switch (e) {
    case Errc::ResponseTooLarge: return "control message larger than the limit";
    case Errc::UnexpectedPacket: return "unexpected control packet type";
    case Errc::ClosedWithoutAnswer: return "the relay closed the stream without an answer";
    case Errc::RandomSourceFailed: return "random source failed";
    case Errc::InvalidState: return "control call out of order";
    case Errc::RateLimited: return "request past the rate limit";
  }
  return nullptr;
}

base::ErrorCode reader_error(const base::ErrorCode& e) {
  return e == base::Errc::LengthTooLarge ? make_error_code(Errc::ResponseTooLarge) : e;
}

// §4.8: Packet.payload = SignedPayload{data, Ed25519(data)}.
base::Bytes sign(const identity::Credential& self, base::Bytes data) {
  const auto sig = self.sign(data);
  return handshake::encode(
      handshake::SignedPayload{std::move(data), base::Bytes(sig.begin(), sig.end())});
}

}  // namespace

const boost::system::error_category& control_category() noexcept {
  static const detail::EnumCategory<Errc> category("portal.control", describe);
  return category;
}

ClientRequest::ClientRequest(PacketType request, PacketType answer, base::Bytes payload)
    : answer_(answer),
      output_(wire::encode_packet_wire(wire::Packet{request, std::move(payload)})) {}

ClientRequest ClientRequest::relay_info() {
  return ClientRequest(PacketType::RelayInfoRequest, PacketType::RelayInfoResponse, {});
}

base::Result<ClientRequest> ClientRequest::lease_update(const identity::Credential& self,
                                                        wire::Lease lease,
                                                        base::RandomSource& random,
                                                        base::Clock::SystemTime now) {
  wire::LeaseUpdateRequest req;
  lease.identity = self.identity();
  req.lease = std::move(lease);
  req.nonce.assign(kNonceSize, 0);
  if (!random.fill(req.nonce)) return Errc::RandomSourceFailed;
  req.timestamp = base::unix_seconds(now);
  return ClientRequest(PacketType::LeaseUpdateRequest, PacketType::LeaseUpdateResponse,
                       sign(self, wire::encode(req)));
}

base::Result<ClientRequest> ClientRequest::lease_delete(const identity::Credential& self,
                                                        base::RandomSource& random,
                                                        base::Clock::SystemTime now) {
  wire::LeaseDeleteRequest req;
  req.identity = self.identity();
  req.nonce.assign(kNonceSize, 0);
  if (!random.fill(req.nonce)) return Errc::RandomSourceFailed;
  req.timestamp = base::unix_seconds(now);
  return ClientRequest(PacketType::LeaseDeleteRequest, PacketType::LeaseDeleteResponse,
                       sign(self, wire::encode(req)));
}

ClientRequest ClientRequest::connection(std::string lease_id,
                                        std::optional<identity::Identity> client_identity) {
  return ClientRequest(
      PacketType::ConnectionRequest, PacketType::ConnectionResponse,
      wire::encode(wire::ConnectionRequest{std::move(lease_id), std::move(client_identity)}));
}

ClientRequest ClientRequest::lease_lookup(std::string target) {
  return ClientRequest(PacketType::LeaseLookupRequest, PacketType::LeaseLookupResponse,
                       wire::encode(wire::LeaseLookupRequest{std::move(target)}));
}

void ClientRequest::consume_output(std::size_t n) noexcept { base::erase_front(output_, n); }

base::Result<std::size_t> ClientRequest::fail(base::ErrorCode e) {
  if (!error_) error_ = e;
  return error_;
}

base::Result<std::size_t> ClientRequest::handle_input(base::ByteSpan bytes) {
  if (error_) return error_;
  if (done_) return std::size_t{0};  // the rest is the relayed stream
  auto used = reader_.feed(bytes);
  if (!used) return fail(reader_error(used.error()));
  if (!reader_.complete()) return used;
  auto packet = wire::decode_packet(reader_.body());
  if (!packet) return fail(packet.error());
  if (packet->type != answer_) return fail(Errc::UnexpectedPacket);
  if (answer_ == PacketType::RelayInfoResponse) {
    auto info = wire::decode_relay_info_response(packet->payload);
    if (!info) return fail(info.error());
    relay_info_ = std::move(*info);
  } else if (answer_ == PacketType::LeaseLookupResponse) {
    auto answer = wire::decode_lease_lookup_response(packet->payload);
    if (!answer) return fail(answer.error());
    code_ = answer->code;
    lookup_ = std::move(*answer);
  } else {
    auto code = wire::decode_response(packet->payload);
    if (!code) return fail(code.error());
    code_ = *code;
  }
  reader_.next();
  done_ = true;
  return used;
}

void ClientRequest::handle_eof() noexcept {
  if (!done_ && !error_) error_ = make_error_code(Errc::ClosedWithoutAnswer);
}

base::Result<std::size_t> IncomingConnection::fail(base::ErrorCode e) {
  if (!error_) error_ = e;
  return error_;
}

base::Result<std::size_t> IncomingConnection::handle_input(base::ByteSpan bytes) {
  if (error_) return error_;
  if (request_) return std::size_t{0};
  auto used = reader_.feed(bytes);
  if (!used) return fail(reader_error(used.error()));
  if (!reader_.complete()) return used;
  auto packet = wire::decode_packet(reader_.body());
  if (!packet) return fail(packet.error());
  if (packet->type != PacketType::ConnectionRequest) return fail(Errc::UnexpectedPacket);
  auto req = wire::decode_connection_request(packet->payload);
  if (!req) return fail(req.error());
  request_ = std::move(*req);
  reader_.next();
  return used;
}

void IncomingConnection::handle_eof() noexcept {
  if (!request_ && !error_) error_ = make_error_code(Errc::ClosedWithoutAnswer);
}

base::Result<void> IncomingConnection::answer(wire::ResponseCode code) {
  if (!request_ || answered_) return Errc::InvalidState;
  answered_ = true;
  output_ = wire::encode_packet_wire(
      wire::Packet{PacketType::ConnectionResponse, wire::encode_response(code)});
  return {};
}

void IncomingConnection::consume_output(std::size_t n) noexcept { base::erase_front(output_, n); }

}  // namespace portal::control
