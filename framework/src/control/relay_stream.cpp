// SPDX-License-Identifier: Apache-2.0
#include "portal/control/relay_stream.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <utility>

#include "portal/crypto/ed25519.hpp"
#include "portal/handshake/messages.hpp"
#include "portal/identity/identity.hpp"
#include "portal/lease/name.hpp"

namespace portal::control {
namespace {

using wire::PacketType;
using wire::ResponseCode;

constexpr std::size_t kSignedNonceSize = 12;
// What the smallest answer costs against admit_relay_info (the relay core charges at least this).
constexpr std::size_t kMinAnswerCost = 1024;

// A directory reply that says the directory could not answer (ADR 0015 §5).
bool unavailable(const std::optional<lease::DirectoryStatus>& s) {
  return s &&
         (*s == lease::DirectoryStatus::Unavailable || *s == lease::DirectoryStatus::TimedOut ||
          *s == lease::DirectoryStatus::Overloaded || *s == lease::DirectoryStatus::Invalid);
}

// Whether a lease of `id` is in `leases`.
bool lists(const std::vector<wire::Lease>& leases, std::string_view id) {
  return std::any_of(leases.begin(), leases.end(),
                     [&](const wire::Lease& l) { return l.identity && l.identity->id == id; });
}

// A peer's string for a log line: at most 64 bytes, cut at a UTF-8 boundary.
std::string shortened(const std::string& s) {
  constexpr std::size_t kMax = 64;
  if (s.size() <= kMax) return s;
  std::size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;
  return s.substr(0, cut) + "... (" + std::to_string(s.size()) + " bytes)";
}

// §4.8: the signed data, once the identity inside it is valid and signed it.
struct Signed {
  base::Bytes data;
  bool verified = false;
};

Signed verify_signed(base::ByteSpan payload,
                     const std::function<std::optional<identity::Identity>(base::ByteSpan)>& who) {
  auto sp = handshake::decode_signed_payload(payload);
  if (!sp) return {};
  auto id = who(sp->data);
  Signed out{sp->data, false};
  out.verified = id && identity::validate(*id) &&
                 crypto::ed25519_verify(id->public_key, sp->data, sp->signature);
  return out;
}

// A LeaseUpdateRequest payload whose lease's identity signed it (§4.8), decoded; nothing
// otherwise.
std::optional<wire::LeaseUpdateRequest> verified_update(base::ByteSpan payload) {
  std::optional<wire::LeaseUpdateRequest> request;
  const auto s =
      verify_signed(payload, [&](base::ByteSpan data) -> std::optional<identity::Identity> {
        auto r = wire::decode_lease_update_request(data);
        if (!r || !r->lease || !r->lease->identity) return std::nullopt;
        request = std::move(*r);
        return request->lease->identity;
      });
  if (!s.verified) return std::nullopt;
  return request;
}

}  // namespace

lease::DirectoryRequest publish_request(const std::string& id, const std::string& relay,
                                        base::ByteSpan payload, std::int64_t expires_in_s,
                                        std::chrono::milliseconds ttl) {
  using std::chrono::milliseconds;
  lease::DirectoryRequest q;
  q.op = lease::DirectoryOp::PublishLease;
  q.key = id;
  q.relay = relay;
  q.value.assign(payload.begin(), payload.end());
  // Three heartbeats (however short) and never past the lease; Redis needs at least 1 ms.
  q.ttl = std::clamp(milliseconds(expires_in_s * 1000), milliseconds(1),
                     std::max(ttl, milliseconds(1)));
  return q;
}

lease::DirectoryRequest claim_request(std::string_view name, const std::string& id,
                                      std::chrono::milliseconds ttl) {
  lease::DirectoryRequest q;
  q.op = lease::DirectoryOp::ClaimName;
  q.key = lease::fold_name(name);
  q.subject = id;
  q.ttl = std::max(ttl, std::chrono::milliseconds(1));
  return q;
}

lease::DirectoryRequest withdraw_request(const std::string& id, const std::string& relay) {
  lease::DirectoryRequest q;
  q.op = lease::DirectoryOp::WithdrawLease;
  q.key = id;
  q.relay = relay;
  return q;
}

std::optional<wire::LeaseUpdateRequest> verify_record(base::ByteSpan payload, std::string_view id,
                                                      std::int64_t now) {
  auto request = verified_update(payload);
  if (!request || (!id.empty() && request->lease->identity->id != id) ||
      request->lease->expires <= now) {
    return std::nullopt;
  }
  return request;
}

RelayControlStream::RelayControlStream(RelayContext& context, lease::ConnectionId connection,
                                       bool from_peer)
    : ctx_(context), connection_(connection), from_peer_(from_peer), reader_(context.max_packet) {}

base::Result<std::size_t> RelayControlStream::close(base::ErrorCode e) {
  if (state_ != RelayStreamState::Closed) {
    state_ = RelayStreamState::Closed;
    error_ = e;
  }
  return error_;
}

void RelayControlStream::respond(PacketType type, base::Bytes payload) {
  const auto wire = wire::encode_packet_wire(wire::Packet{type, std::move(payload)});
  output_.insert(output_.end(), wire.begin(), wire.end());
}

void RelayControlStream::observe(PacketType request, ResponseCode code) const {
  if (ctx_.on_answer) ctx_.on_answer(request, code);
}

base::ByteSpan RelayControlStream::pending_output() const noexcept {
  if (!output_.empty()) return output_;
  if (shared_out_) return base::ByteSpan(*shared_out_).subspan(shared_sent_);
  return {};
}

void RelayControlStream::consume_output(std::size_t n) noexcept {
  if (!output_.empty()) {
    base::erase_front(output_, n);
    return;
  }
  if (!shared_out_) return;
  shared_sent_ = std::min(shared_sent_ + n, shared_out_->size());
  if (shared_sent_ == shared_out_->size()) {
    shared_out_.reset();
    shared_sent_ = 0;
  }
}

// Every stream shares one serialized answer (false: the rate-limit hook refused it); it is rebuilt
// when the table changed, or when the second changed (expired leases leave the answer without a
// table change).
bool RelayControlStream::answer_relay_info(std::int64_t now) {
  auto& cache = ctx_.relay_info;
  if (!cache.wire || cache.generation != ctx_.leases.generation() || cache.at != now) {
    wire::RelayInfo info;
    info.identity = ctx_.relay_identity.identity();
    info.address = ctx_.advertise;
    // Always: without a directory the lookup answers from the table (ADR 0016).
    info.features.emplace_back(wire::kFeatureLeaseLookup);
    for (const auto* e : ctx_.leases.list(now)) info.leases.push_back(e->lease);
    cache.wire = std::make_shared<const base::Bytes>(
        wire::encode_packet_wire(wire::Packet{PacketType::RelayInfoResponse, wire::encode(info)}));
    cache.generation = ctx_.leases.generation();
    cache.at = now;
  }
  if (ctx_.admit_relay_info && !ctx_.admit_relay_info(connection_, cache.wire->size())) {
    return false;
  }
  shared_out_ = cache.wire;
  shared_sent_ = 0;
  return true;
}

void RelayControlStream::refused(const char* reason, std::string_view id,
                                 const std::string& what) const {
  if (ctx_.on_refused)
    ctx_.on_refused(reason, "signed request of " + std::string(id) + ": " + what);
}

// Nonce, clock window and replay, for a verified signed request.
bool RelayControlStream::fresh(std::string_view id, base::ByteSpan nonce, std::int64_t timestamp,
                               std::int64_t now) {
  // v1 clients always send 12 random bytes (§4.8); anything else cannot key the replay cache
  // safely (an empty nonce would make every request of an identity the same entry).
  if (nonce.size() != kSignedNonceSize) {
    refused("bad_nonce", id, "nonce of " + std::to_string(nonce.size()) + " bytes, expected 12");
    return false;
  }
  const std::int64_t skew = ctx_.max_clock_skew.count();
  if (timestamp < now - skew || timestamp > now + skew) {
    refused("clock_skew", id,
            "timestamp " + std::to_string(timestamp) + " is " + std::to_string(timestamp - now) +
                " s from the relay's clock (allowed: ±" + std::to_string(skew) + " s)");
    return false;
  }
  switch (ctx_.replay.insert(id, nonce, timestamp, now)) {
    case handshake::ReplayCache::Verdict::Fresh: return true;
    case handshake::ReplayCache::Verdict::Replayed:
      refused("replayed", id, "replayed (nonce already seen)");
      return false;
    case handshake::ReplayCache::Verdict::BelowFloor:
      refused("replay_floor", id,
              "timestamp at or below the replay cache's floor (raised by evictions when full)");
      return false;
    case handshake::ReplayCache::Verdict::IdentityFull:
      refused("replay_identity_quota", id,
              "the identity has " + std::to_string(ctx_.replay.per_identity()) +
                  " live entries in the replay cache");
      return false;
  }
  return false;
}

ResponseCode RelayControlStream::lease_update(base::ByteSpan payload, std::int64_t now) {
  auto request = verified_update(payload);
  if (!request) return ResponseCode::InvalidIdentity;
  const std::string& id = request->lease->identity->id;
  // Before the replay cache and the directory: a refused identity costs neither.
  if (ctx_.admit_identity) {
    if (const char* why = ctx_.admit_identity(connection_, id, request->lease->name)) {
      const std::string what = std::string(why) == "banned"
                                   ? "the identity or its lease name is banned"
                               : std::string(why) == "pending_approval"
                                   ? "the identity waits for an operator's approval"
                                   : "the identity is not allowed to register (access.mode)";
      refused(why, id, what);
      return ResponseCode::Rejected;
    }
  }
  if (!fresh(id, request->nonce, request->timestamp, now)) return ResponseCode::Rejected;
  const std::string& name = request->lease->name;
  if (name != lease::kUnnamed && !lease::is_valid_name(name)) return ResponseCode::InvalidName;
  // Compared as the lease table and resolution compare names (Unicode simple case folding), so
  // that no look-alike ("ſtatic") takes a reserved name's place.
  for (const auto& reserved : ctx_.reserved_names) {
    if (lease::same_name_ignoring_case(name, reserved)) {
      refused("reserved_name", id, "the name '" + name + "' is reserved");
      return ResponseCode::InvalidName;
    }
  }
  // An ASCII "xn--" name would be read as punycode by browsers on the browser path, and reach a
  // different lease than the one it names.
  if (!ctx_.reserved_names.empty() && name.size() >= 4 &&
      lease::same_name_ignoring_case(name.substr(0, 4), "xn--")) {
    refused("reserved_name", id, "the name '" + name + "' starts with xn-- (punycode)");
    return ResponseCode::InvalidName;
  }
  const auto* held = ctx_.leases.entry(id);
  if (ctx_.admit_lease && (held == nullptr || held->connection != connection_) &&
      !ctx_.admit_lease(connection_, id)) {
    return ResponseCode::Rejected;
  }
  if (ctx_.directory) {
    Pending p;
    p.type = PacketType::LeaseUpdateRequest;
    p.id = id;
    p.local_renewal =
        held != nullptr && held->connection == connection_ && held->lease.name == name;
    p.payload.assign(payload.begin(), payload.end());
    const base::Bytes nonce = request->nonce;
    const std::int64_t timestamp = request->timestamp;
    p.update = std::move(*request);
    pending_ = std::move(p);
    await_directory(PacketType::LeaseUpdateRequest, pending_->id, nonce, timestamp, now);
    return ResponseCode::Unknown;  // answered by finish_directory()
  }
  return apply_update(*request, payload, now);
}

ResponseCode RelayControlStream::apply_update(const wire::LeaseUpdateRequest& request,
                                              base::ByteSpan payload, std::int64_t now) {
  const std::string& id = request.lease->identity->id;
  const std::string& name = request.lease->name;
  lease::Refusal why = lease::Refusal::None;
  const auto code = ctx_.leases.update(*request.lease, connection_, now, &why);
  if (why != lease::Refusal::None) {
    std::string what = std::string("lease refused: ") + lease::to_string(why);
    if (why == lease::Refusal::NameTaken || why == lease::Refusal::NameTakenIgnoringCase) {
      const auto* holder = ctx_.leases.holder_of_name(name);
      what +=
          " ('" + shortened(name) + "' is held by " + (holder ? *holder : std::string("?")) + ")";
    }
    refused(lease::to_string(why), id, what);
  }
  if (ctx_.directory && code == ResponseCode::Accepted) {
    // The record lives as long as the claim, never past the lease (its expiry is already capped
    // by the table).
    const auto* e = ctx_.leases.entry(id);
    (void)emit(publish_request(id, ctx_.relay_identity.id(), payload,
                               e == nullptr ? 0 : e->lease.expires - now, ctx_.directory_ttl));
  }
  return code;
}

std::uint64_t RelayControlStream::emit(lease::DirectoryRequest request) {
  request.ticket = ctx_.next_ticket++;
  const auto ticket = request.ticket;
  directory_out_.push_back(std::move(request));
  return ticket;
}

std::vector<lease::DirectoryRequest> RelayControlStream::take_directory_requests() {
  return std::exchange(directory_out_, {});
}

// The fleet-wide checks of a signed request that passed the local ones (ADR 0015 §5): its nonce,
// remembered until the clock window can no longer admit the request, and its name.
void RelayControlStream::await_directory(PacketType type, std::string id, base::ByteSpan nonce,
                                         std::int64_t timestamp, std::int64_t now) {
  lease::DirectoryRequest check;
  check.op = lease::DirectoryOp::CheckNonce;
  check.key = id;
  check.value.assign(nonce.begin(), nonce.end());
  const std::int64_t window_s = timestamp + ctx_.max_clock_skew.count() - now + 1;
  check.ttl = std::chrono::milliseconds(std::max<std::int64_t>(window_s, 1) * 1000);
  pending_->nonce_ticket = emit(std::move(check));
  if (type == PacketType::LeaseUpdateRequest && pending_->update->lease->name != lease::kUnnamed) {
    pending_->claim_ticket =
        emit(claim_request(pending_->update->lease->name, id, ctx_.directory_ttl));
  }
  state_ = RelayStreamState::AwaitingDirectory;
}

void RelayControlStream::directory_answer(const lease::DirectoryReply& reply,
                                          base::Clock::SystemTime now) {
  if (state_ != RelayStreamState::AwaitingDirectory || !pending_) return;
  auto& p = *pending_;
  if (p.type == PacketType::LeaseLookupRequest) {
    if (reply.ticket == p.lookup_ticket) finish_lookup(reply, base::unix_seconds(now));
    return;
  }
  if (reply.ticket == p.nonce_ticket && !p.nonce_status) {
    p.nonce_status = reply.status;
  } else if (p.claim_ticket != 0 && reply.ticket == p.claim_ticket && !p.claim_status) {
    p.claim_status = reply.status;
    p.claim_holder = reply.holder;
  } else {
    return;
  }
  if (!p.nonce_status || (p.claim_ticket != 0 && !p.claim_status)) return;
  finish_directory(base::unix_seconds(now));
}

void RelayControlStream::finish_directory(std::int64_t now) {
  Pending p = std::move(*pending_);
  pending_.reset();
  state_ = RelayStreamState::Open;
  const auto down = unavailable;
  const bool update = p.type == PacketType::LeaseUpdateRequest;
  ResponseCode code = ResponseCode::Rejected;
  if ((down(p.nonce_status) || down(p.claim_status)) && !(update && p.local_renewal)) {
    refused("directory_unavailable", p.id,
            "the fleet directory is unavailable: only renewals of leases held on this connection "
            "are accepted");
  } else if (p.nonce_status == lease::DirectoryStatus::Conflict) {
    refused("replayed", p.id, "replayed (nonce already seen in the fleet)");
  } else if (p.claim_status == lease::DirectoryStatus::Conflict) {
    refused(lease::to_string(lease::Refusal::NameTakenIgnoringCase), p.id,
            "lease refused: name taken in the fleet ('" + shortened(p.update->lease->name) +
                "' is held by " + (p.claim_holder.empty() ? std::string("?") : p.claim_holder) +
                ")");
  } else if (update) {
    code = apply_update(*p.update, p.payload, now);
  } else {
    code = ctx_.leases.remove(p.id);
    if (code == ResponseCode::Accepted) {
      (void)emit(withdraw_request(p.id, ctx_.relay_identity.id()));
    }
  }
  const auto answer = update ? PacketType::LeaseUpdateResponse : PacketType::LeaseDeleteResponse;
  respond(answer, wire::encode_response(code));
  observe(p.type, code);
}

ResponseCode RelayControlStream::lease_delete(base::ByteSpan payload, std::int64_t now) {
  std::optional<wire::LeaseDeleteRequest> request;
  const auto s =
      verify_signed(payload, [&](base::ByteSpan data) -> std::optional<identity::Identity> {
        auto r = wire::decode_lease_delete_request(data);
        if (!r || !r->identity) return std::nullopt;
        request = std::move(*r);
        return request->identity;
      });
  if (!s.verified) return ResponseCode::InvalidIdentity;
  const std::string& id = request->identity->id;
  if (!fresh(id, request->nonce, request->timestamp, now)) return ResponseCode::Rejected;
  if (ctx_.directory) {
    Pending p;
    p.type = PacketType::LeaseDeleteRequest;
    p.id = id;
    pending_ = std::move(p);
    await_directory(PacketType::LeaseDeleteRequest, id, request->nonce, request->timestamp, now);
    return ResponseCode::Unknown;  // answered by finish_directory()
  }
  return ctx_.leases.remove(id);
}

// ADR 0016: the table's own match first; with a directory, a Resolve the stream waits for.
base::ErrorCode RelayControlStream::lease_lookup(base::ByteSpan payload, std::int64_t now) {
  auto request = wire::decode_lease_lookup_request(payload);
  if (!request) return request.error();
  const std::string& target = request->target;
  Pending p;
  p.type = PacketType::LeaseLookupRequest;
  bool askable = true;
  if (auto id = identity::id_in_any_case(target)) {
    p.target = std::move(*id);
    if (const auto* e = ctx_.leases.find(p.target, now); e != nullptr && e->lease.identity) {
      p.found.push_back(e->lease);
    }
  } else if (!target.empty() && target != lease::kUnnamed && lease::is_valid_name(target)) {
    p.target = target;
    p.by_name = true;
    // The table keeps names unique under case folding: one holder at most.
    if (const auto* holder = ctx_.leases.holder_of_name(target)) {
      const auto* e = ctx_.leases.find(*holder, now);
      if (e != nullptr && e->lease.identity &&
          lease::same_name_ignoring_case(e->lease.name, target)) {
        p.found.push_back(e->lease);
      }
    }
  } else {
    askable = false;  // neither an ID nor a name a lease can hold: nothing to ask anyone
  }
  if (!ctx_.directory || !askable) {
    wire::LeaseLookupResponse answer;
    answer.code = p.found.empty() ? ResponseCode::InvalidIdentity : ResponseCode::Accepted;
    answer.leases = std::move(p.found);
    if (!answer_lookup(std::move(answer), 0)) return make_error_code(Errc::RateLimited);
    return {};
  }
  // The round trip is paid for before it is made.
  if (ctx_.admit_relay_info && !ctx_.admit_relay_info(connection_, kMinAnswerCost)) {
    return make_error_code(Errc::RateLimited);
  }
  lease::DirectoryRequest q;
  q.op = lease::DirectoryOp::Resolve;
  q.key = p.by_name ? lease::fold_name(p.target) : p.target;
  q.by_name = p.by_name;
  p.lookup_ticket = emit(std::move(q));
  pending_ = std::move(p);
  state_ = RelayStreamState::AwaitingDirectory;
  return {};
}

void RelayControlStream::finish_lookup(const lease::DirectoryReply& reply, std::int64_t now) {
  Pending p = std::move(*pending_);
  pending_.reset();
  state_ = RelayStreamState::Open;
  wire::LeaseLookupResponse answer;
  answer.leases = std::move(p.found);
  if (reply.status == lease::DirectoryStatus::Ok) {
    // Never trust the directory (ADR 0015 §3): each record must be its holder's own signed,
    // unexpired lease, of the identity asked for (by ID), or under the name asked for (by name).
    // Verifications are bounded, and a lease already listed is not verified again.
    std::size_t verified = 0;
    for (const auto& r : reply.records) {
      if (answer.leases.size() >= wire::kMaxLookupLeases || verified >= wire::kMaxLookupLeases) {
        break;
      }
      const std::string& id = p.by_name ? r.key : p.target;
      if (!id.empty() && lists(answer.leases, id)) continue;
      // A lease this relay cannot forward to is no answer for this relay's clients.
      if (ctx_.reachable && !ctx_.reachable(r.relay)) continue;
      ++verified;
      auto request = verify_record(r.value, id, now);
      if (!request ||
          (p.by_name && !lease::same_name_ignoring_case(request->lease->name, p.target))) {
        if (ctx_.on_refused) {
          ctx_.on_refused("unverified_record",
                          "lease lookup: the directory's record of " +
                              shortened(id.empty() ? std::string("?") : id) + " on relay " +
                              shortened(r.relay) +
                              " is not that lease's valid signed request (ignored)");
        }
        continue;
      }
      if (lists(answer.leases, request->lease->identity->id)) continue;
      answer.leases.push_back(std::move(*request->lease));
    }
  }
  if (!answer.leases.empty()) {
    answer.code = ResponseCode::Accepted;
  } else {
    answer.code =
        unavailable(reply.status) ? ResponseCode::Rejected : ResponseCode::InvalidIdentity;
  }
  (void)answer_lookup(std::move(answer), kMinAnswerCost);
}

// Queues a lookup answer once admit_relay_info took its cost (`charged` of it was taken already).
// Refused: false when nothing was charged yet (the caller closes the stream); otherwise the answer
// becomes REJECTED without leases (directory_answer() cannot close the stream).
bool RelayControlStream::answer_lookup(wire::LeaseLookupResponse answer, std::size_t charged) {
  auto out =
      wire::encode_packet_wire(wire::Packet{PacketType::LeaseLookupResponse, wire::encode(answer)});
  if (ctx_.admit_relay_info) {
    bool admitted = true;
    if (charged == 0) {
      admitted = ctx_.admit_relay_info(connection_, std::max(out.size(), kMinAnswerCost));
    } else if (out.size() > charged) {
      admitted = ctx_.admit_relay_info(connection_, out.size() - charged);
    }
    if (!admitted) {
      if (charged == 0) return false;
      answer = wire::LeaseLookupResponse{ResponseCode::Rejected, {}};
      out = wire::encode_packet_wire(
          wire::Packet{PacketType::LeaseLookupResponse, wire::encode(answer)});
    }
  }
  output_.insert(output_.end(), out.begin(), out.end());
  observe(PacketType::LeaseLookupRequest, answer.code);
  return true;
}

base::Result<std::size_t> RelayControlStream::handle_input(base::ByteSpan bytes,
                                                           base::Clock::SystemTime now_time) {
  if (state_ == RelayStreamState::Closed) return error_;
  const std::int64_t now = base::unix_seconds(now_time);
  std::size_t consumed = 0;
  // Nothing is answered faster than it is flushed: while an answer waits in the output, no
  // further packet is read (a peer that sends requests and never reads gets one answer queued,
  // then backpressure through the stream window).
  while (state_ == RelayStreamState::Open && consumed < bytes.size() && pending_output().empty()) {
    auto used = reader_.feed(bytes.subspan(consumed));
    if (!used) {
      return close(used.error() == base::Errc::LengthTooLarge
                       ? make_error_code(Errc::ResponseTooLarge)
                       : used.error());
    }
    consumed += *used;
    if (!reader_.complete()) break;
    auto packet = wire::decode_packet(reader_.body());
    reader_.next();
    if (!packet) return close(packet.error());  // §4.9: malformed → close without an answer
    if (from_peer_ && packet->type != PacketType::ConnectionRequest) {
      return close(Errc::UnexpectedPacket);  // a peer relay only forwards connection requests
    }
    switch (packet->type) {
      case PacketType::RelayInfoRequest: {
        if (!answer_relay_info(now)) return close(Errc::RateLimited);
        observe(PacketType::RelayInfoRequest, ResponseCode::Accepted);
        break;
      }
      case PacketType::LeaseUpdateRequest: {
        const auto code = lease_update(packet->payload, now);
        if (state_ == RelayStreamState::AwaitingDirectory) break;  // answered later
        respond(PacketType::LeaseUpdateResponse, wire::encode_response(code));
        observe(PacketType::LeaseUpdateRequest, code);
        break;
      }
      case PacketType::LeaseDeleteRequest: {
        const auto code = lease_delete(packet->payload, now);
        if (state_ == RelayStreamState::AwaitingDirectory) break;  // answered later
        respond(PacketType::LeaseDeleteResponse, wire::encode_response(code));
        observe(PacketType::LeaseDeleteRequest, code);
        break;
      }
      case PacketType::LeaseLookupRequest: {
        if (auto e = lease_lookup(packet->payload, now)) return close(e);
        break;  // answered, or answered once the directory replies
      }
      case PacketType::ConnectionRequest: {
        auto request = wire::decode_connection_request(packet->payload);
        if (!request) return close(request.error());
        // Not held here: with peering the relay core resolves it in the fleet (never for a
        // peer, which asks only for leases it found here).
        if (ctx_.leases.find(request->lease_id, now) == nullptr && (!ctx_.peering || from_peer_)) {
          respond(PacketType::ConnectionResponse,
                  wire::encode_response(ResponseCode::InvalidIdentity));
          observe(PacketType::ConnectionRequest, ResponseCode::InvalidIdentity);
          break;
        }
        forward_ = std::move(*request);
        state_ = RelayStreamState::AwaitingForward;
        break;
      }
      default: return close(Errc::UnexpectedPacket);  // a response type sent to the relay
    }
  }
  return consumed;
}

std::optional<wire::ConnectionRequest> RelayControlStream::take_forward() {
  if (state_ != RelayStreamState::AwaitingForward || forward_taken_) return std::nullopt;
  forward_taken_ = true;
  return forward_;
}

base::Result<void> RelayControlStream::answer_forward(ResponseCode code) {
  if (state_ != RelayStreamState::AwaitingForward) return Errc::InvalidState;
  respond(PacketType::ConnectionResponse, wire::encode_response(code));
  observe(PacketType::ConnectionRequest, code);
  forward_.reset();
  forward_taken_ = false;
  // §7: on ACCEPTED the stream is spliced and packet processing stops; otherwise the relay may
  // read further requests on it.
  state_ = code == ResponseCode::Accepted ? RelayStreamState::Spliced : RelayStreamState::Open;
  return {};
}

}  // namespace portal::control
