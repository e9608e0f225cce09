// SPDX-License-Identifier: Apache-2.0
#pragma once

// The relay's side of one control stream (portal-v1 §4.9) as a sans-IO core: it reads packets,
// verifies signed lease requests, applies the lease table, answers, and hands a connection
// request to its caller for forwarding (§7). Compatible with v1 clients, stricter than v1:
// signed requests are checked against a ±30 s clock window, must carry the 12-byte nonce that v1
// clients send and are refused when replayed, a bad signature is answered with INVALID_IDENTITY
// instead of silence, and names follow the SDK rule and are unique under case folding.
//
// Call order: handle_input(bytes, now) consumes packets and stops after a ConnectionRequest for
// a known lease (state AwaitingForward), when the stream must close (state Closed, error()
// says why), or after a packet that was answered: nothing more is read while an answer is
// pending. Send pending_output(), consume_output() what was sent, then call handle_input()
// again with the bytes it did not consume. For a forward: take_forward(), forward it,
// then answer_forward(code); an ACCEPTED answer makes the stream Spliced: the bytes after it
// are relayed verbatim.
//
// With a fleet directory (RelayContext::directory, docs/adr/0015-relay-fleet.md §5), a signed
// request that passed the local checks waits in state AwaitingDirectory: take the directory
// requests it emits (take_directory_requests()), carry them, and hand back every reply with
// directory_answer(); the answer then appears in pending_output() and the stream is Open again.
//
// A LeaseLookupRequest (ours, docs/adr/0016-lease-lookup.md) is answered from the lease table,
// and with a directory also through a DirectoryOp::Resolve it waits for in AwaitingDirectory like
// a signed request; every record the directory returns is verified (verify_record()) before it
// is listed.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "portal/base/clock.hpp"
#include "portal/base/export.hpp"
#include "portal/base/length_prefixed.hpp"
#include "portal/base/result.hpp"
#include "portal/control/client.hpp"
#include "portal/handshake/replay_cache.hpp"
#include "portal/identity/credential.hpp"
#include "portal/lease/directory.hpp"
#include "portal/lease/lease_table.hpp"

namespace portal::control {

/// The relay's RelayInfoResponse packet (length prefix included), serialized once and shared
/// by every stream that sends it, until the lease table or the second changes.
struct RelayInfoCache {
  /// The lease table's LeaseTable::generation() the packet was built from.
  std::uint64_t generation = 0;
  /// The Unix second the packet was built in (lease expiry is judged per second).
  std::int64_t at = 0;
  /// The packet; null until the first RelayInfo request.
  std::shared_ptr<const base::Bytes> wire;
};

/// What every control stream of one relay shares. References outlive the streams.
struct RelayContext {
  /// The relay's lease table, which lease requests change and RelayInfo lists.
  lease::LeaseTable& leases;
  /// (identity ID, nonce) of accepted signed lease requests, entries living timestamp + 30 s.
  handshake::ReplayCache& replay;
  /// The relay's own identity, sent in RelayInfo.
  const identity::Credential& relay_identity;
  std::vector<std::string> advertise;       ///< RelayInfo.address
  std::chrono::seconds max_clock_skew{30};  ///< inclusive
  std::size_t max_packet = 64 * 1024;       ///< received packets
  /// Called with each answered request and its code (RelayInfo: ACCEPTED), for metrics.
  std::function<void(wire::PacketType request, wire::ResponseCode code)> on_answer{};
  /// Called for each signed request refused, with a reason from a fixed set (a metrics label:
  /// "clock_skew", "bad_nonce", "replayed", "replay_floor", "replay_identity_quota", or a
  /// lease::to_string(Refusal)) and a line for the log. Also called with "unverified_record" for
  /// a fleet directory record a lease lookup found that did not verify (ADR 0016).
  std::function<void(const char* reason, const std::string& detail)> on_refused{};
  /// Asked before a RelayInfo answer of `bytes` (length prefix included) is queued; false
  /// closes the stream with Errc::RateLimited (the hook counts the refusal). Null: always.
  /// LeaseLookupRequest answers are charged to it too (see RelayControlStream::handle_input()).
  std::function<bool(lease::ConnectionId connection, std::size_t bytes)> admit_relay_info{};
  /// Asked before a verified lease is stored on this stream's connection when it is not already
  /// bound to it (a new lease, or one moving from another connection); false answers REJECTED
  /// (the hook counts the refusal). Null: no limit beyond the table's.
  std::function<bool(lease::ConnectionId connection, const std::string& id)> admit_lease{};
  /// Asked, once a signed lease update verified, whether its identity may register lease
  /// `name` on this stream's connection at all (access.mode and bans, ADR 0017): null to go on,
  /// or the refusal's reason ("banned", "not_allowed", "pending_approval"; a metrics label),
  /// answered REJECTED. Null hook: every identity may.
  std::function<const char*(lease::ConnectionId connection, const std::string& id,
                            const std::string& name)>
      admit_identity{};
  /// The shared RelayInfo answer, rebuilt by the first stream that finds it stale.
  RelayInfoCache relay_info{};
  /// Lease names nobody may register, compared under Unicode simple case folding as names are
  /// everywhere (browser app hosts are DNS labels, which arrive in lower case). Refused as
  /// INVALID_NAME ("reserved_name"), as are names starting with "xn--" when the list is set.
  std::vector<std::string> reserved_names{};
  /// A fleet directory is configured (ADR 0015): signed requests are answered only after its
  /// nonce check and, for a named lease, its name claim; accepted leases are published to it.
  /// False: the single-relay behaviour, nothing is emitted.
  bool directory = false;
  /// The relay forwards to leases held on other relays of its fleet (fleet.peers is set, ADR
  /// 0015 §4): a ConnectionRequest for a lease not held here is handed on (AwaitingForward) for
  /// the relay core to resolve, except on a stream a peer relay opened (a peer only ever asks
  /// for leases held here, so a request never goes round the fleet).
  bool peering = false;
  /// Whether a lease held on relay `relay` (a directory record's) can be reached through this
  /// relay: it is this relay, or a peer it forwards to. A lease lookup lists only those. Null:
  /// every relay.
  std::function<bool(const std::string& relay)> reachable{};
  /// How long a name claim and a published lease record live in the directory (ADR 0015 §2:
  /// three heartbeats); a record never outlives its lease.
  std::chrono::milliseconds directory_ttl{15'000};
  /// The next ticket a stream gives a directory request (shared, so tickets are unique per relay).
  std::uint64_t next_ticket = 1;
};

/// The directory requests a relay sends about its own leases (ADR 0015 §2), made the same way by
/// the control streams and by the relay core's refresh and withdrawal. `ttl` is the record and
/// claim life (RelayContext::directory_ttl), at least 1 ms.
/// PublishLease of `payload` (the signed request) as relay `relay`'s record of lease `id`, which
/// expires in `expires_in_s` seconds: it lives `ttl`, never past the lease (at least 1 ms).
[[nodiscard]] PORTAL_API lease::DirectoryRequest publish_request(const std::string& id,
                                                                 const std::string& relay,
                                                                 base::ByteSpan payload,
                                                                 std::int64_t expires_in_s,
                                                                 std::chrono::milliseconds ttl);
/// ClaimName of `name` (folded) for identity `id`, for `ttl`.
[[nodiscard]] PORTAL_API lease::DirectoryRequest claim_request(std::string_view name,
                                                               const std::string& id,
                                                               std::chrono::milliseconds ttl);
/// WithdrawLease of relay `relay`'s record of lease `id`.
[[nodiscard]] PORTAL_API lease::DirectoryRequest withdraw_request(const std::string& id,
                                                                  const std::string& relay);

/// A lease record from the fleet directory, checked as a peer relay must before it trusts it (ADR
/// 0015 §3): `payload` is the holder's signed LeaseUpdateRequest (the packet's payload). Returned
/// when its signature verifies, its identity is `id` (any identity when `id` is empty) and its
/// lease has not expired at `now` (Unix seconds); nothing otherwise.
[[nodiscard]] PORTAL_API std::optional<wire::LeaseUpdateRequest> verify_record(
    base::ByteSpan payload, std::string_view id, std::int64_t now);

/// Where a RelayControlStream is (see RelayControlStream::state()).
enum class RelayStreamState { Open, AwaitingForward, AwaitingDirectory, Spliced, Closed };

/// The relay's side of one stream a client opened (sans-IO): it reads control packets, answers
/// RelayInfo and signed lease requests itself, and hands a ConnectionRequest to the caller to
/// forward (take_forward(), answer_forward()). After an ACCEPTED forward the stream is Spliced: its
/// further bytes belong to the end-to-end connection. Not thread-safe; use it from the relay's
/// executor.
class PORTAL_API RelayControlStream {
 public:
  /// A stream of relay connection `connection`; `context` is shared by every stream of the relay
  /// and must outlive this one. `from_peer`: a peer relay of the fleet opened it (ADR 0015 §4):
  /// it may only ask for a connection to a lease held here; any other request closes it
  /// (Errc::UnexpectedPacket).
  RelayControlStream(RelayContext& context, lease::ConnectionId connection, bool from_peer = false);

  /// Consumes packets from `bytes` and answers them. Returns the bytes consumed.
  /// Errors (the stream is then Closed): Errc::ResponseTooLarge (a packet above max_packet),
  /// Errc::UnexpectedPacket (a response type), Errc::RateLimited (RelayInfo or a lookup refused
  /// by admit_relay_info), wire::Errc (malformed packet or message, a lookup target above
  /// wire::kMaxLookupTarget).
  ///
  /// A LeaseLookupRequest (ADR 0016) is answered with the unexpired leases its target names: an
  /// ID-form target (any letter case) the lease of that ID, a name the leases whose names equal it
  /// under Unicode simple case folding; the table's own first, then (with a directory) the
  /// verified records of DirectoryOp::Resolve, one lease per identity, at most
  /// wire::kMaxLookupLeases. The code is ACCEPTED when something was found; otherwise
  /// INVALID_IDENTITY (as a ConnectionRequest for an unknown lease), or REJECTED when the
  /// directory was unavailable, timed out, overloaded or answered out of bounds (the table's
  /// leases are still answered ACCEPTED then). Budget: without a directory round trip the answer
  /// is charged to admit_relay_info like a RelayInfo answer; with one, 1 KiB is charged before the
  /// directory is asked (refused: Errc::RateLimited, nothing is asked) and the answer's bytes
  /// beyond 1 KiB when it is ready (refused: the answer is REJECTED without leases, since the
  /// stream cannot be closed from directory_answer()).
  [[nodiscard]] base::Result<std::size_t> handle_input(base::ByteSpan bytes,
                                                       base::Clock::SystemTime now);

  /// What to send: an answer of this stream, or the shared RelayInfo packet.
  [[nodiscard]] base::ByteSpan pending_output() const noexcept;
  /// Drops the first `n` bytes of pending_output() once they are written (at most its size).
  void consume_output(std::size_t n) noexcept;

  /// The ConnectionRequest to forward (once, in state AwaitingForward), and the lease it names.
  [[nodiscard]] std::optional<wire::ConnectionRequest> take_forward();
  /// The lease holder's answer (or REJECTED when forwarding failed). ACCEPTED splices.
  /// Errors: Errc::InvalidState outside AwaitingForward.
  [[nodiscard]] base::Result<void> answer_forward(wire::ResponseCode code);

  /// Requests for the fleet directory emitted since the last call: the checks a signed request
  /// waits for (state AwaitingDirectory), and the lease records to publish or withdraw after an
  /// answer (nothing waits for those).
  [[nodiscard]] std::vector<lease::DirectoryRequest> take_directory_requests();
  /// A directory reply. One the stream waits for completes its signed request once every awaited
  /// reply is in: the answer is queued and the stream is Open again. Unavailable, TimedOut,
  /// Overloaded and Invalid count as "the directory is unavailable" (ADR 0015 §5). Replies the
  /// stream does not wait for are ignored.
  void directory_answer(const lease::DirectoryReply& reply, base::Clock::SystemTime now);

  /// Open (reading requests), AwaitingForward (a ConnectionRequest waits for answer_forward()),
  /// AwaitingDirectory (a signed request waits for directory_answer()), Spliced (the stream now
  /// carries a relayed connection) or Closed (after an error).
  [[nodiscard]] RelayStreamState state() const noexcept { return state_; }
  /// Why the stream was closed; empty unless state() is Closed.
  [[nodiscard]] base::ErrorCode error() const noexcept { return error_; }

 private:
  base::Result<std::size_t> close(base::ErrorCode e);
  void respond(wire::PacketType type, base::Bytes payload);
  bool answer_relay_info(std::int64_t now);
  void observe(wire::PacketType request, wire::ResponseCode code) const;
  wire::ResponseCode lease_update(base::ByteSpan payload, std::int64_t now);
  wire::ResponseCode lease_delete(base::ByteSpan payload, std::int64_t now);
  bool fresh(std::string_view id, base::ByteSpan nonce, std::int64_t timestamp, std::int64_t now);
  wire::ResponseCode apply_update(const wire::LeaseUpdateRequest& request, base::ByteSpan payload,
                                  std::int64_t now);
  std::uint64_t emit(lease::DirectoryRequest request);
  void await_directory(wire::PacketType type, std::string id, base::ByteSpan nonce,
                       std::int64_t timestamp, std::int64_t now);
  void finish_directory(std::int64_t now);
  void refused(const char* reason, std::string_view id, const std::string& what) const;
  base::ErrorCode lease_lookup(base::ByteSpan payload, std::int64_t now);
  void finish_lookup(const lease::DirectoryReply& reply, std::int64_t now);
  bool answer_lookup(wire::LeaseLookupResponse answer, std::size_t charged);

  RelayContext& ctx_;
  lease::ConnectionId connection_;
  bool from_peer_ = false;
  base::LengthPrefixedReader reader_;
  base::Bytes output_;
  std::shared_ptr<const base::Bytes> shared_out_;  // a RelayInfo answer being sent
  std::size_t shared_sent_ = 0;
  std::optional<wire::ConnectionRequest> forward_;
  bool forward_taken_ = false;
  RelayStreamState state_ = RelayStreamState::Open;
  base::ErrorCode error_;

  // A signed request waiting for the directory (state AwaitingDirectory).
  struct Pending {
    wire::PacketType type = wire::PacketType::LeaseUpdateRequest;
    std::string id;
    std::optional<wire::LeaseUpdateRequest> update;
    base::Bytes payload;         // the request's packet payload (the signed bytes)
    bool local_renewal = false;  // a renewal of a lease this connection holds, same name
    std::uint64_t nonce_ticket = 0;
    std::uint64_t claim_ticket = 0;  // 0: no name to claim
    std::optional<lease::DirectoryStatus> nonce_status;
    std::optional<lease::DirectoryStatus> claim_status;
    std::string claim_holder;
    // LeaseLookupRequest: the Resolve asked, what it asks for, and the table's own matches.
    std::uint64_t lookup_ticket = 0;
    std::string target;  // the ID (upper case) or the name as sent
    bool by_name = false;
    std::vector<wire::Lease> found;
  };
  std::optional<Pending> pending_;
  std::vector<lease::DirectoryRequest> directory_out_;
};

}  // namespace portal::control
