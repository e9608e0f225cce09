// SPDX-License-Identifier: Apache-2.0
#pragma once

// The relay's operator surface (ADR 0017), driver side: the operator's files (allow file, bans
// file, admin token) read and written with bounds and atomically, and the admin API's HTTP
// answers. The decisions (who may register, what a ban drops) stay in the relay core; these
// functions only carry requests to it and its state back.

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "portal/relay/core.hpp"
#include "portal/transport/transport.hpp"

namespace portal::relay::ops {

/// The largest operator file read (allow file, bans file), and the largest token file.
inline constexpr std::uintmax_t kMaxOperatorFile = 4u << 20;
inline constexpr std::uintmax_t kMaxTokenFile = 4096;

/// Reads an allow file: one identity ID per line, `#` starts a comment, blank lines skipped;
/// IDs are upper-cased. At most kMaxOperatorFile bytes and kMaxAllowedIds IDs. False with
/// `problem` naming the file and line.
[[nodiscard]] bool read_allowed_file(const std::string& path, std::set<std::string>& ids,
                                     std::string& problem);
/// Adds `id` to the allow file at `path` (created when missing) by rewriting it atomically; a
/// comment says when and why. False with `problem` set.
[[nodiscard]] bool add_to_allowed_file(const std::string& path, const std::string& id,
                                       std::int64_t unix_now, std::string& problem);

/// What a bans file holds: the bans, and per-identity byte-rate limits set through the admin
/// API (bytes per second; 0 is never stored).
struct OperatorState {
  std::vector<Ban> bans;
  std::map<std::string, std::uint64_t> rates;
};
/// Reads a bans file (JSON: {"bans": [{"kind", "value", "since", "reason"}], "rates": {ID: n}}).
/// A missing file is an empty state. False with `problem` naming the file and entry: a file
/// that exists but does not parse is never taken as empty.
[[nodiscard]] bool read_bans_file(const std::string& path, OperatorState& state,
                                  std::string& problem);
/// Writes `state` to `path` atomically (a temporary file beside it, fsync, rename, mode 0600).
[[nodiscard]] bool write_bans_file(const std::string& path, const OperatorState& state,
                                   std::string& problem);

/// Reads the admin token: the file must be a regular file of mode 0600 or stricter, at most
/// kMaxTokenFile bytes, holding at least 16 printable characters (surrounding whitespace is
/// dropped). False with `problem` set.
[[nodiscard]] bool read_token_file(const std::string& path, std::string& token,
                                   std::string& problem);

/// A file's modification time and size, to notice a change (both -1 when it cannot be read).
struct FileStamp {
  std::int64_t mtime_ns = -1;
  std::int64_t size = -1;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};
[[nodiscard]] FileStamp stamp_of(const std::string& path) noexcept;

/// Whether `req` carries `Authorization: Bearer <token>`, compared in constant time over the
/// SHA-256 digests of both sides (so neither the content nor the length leaks).
[[nodiscard]] bool bearer_matches(const std::string& token, const transport::HttpRequest& req);

/// What the admin API needs from the relay, on the relay's executor.
struct AdminHost {
  Core& core;
  Now now;
  /// The relay's lease list with each lease's connection address (for GET leases).
  std::function<std::string(ConnectionId)> address_of;
  /// Persists the bans (and rates) after a change; returns "" or the problem (the change
  /// stays in force either way, and the answer says it was not saved).
  std::function<std::string()> save_bans;
  /// Persists an approval in the allow file, if one is configured; "" or the problem.
  std::function<std::string(const std::string& id)> save_approval;
  /// Sets lease identity `id`'s byte rate (0: back to the configured one) and persists it;
  /// "" or why not (its answer is then 409).
  std::function<std::string(const std::string& id, std::uint64_t bytes_per_second)> set_rate;
  /// Re-reads the operator's files and TLS credentials; "" or the problems.
  std::function<std::string()> reload;
};

/// Answers one request below /api/admin/ (already authenticated). Every change is logged with
/// the admin action and its arguments.
[[nodiscard]] transport::HttpResponse answer_admin(AdminHost& host,
                                                   const transport::HttpRequest& req);

}  // namespace portal::relay::ops
