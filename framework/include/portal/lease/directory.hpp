// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The vocabulary of a fleet's shared lease directory (docs/adr/0015-relay-fleet.md), as plain
/// data: the relay core emits DirectoryRequest commands and takes DirectoryReply events, and a
/// directory client (portal/directory/directory.hpp, a plugin) carries them to an engine such as
/// Redis. Nothing here does I/O; the bounds below are checked on every reply before anything is
/// allocated for it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"

namespace portal::lease {

/// What a DirectoryRequest asks (ADR 0015 §1).
enum class DirectoryOp : std::uint8_t {
  /// Claim `key` (a folded lease name) for identity `subject` for `ttl`, or extend the claim when
  /// `subject` holds it already. Conflict (with `holder` set) when another identity holds it.
  ClaimName = 1,
  /// Give up name `key`, only when identity `subject` still holds it. NotFound otherwise.
  ReleaseName = 2,
  /// Store `value` (the holder's signed LeaseUpdateRequest payload) as relay `relay`'s record of
  /// identity `key`'s lease, for `ttl`.
  PublishLease = 3,
  /// Remove relay `relay`'s record of identity `key`'s lease. NotFound when there was none.
  WithdrawLease = 4,
  /// The live records of identity `key` (or, with `by_name`, of the identity holding folded name
  /// `key`): one per holder relay. NotFound when there is none.
  Resolve = 5,
  /// Remember nonce `value` of identity `key` for `ttl`. Conflict when it is already remembered
  /// (a replay).
  CheckNonce = 6,
  /// Relay `relay` is alive and its peers reach it at `value` (a URI), for `ttl`. `key` is unused.
  Heartbeat = 7,
  /// Every live relay: one record per relay, `relay` its ID and `value` its peering URI. `key` is
  /// unused.
  Members = 8,
};

/// How a DirectoryRequest ended.
enum class DirectoryStatus : std::uint8_t {
  Ok = 0,           ///< done; `records` holds what Resolve and Members found
  Conflict = 1,     ///< ClaimName: held by another identity; CheckNonce: seen before
  NotFound = 2,     ///< nothing to release, withdraw or resolve
  Unavailable = 3,  ///< the engine cannot be reached (or the client was closed)
  TimedOut = 4,     ///< no answer before the request's deadline
  Overloaded = 5,   ///< the client's queue was full: the request was never sent
  Invalid = 6,      ///< the engine's answer broke a bound or did not parse
};

/// "ok", "conflict", "not_found", "unavailable", "timed_out", "overloaded", "invalid" (metrics
/// labels); "unknown" outside the set.
[[nodiscard]] PORTAL_API const char* to_string(DirectoryStatus s) noexcept;
/// "claim_name", "release_name", "publish_lease", "withdraw_lease", "resolve", "check_nonce",
/// "heartbeat", "members"; "unknown" outside the set.
[[nodiscard]] PORTAL_API const char* to_string(DirectoryOp op) noexcept;

/// Bounds on what a directory may hand back: a reply past one is Invalid, and nothing is
/// allocated for the part past it.
struct DirectoryBounds {
  /// Records in one reply: holders of one identity, or members of the fleet.
  std::size_t max_records = 256;
  /// Bytes of one record's value (a signed LeaseUpdateRequest is bounded by the relay's
  /// max_lease_bytes plus its signature and envelope; a URI is short).
  std::size_t max_value = 16 * 1024;
  /// Bytes of one key or ID in a reply.
  std::size_t max_key = 512;
};

/// One command to the directory.
struct DirectoryRequest {
  /// Chosen by the sender, unique among its pending requests; the reply carries it back.
  std::uint64_t ticket = 0;
  DirectoryOp op = DirectoryOp::Resolve;  ///< what to do
  std::string key;                        ///< a folded name or an identity ID (see DirectoryOp)
  std::string subject;                    ///< ClaimName and ReleaseName: the identity ID
  std::string relay;                      ///< PublishLease, WithdrawLease, Heartbeat: a relay ID
  base::Bytes value;                      ///< PublishLease, CheckNonce, Heartbeat: see DirectoryOp
  std::chrono::milliseconds ttl{0};       ///< how long what is written lives (at least 1 ms)
  bool by_name = false;                   ///< Resolve: `key` is a folded name
};

/// One thing the directory holds: a holder relay's lease record, or a live relay.
struct DirectoryRecord {
  std::string relay;  ///< the holder relay's ID (Resolve) or the member's ID (Members)
  std::string key;    ///< the identity ID (Resolve); empty for Members
  base::Bytes value;  ///< the signed LeaseUpdateRequest payload (Resolve), or the peering URI
  std::chrono::milliseconds ttl_left{0};  ///< what remains of the record's life
};

/// The event answering one DirectoryRequest.
struct DirectoryReply {
  std::uint64_t ticket = 0;                               ///< the request's
  DirectoryStatus status = DirectoryStatus::Unavailable;  ///< how the request ended
  /// ClaimName's Conflict: the identity that holds the name.
  std::string holder;
  /// Resolve and Members with Ok; at most DirectoryBounds::max_records.
  std::vector<DirectoryRecord> records;
  /// For the log: what went wrong, in words (empty when Ok).
  std::string detail;
};

/// Checks `reply` against `bounds` (record count, key and value sizes). On a breach, `problem`
/// says which bound and the reply must be treated as DirectoryStatus::Invalid.
[[nodiscard]] PORTAL_API bool within(const DirectoryReply& reply, const DirectoryBounds& bounds,
                                     std::string& problem);

}  // namespace portal::lease
