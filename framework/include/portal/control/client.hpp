// SPDX-License-Identifier: Apache-2.0
#pragma once

// The client side of the v1 control protocol (portal-v1 §4, §6, §7) as sans-IO cores. One
// request per stream, as the original SDK does: build a ClientRequest, send its output on a new
// stream, feed the stream's bytes until done(), read the answer. A lease holder answers the
// ConnectionRequest the relay forwards on a stream it opens with an IncomingConnection.
//
// Call order: send pending_output() and consume_output(n); feed handle_input(bytes) (it
// consumes bytes only up to the end of the response; for an accepted connection the rest is the
// relayed end-to-end stream); call handle_eof() when the stream ends. Never throws on peer input.

#include <cstdint>
#include <optional>
#include <string>

#include "portal/base/bytes.hpp"
#include "portal/base/clock.hpp"
#include "portal/base/export.hpp"
#include "portal/base/length_prefixed.hpp"
#include "portal/base/random.hpp"
#include "portal/base/result.hpp"
#include "portal/identity/credential.hpp"
#include "portal/wire/control.hpp"

namespace portal::control {

/// Errors of the client control cores.
enum class Errc {
  ResponseTooLarge = 1,  ///< a response length above the limit
  UnexpectedPacket,      ///< a packet of another type than the answer expected
  ClosedWithoutAnswer,   ///< the stream ended before the answer (v1 relays do this on a bad
                         ///< signature)
  RandomSourceFailed,    ///< no random bytes for the request nonce
  InvalidState,          ///< a call out of order
  RateLimited,           ///< a request past the relay's rate limit (the relay closes the stream)
};

/// The category of control::Errc ("portal.control"): names the codes and gives their messages.
PORTAL_API const boost::system::error_category& control_category() noexcept;

/// `e` as an error code of this module's category. Found by argument-dependent lookup, it
/// lets an Errc convert to base::ErrorCode and compare with one.
inline base::ErrorCode make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), control_category()};
}

/// The largest response a client reads (portal-v1 §4.2: 2^26).
inline constexpr std::size_t kMaxResponse = wire::kMaxPacketSize;
/// The nonce size of signed lease requests.
inline constexpr std::size_t kNonceSize = 12;

/// One request and its answer.
class PORTAL_API ClientRequest {
 public:
  /// RelayInfoRequest; the answer is relay_info().
  [[nodiscard]] static ClientRequest relay_info();
  /// LeaseUpdateRequest for `lease` (its identity is set from `self`), signed by `self`, with a
  /// fresh 12-byte nonce from `random` and `now` as timestamp (§4.8, §6.7).
  [[nodiscard]] static base::Result<ClientRequest> lease_update(const identity::Credential& self,
                                                                wire::Lease lease,
                                                                base::RandomSource& random,
                                                                base::Clock::SystemTime now);
  /// LeaseDeleteRequest for `self`'s lease, signed.
  [[nodiscard]] static base::Result<ClientRequest> lease_delete(const identity::Credential& self,
                                                                base::RandomSource& random,
                                                                base::Clock::SystemTime now);
  /// ConnectionRequest for `lease_id`; `client_identity` is informational (§4.6).
  [[nodiscard]] static ClientRequest connection(std::string lease_id,
                                                std::optional<identity::Identity> client_identity);
  /// LeaseLookupRequest for `target`, a name or an ID (ours, docs/adr/0016-lease-lookup.md); the
  /// answer is lease_lookup_response(). Send it only to a relay whose RelayInfo lists
  /// wire::kFeatureLeaseLookup: a v1 relay closes the stream on it.
  [[nodiscard]] static ClientRequest lease_lookup(std::string target);

  /// The request packet (length prefix included) still to be written to the stream; valid until the
  /// next non-const call.
  [[nodiscard]] base::ByteSpan pending_output() const noexcept { return output_; }
  /// Drops the first `n` bytes of pending_output() once they are written (at most its size).
  void consume_output(std::size_t n) noexcept;

  /// Lowers the largest answer accepted (default kMaxResponse); a relay reading a lease
  /// holder's ConnectionResponse uses its control-packet limit. Call before handle_input.
  void set_max_response(std::size_t max) noexcept { reader_ = base::LengthPrefixedReader{max}; }

  /// Feeds stream bytes; returns how many were consumed (up to the end of the answer).
  /// Errors: Errc::ResponseTooLarge, Errc::UnexpectedPacket, wire::Errc (malformed answer, a
  /// lookup answer with more than wire::kMaxLookupLeases leases).
  [[nodiscard]] base::Result<std::size_t> handle_input(base::ByteSpan bytes);
  /// The stream ended. Before the answer: Errc::ClosedWithoutAnswer.
  void handle_eof() noexcept;

  /// True once the whole answer arrived and parsed; code() or relay_info_response() then hold it.
  [[nodiscard]] bool done() const noexcept { return done_; }
  /// Why the request failed (the first error of handle_input() or handle_eof()); empty otherwise.
  [[nodiscard]] base::ErrorCode error() const noexcept { return error_; }
  /// The answer's code (lease update/delete, connection). Unknown until done().
  [[nodiscard]] wire::ResponseCode code() const noexcept { return code_; }
  /// The answer of relay_info(). Present once done().
  [[nodiscard]] const std::optional<wire::RelayInfo>& relay_info_response() const noexcept {
    return relay_info_;
  }
  /// The answer of lease_lookup() (its code is also code()). Present once done().
  [[nodiscard]] const std::optional<wire::LeaseLookupResponse>& lease_lookup_response()
      const noexcept {
    return lookup_;
  }

 private:
  ClientRequest(wire::PacketType request, wire::PacketType answer, base::Bytes payload);
  base::Result<std::size_t> fail(base::ErrorCode e);

  wire::PacketType answer_;
  base::Bytes output_;
  base::LengthPrefixedReader reader_{kMaxResponse};
  bool done_ = false;
  base::ErrorCode error_;
  wire::ResponseCode code_ = wire::ResponseCode::Unknown;
  std::optional<wire::RelayInfo> relay_info_;
  std::optional<wire::LeaseLookupResponse> lookup_;
};

/// The lease holder's side of a stream the relay opened: one forwarded ConnectionRequest, one
/// answer; after an ACCEPTED answer the stream carries the end-to-end connection (§7).
class PORTAL_API IncomingConnection {
 public:
  /// Feeds stream bytes until the request is complete; returns how many were consumed.
  /// Errors: Errc::ResponseTooLarge (request above `max_request`), Errc::UnexpectedPacket,
  /// wire::Errc.
  [[nodiscard]] base::Result<std::size_t> handle_input(base::ByteSpan bytes);
  /// The relay closed the stream. Before a complete request this records Errc::ClosedWithoutAnswer
  /// in error(); afterwards it changes nothing.
  void handle_eof() noexcept;

  /// True once the forwarded ConnectionRequest is complete: answer() may be called.
  [[nodiscard]] bool has_request() const noexcept { return request_.has_value(); }
  /// The forwarded request (the lease ID dialed and the dialer's unverified identity), once
  /// complete.
  [[nodiscard]] const std::optional<wire::ConnectionRequest>& request() const noexcept {
    return request_;
  }
  /// Why reading the request failed; empty otherwise.
  [[nodiscard]] base::ErrorCode error() const noexcept { return error_; }

  /// Queues the answer (ACCEPTED, REJECTED, ...). Errors: Errc::InvalidState before a request.
  [[nodiscard]] base::Result<void> answer(wire::ResponseCode code);
  /// The queued ConnectionResponse still to be written; valid until the next non-const call.
  [[nodiscard]] base::ByteSpan pending_output() const noexcept { return output_; }
  /// Drops the first `n` bytes of pending_output() once they are written (at most its size).
  void consume_output(std::size_t n) noexcept;

  /// A forwarded request is small; this bounds what a relay can make us buffer.
  static constexpr std::size_t kMaxRequest = 64 * 1024;

 private:
  base::Result<std::size_t> fail(base::ErrorCode e);

  base::LengthPrefixedReader reader_{kMaxRequest};
  std::optional<wire::ConnectionRequest> request_;
  base::Bytes output_;
  bool answered_ = false;
  base::ErrorCode error_;
};

}  // namespace portal::control

template <>
struct boost::system::is_error_code_enum<portal::control::Errc> : std::true_type {};
