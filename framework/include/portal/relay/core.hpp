// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The relay's decisions as a sans-IO core (portal-v1 §4, §6, §7): admission and per-address
/// accounting, the control streams and the forwarding of connection requests with its deadline,
/// splice accounting, the first-frame, first-packet, idle and forward timers, and the lease sweep.
/// It takes events, bytes and `now`, and answers with bytes to send, steps for each stream and
/// actions (close a connection, reset a stream). It never blocks, never reads a clock and owns no
/// I/O object: the Asio driver (relay.cpp) moves bytes, and tests drive it in virtual time.
///
/// Vocabulary:
/// - a *connection* is one transport with its mux session;
/// - a *stream* is one mux stream the core knows: a control stream a peer opened, or a stream the
///   relay opened to a lease holder to forward a connection request (a *holder stream*);
/// - a *splice* joins a dialer's control stream and its holder stream after an ACCEPTED answer.
///
/// Driving a stream: while step(s) is Read, send stream_output(s) (then stream_consumed), feed
/// received bytes to stream_input(s) (it returns how many it took; give it the rest again after
/// sending), and report the end of the stream with stream_eof(s). When step(s) changes:
/// - Forward: open a stream on connection forward_target(s) and report it with holder_opened()
///   (or holder_open_failed()), unless a Wake action for the stream comes first (the forward
///   ended meanwhile: close the holder stream when it opens); drive that holder stream the same way
///   until its step leaves Read;
/// - Splice: copy bytes between the stream and splice_peer(s) (reporting spliced_moved()) until
///   both directions end, then report splice_ended();
/// - Finish: flush and half-close; Abort: close. Either way, then stream_closed().
/// After every call, take_actions() and apply them (resetting a stream makes its reads fail;
/// report that with stream_failed()). Call tick(now) when next_deadline() is reached.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "portal/base/bytes.hpp"
#include "portal/base/clock.hpp"
#include "portal/base/export.hpp"
#include "portal/base/log.hpp"
#include "portal/base/result.hpp"
#include "portal/config/relay_config.hpp"
#include "portal/control/client.hpp"
#include "portal/control/relay_stream.hpp"
#include "portal/handshake/replay_cache.hpp"
#include "portal/identity/credential.hpp"
#include "portal/lease/directory.hpp"
#include "portal/lease/lease_table.hpp"
#include "portal/relay/rate.hpp"

namespace portal::relay {

using base::Now;
using base::now_of;

/// Names one relay connection (a transport with its mux session) for the core's life; never reused.
using ConnectionId = lease::ConnectionId;
/// Names one stream the core tracks; never reused, and 0 names none.
using StreamId = std::uint64_t;

/// Counters and gauges (also served as /metrics).
struct Stats {
  /// Leases in the table now, expired but unswept ones included.
  std::size_t leases = 0;
  /// Relay connections (mux sessions) open now.
  std::size_t connections = 0;
  /// Splices running now: each is one dialer stream joined to one holder stream.
  std::size_t relayed_streams = 0;
  /// Connections opened since the core was made.
  std::uint64_t connections_total = 0;
  /// Splices started since the core was made.
  std::uint64_t relayed_streams_total = 0;
  std::uint64_t bytes_to_holder = 0;  ///< dialer → lease holder
  std::uint64_t bytes_to_dialer = 0;  ///< lease holder → dialer
  /// With a fleet directory: false while its last answer said it is unreachable (Unavailable,
  /// TimedOut, Overloaded). Always true without one.
  bool directory_available = true;
  /// Fleet peer sessions open now: this relay dialed (`out`, used to forward its dialers) or a
  /// peer dialed and authenticated (`in`, carrying the peer's forwarded requests).
  std::size_t peer_sessions_out = 0;
  std::size_t peer_sessions_in = 0;  ///< see peer_sessions_out
  /// Splices running now whose holder stream crosses a peer session (a lease on another relay).
  std::size_t forwarded_streams = 0;
  /// Such splices started since the core was made.
  std::uint64_t forwarded_streams_total = 0;
  // --- Bandwidth (ADR 0017 §4) ---
  /// Chunks a splice had to hold back for its lease's limit (limits.lease_bytes_per_second or
  /// Core::set_lease_rate()), and the seconds those waits took in all.
  std::uint64_t rate_waits_lease = 0;
  double rate_wait_seconds_lease = 0;  ///< see rate_waits_lease
  /// The same for the relay's limit (limits.relay_bytes_per_second).
  std::uint64_t rate_waits_relay = 0;
  double rate_wait_seconds_relay = 0;  ///< see rate_waits_relay
  // --- end of bandwidth ---
};

/// The labelled counters of /metrics. Every label comes from a fixed set.
struct Metrics {
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t> answers;  ///< (type, code)
  std::map<std::string, std::uint64_t> refusals;                             ///< by limit
  std::map<std::string, std::uint64_t> control_errors;                       ///< by reason
  std::map<std::string, std::uint64_t> accept_errors;                        ///< by reason
  /// Fleet directory replies by (operation, status): lease::to_string() of each.
  std::map<std::pair<std::string, std::string>, std::uint64_t> directory;
  /// Peer session dials by result: "ok" or "failed".
  std::map<std::string, std::uint64_t> peer_dials;
  /// Forwards to a lease held on a peer relay by how its holder was found: "hit" (a route
  /// resolved less than a second ago) or "miss" (resolved in the directory).
  std::map<std::string, std::uint64_t> route_cache;
  /// Splices started to leases held on each peer relay, by relay ID (only IDs of fleet.peers).
  std::map<std::string, std::uint64_t> forwarded_by_peer;
};

/// How the relay takes part in a fleet (docs/adr/0015-relay-fleet.md). Off by default: the core
/// then never emits a directory request and behaves as a single relay.
struct FleetOptions {
  /// A directory is configured: signed requests wait for it, leases are published to it.
  bool directory = false;
  /// The address peers dial (fleet.peer_uri), published with every heartbeat; may be empty (the
  /// driver then sets its first listener's with Core::set_peer_uri()).
  std::string peer_uri;
  /// The relay IDs accepted as peers and forwarded to (fleet.peers, ADR 0015 §3). With a
  /// directory and at least one, a ConnectionRequest for a lease held on a listed relay is
  /// forwarded there over a peer session; empty: leases held elsewhere are not reached.
  std::vector<std::string> peers;
  /// How often the relay says it is alive and refreshes its lease records; name claims and
  /// records live three of these.
  std::chrono::milliseconds heartbeat{5'000};
  /// The core's own deadline for a directory reply (the client has a shorter one; this guards
  /// against a client that never answers): the request then counts as TimedOut.
  std::chrono::milliseconds reply_timeout{5'000};
};

/// A response code outside v1's set is counted under this one "other" code.
inline constexpr std::uint32_t kOtherCode = 0xffffffffu;

/// Who may register leases (access.mode, ADR 0017 §2).
enum class AccessMode {
  Open,       ///< anyone (v1's behaviour)
  Allowlist,  ///< only the allowed identity IDs; others are REJECTED ("not_allowed")
  Approval,   ///< as Allowlist, and a refused identity waits in Core::pending() until an
              ///< operator approves it ("pending_approval")
};

/// One operator ban (ADR 0017 §3).
struct Ban {
  /// What the value names.
  enum class Kind {
    Identity,  ///< an identity ID (26 characters of base32, upper-cased)
    Name,      ///< a lease-name pattern: `*` matches any run of characters; compared under the
               ///< simple case folding names use everywhere
    Address,   ///< an IP address or CIDR range of connecting peers
  };
  Kind kind = Kind::Identity;  ///< what `value` names
  std::string value;           ///< see Kind
  std::int64_t since = 0;      ///< Unix seconds when it was added
  std::string reason;          ///< the operator's note (may be empty)
};
/// "identity", "name" or "address".
[[nodiscard]] PORTAL_API const char* to_string(Ban::Kind kind) noexcept;
/// The kind named by to_string(), or nothing.
[[nodiscard]] PORTAL_API std::optional<Ban::Kind> ban_kind(std::string_view name) noexcept;
/// Checks a ban's value and puts it in its canonical form (an ID upper-cased; a pattern folded;
/// an address range as its network, IPv4 dotted or IPv6 in eight hex groups, with the prefix
/// only when shorter than the address); returns "" when it is valid, otherwise what is wrong,
/// in one line.
[[nodiscard]] PORTAL_API std::string normalize_ban(Ban& ban);
/// Whether lease name `name` matches ban pattern `pattern` (already normalised): `*` matches
/// any run of characters, everything else compares under simple case folding.
[[nodiscard]] PORTAL_API bool name_matches(std::string_view pattern, std::string_view name);

/// An identity that asked to register under AccessMode::Approval and waits for an operator.
struct PendingIdentity {
  std::string id;              ///< its identity ID
  std::string name;            ///< the lease name of its last attempt
  std::string address;         ///< the address of its last attempt
  std::int64_t first = 0;      ///< Unix seconds of its first attempt
  std::int64_t last = 0;       ///< Unix seconds of its last attempt
  std::uint64_t attempts = 0;  ///< attempts so far
};

/// Bounds of the operator tables (ADR 0017): bans, identities waiting for approval (the oldest
/// is dropped for a new one), allowed identities (config, file and approvals together).
inline constexpr std::size_t kMaxBans = 4096;
/// See kMaxBans.
inline constexpr std::size_t kMaxPending = 1024;
/// See kMaxBans.
inline constexpr std::size_t kMaxAllowedIds = 65'536;

/// What one lease held here relayed (the admin API's lease list).
struct LeaseTraffic {
  std::size_t streams = 0;            ///< splices running now
  std::uint64_t streams_total = 0;    ///< splices started while it was held here
  std::uint64_t bytes_to_holder = 0;  ///< dialers → the lease holder
  std::uint64_t bytes_to_dialer = 0;  ///< the lease holder → dialers
};

/// The relay core's configuration, fixed for its life.
struct CoreOptions {
  /// Every per-connection, per-address, per-lease and timing limit the core enforces.
  config::RelayLimits limits;
  std::vector<std::string> advertise;  ///< RelayInfo.address
  /// How often expired leases are removed from the table (at least 1 ms).
  std::chrono::milliseconds sweep_interval{30'000};
  // A leading doc comment, not a trailing one: after `{30'000}` above, Doxygen 1.9.4 merges a
  // trailing comment with the next member's.
  /// Lease names nobody may register (compared under Unicode simple case folding).
  std::vector<std::string> reserved_names;
  /// Fleet membership; off by default.
  FleetOptions fleet;
  /// Who may register leases (access.mode, ADR 0017 §2).
  AccessMode access = AccessMode::Open;
  /// The identity IDs that may register under Allowlist and Approval (upper-cased); more come
  /// with Core::set_allowed_ids() (a reloaded file) and Core::approve().
  std::set<std::string> allowed_ids;
  /// Bans in force from the start (a bans file), each checked with normalize_ban().
  std::vector<Ban> bans;
  /// Where log lines go (null: base::log under the "relay" component).
  std::function<void(base::LogLevel, const std::string&)> log;
};

/// A peer session the driver must open (Core::take_peer_dials()): dial `uri`, run the peer
/// handshake as this relay's identity, require the responder to be `relay`, then report
/// Core::peer_connected() or Core::peer_dial_failed().
struct PeerDial {
  std::string relay;  ///< the peer's relay ID (the handshake's expected responder)
  std::string uri;    ///< its peering address, from the directory's membership
};

/// What to do with a stream next.
enum class Step {
  Read,     ///< exchange bytes: send stream_output(), feed stream_input()
  Forward,  ///< open a stream to forward_target() and report it (dialer streams)
  Wait,     ///< a forward or a directory check is under way: nothing to do on this stream until a
            ///< Wake action for it (its step changed)
  Splice,   ///< copy bytes to and from splice_peer()
  Finish,   ///< flush, then half-close
  Abort,    ///< close now
};

/// The address the per-IP limits count a peer under (take_address(), connection_opened()): its
/// own when it is an IP address. A peer without one (a Unix socket's peer has no address) is
/// counted in its listener's bucket, "listener <listener>": every such peer of one listener
/// shares one budget, apart from other listeners' and from every IP address. `listener` must
/// name the listener uniquely within the relay. An IPv6 address (not IPv4-mapped) is counted
/// under its network of `ipv6_prefix` bits (limits.ipv6_prefix, 64 by default in the config: one
/// host commonly owns a whole /64), written "<network, eight groups>/<bits>"; 128 counts each
/// address apart. An IPv4-mapped address (an IPv4 client of a dual-stack listener) is counted
/// as the IPv4 address.
[[nodiscard]] PORTAL_API std::string accounting_address(std::string_view peer_address,
                                                        std::string_view listener,
                                                        unsigned ipv6_prefix = 128);

/// Something the driver must do to an I/O object.
struct Action {
  /// What to do; the driver performs each action once, in the order given.
  enum class Kind {
    CloseConnection,  ///< close the connection's session (a timer fired)
    ResetStream,      ///< close the stream (a timer fired)
    Wake,             ///< a Forward stream's step changed while the driver waits to open its
                      ///< holder stream: stop waiting (a late holder stream is closed); or a
                      ///< Wait stream's directory check ended: drive it again
  };
  /// What to do; `id` names the object.
  Kind kind;
  std::uint64_t id;  ///< a ConnectionId or a StreamId
};

/// The relay's protocol logic without I/O (ADR 0006): admission and limits, control streams,
/// leases, forwarding and splice bookkeeping, and every timer. The driver (Relay) reports what
/// happens to connections and streams, moves the bytes the core asks it to, performs the Actions
/// from take_actions() and calls tick() at next_deadline(). Time comes in as base::Now; nothing
/// here reads a clock, blocks or allocates per byte. Not thread-safe: use it from one executor.
class PORTAL_API Core {
 public:
  /// `identity` (the relay's, for RelayInfo) must outlive the core.
  Core(const identity::Credential& identity, CoreOptions options, Now now);
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;
  ~Core();

  // --- Addresses and connections -------------------------------------------------------------

  /// A TCP connection from `address` was accepted: true when it may go on (its count is then
  /// held until release_address()); false when the address has max_connections_per_ip.
  [[nodiscard]] bool take_address(const std::string& address, const std::string& scheme, Now now);
  /// Gives back the connection slot take_address() held for `address` (the socket was closed or
  /// never became a connection). Without a held slot nothing changes.
  void release_address(const std::string& address) noexcept;
  /// An accept on `where` failed; `descriptors`: the process is out of file descriptors, and
  /// the listener pauses `pause` between attempts.
  void accept_failed(const std::string& where, const base::ErrorCode& e, bool descriptors,
                     std::chrono::milliseconds pause, Now now);

  /// A mux session starts on an admitted transport; the first-frame timer starts at
  /// `connected_at` (the accept, which may be earlier than `now`). `address` is as the per-IP
  /// limits count it (accounting_address()); `own_address`, the peer's own address where that
  /// differs (an IPv6 peer counted under its network), is what logs and the admin API show.
  [[nodiscard]] ConnectionId connection_opened(const std::string& address,
                                               const std::string& scheme,
                                               base::Clock::SteadyTime connected_at, Now now,
                                               const std::string& own_address = {});
  /// `n` bytes arrived on the connection's transport (any frame, pings included).
  void connection_received(ConnectionId c, std::size_t n, Now now);
  /// The session ended: its leases go (§6.6). Its streams fail on their own.
  void connection_closed(ConnectionId c, const base::ErrorCode& reason, Now now);

  // --- Streams -------------------------------------------------------------------------------

  /// A peer opened a stream on `c`: its ID, or nothing when a limit refuses it (reset it).
  [[nodiscard]] std::optional<StreamId> stream_accepted(ConnectionId c, Now now);
  /// What the driver must do with stream `s` next; Abort for a stream the core does not know (any
  /// more).
  [[nodiscard]] Step step(StreamId s) const noexcept;
  /// In step Read: bytes the core wants written to stream `s` (an answer, a forwarded request);
  /// valid until the next non-const call. Empty for an unknown stream.
  [[nodiscard]] base::ByteSpan stream_output(StreamId s) const noexcept;
  /// Drops the first `n` bytes of stream_output() once they are written (at most its size).
  void stream_consumed(StreamId s, std::size_t n) noexcept;
  /// Feeds received bytes; returns how many were taken (the rest waits until the output is sent).
  [[nodiscard]] std::size_t stream_input(StreamId s, base::ByteSpan bytes, Now now);
  /// The peer half-closed the stream.
  void stream_eof(StreamId s, Now now);
  /// A read or write failed (the stream was reset, or its session ended).
  void stream_failed(StreamId s, Now now);
  /// The driver let go of the stream (after Finish, Abort, a failure, or a splice's end).
  void stream_closed(StreamId s) noexcept;

  // --- Forwarding (§7) -----------------------------------------------------------------------

  /// The connection that holds the lease a Forward stream asked for.
  [[nodiscard]] ConnectionId forward_target(StreamId dialer) const noexcept;
  /// The stream opened to the holder; drive it like any other (Read sends the request).
  [[nodiscard]] StreamId holder_opened(StreamId dialer, Now now);
  /// The stream to the lease holder for Forward stream `dialer` could not be opened (`e` says why):
  /// the dialer is answered REJECTED.
  void holder_open_failed(StreamId dialer, const base::ErrorCode& e, Now now);
  /// The other stream of a splice.
  [[nodiscard]] StreamId splice_peer(StreamId s) const noexcept;
  /// Bytes moved through a splice (keyed by its dialer stream).
  void spliced_moved(StreamId dialer, bool to_holder, std::size_t n, Now now);
  /// Both directions of the splice ended; both of its streams are closed with it.
  void splice_ended(StreamId dialer) noexcept;

  // --- Time ----------------------------------------------------------------------------------

  /// The earliest instant tick() has work (nothing: no timer armed).
  [[nodiscard]] std::optional<base::Clock::SteadyTime> next_deadline() const noexcept;
  /// Fires every timer due at `now`.
  void tick(Now now);

  /// Actions since the last call, in order.
  [[nodiscard]] std::vector<Action> take_actions();

  // --- Fleet directory (FleetOptions::directory) ---------------------------------------------

  /// Directory requests since the last call, in order: submit each to the directory client and
  /// report its reply with directory_reply() (a request the client refused as Overloaded).
  [[nodiscard]] std::vector<lease::DirectoryRequest> take_directory_requests();
  /// The reply to a request from take_directory_requests(). A reply to an unknown ticket (its
  /// stream went, or the core's own deadline answered it already) is counted and dropped.
  void directory_reply(const lease::DirectoryReply& reply, Now now);

  // --- Fleet peers (FleetOptions::peers, ADR 0015 §3-4) -------------------------------------

  /// One open peer session, as /metrics lists them.
  struct PeerSession {
    std::string relay;      ///< the peer's relay ID
    bool outbound = false;  ///< this relay dialed it
  };
  /// The peer sessions open now, by relay ID.
  [[nodiscard]] std::vector<PeerSession> peer_sessions() const;
  /// True when the relay forwards to peers (a directory and a non-empty allow-list).
  [[nodiscard]] bool peering() const noexcept;
  /// The address published to the fleet for peers to dial, when the config gave none.
  void set_peer_uri(const std::string& uri);
  /// Peer sessions to open, since the last call (at most one per relay at a time).
  [[nodiscard]] std::vector<PeerDial> take_peer_dials();
  /// The session to `relay` is up (authenticated, mux running); forwards waiting for it go on.
  /// `address` and `scheme` describe it for the log. The connection is reported like any other
  /// afterwards (connection_received, stream_accepted, connection_closed).
  [[nodiscard]] ConnectionId peer_connected(const std::string& relay, const std::string& address,
                                            const std::string& scheme, Now now);
  /// The session to `relay` could not be opened (`why`, for the log): forwards waiting for it
  /// are answered REJECTED.
  void peer_dial_failed(const std::string& relay, const std::string& why, Now now);
  /// Connection `c` (opened with connection_opened()) authenticated as relay `relay` in the
  /// peer handshake: true when `relay` is on the allow-list, and its streams are then a peer's
  /// (ConnectionRequests for leases held here only); false: refused and counted (close it).
  [[nodiscard]] bool peer_accepted(ConnectionId c, const std::string& relay, Now now);

  // --- Operator controls (ADR 0017) ---------------------------------------------------------

  /// The access mode the core was made with.
  [[nodiscard]] AccessMode access() const noexcept;
  /// Whether `id` may register now (always under Open; banned identities aside).
  [[nodiscard]] bool allowed(const std::string& id) const;
  /// Replaces the allowed identities (CoreOptions::allowed_ids and a reloaded allow file, upper-
  /// cased; approvals stay): leases of identities no longer allowed are dropped at once (their
  /// renewals are then REJECTED). At most kMaxAllowedIds: false, and nothing changes, beyond.
  bool set_allowed_ids(std::set<std::string> ids, Now now);
  /// Identities waiting for approval, oldest first.
  [[nodiscard]] std::vector<PendingIdentity> pending() const;
  /// Approves `id` (an identity ID in any case): its next registration is accepted. False when
  /// `id` is not an ID or the allowed identities are at kMaxAllowedIds.
  bool approve(const std::string& id, Now now);
  /// Identities approved since the core was made (the driver persists them).
  [[nodiscard]] const std::set<std::string>& approved() const noexcept;
  /// Adds a ban (normalised with normalize_ban()) and applies it at once: the leases it matches
  /// are dropped and the connections holding them closed (CloseConnection), or, for an address,
  /// the connections from it; from then on, matching registrations and connections are refused
  /// ("banned"). Returns "" when added (or already present), otherwise why not (an invalid
  /// value, or kMaxBans).
  [[nodiscard]] std::string ban(Ban ban, Now now);
  /// Removes the ban of `kind` on `value` (normalised first); false when there was none.
  bool unban(Ban::Kind kind, std::string value, Now now);
  /// The bans in force, in the order added.
  [[nodiscard]] const std::vector<Ban>& bans() const noexcept;
  /// Drops the lease of identity `id` and closes the connection that held it (the admin API's
  /// "drop"): false when no lease of `id` is held here.
  bool drop_lease(const std::string& id, Now now);
  /// The address connection `c` came from ("" when unknown): its own, also where the per-IP
  /// limits count its network (an IPv6 peer).
  [[nodiscard]] std::string connection_address(ConnectionId c) const;
  /// What the lease of `id` relayed while held here (zeros for an unknown lease).
  [[nodiscard]] LeaseTraffic lease_traffic(const std::string& id) const noexcept;

  // --- Bandwidth (ADR 0017 §4) ---------------------------------------------------------------

  /// Lease identities with a limit of their own (set_lease_rate()) at most.
  static constexpr std::size_t kMaxLeaseRates = 4096;
  /// The buckets one direction of a splice charges before it writes, in this order: its lease's
  /// (per lease identity and direction), then the relay's (per direction).
  struct SpliceRate {
    std::shared_ptr<RateBucket> lease;  ///< of the splice's lease identity
    std::shared_ptr<RateBucket> relay;  ///< of the whole relay
  };
  /// The buckets of splice `dialer`'s direction `to_holder`, for its copy loop to hold until the
  /// splice ends; both null when `dialer` is not spliced. They exist even while unlimited, so a
  /// limit set later applies to running splices at once. They may be used from any thread.
  [[nodiscard]] SpliceRate splice_rate(StreamId dialer, bool to_holder) const;
  /// Sets the limit of lease identity `identity` in bytes per second (each direction of its
  /// streams), from `now` on, running splices included; 0 returns it to the configured limit
  /// (limits.lease_bytes_per_second_by_id, else limits.lease_bytes_per_second). False, and
  /// nothing changes, when kMaxLeaseRates other identities have a limit set here already.
  [[nodiscard]] bool set_lease_rate(const std::string& identity, std::uint64_t bytes_per_second,
                                    Now now);
  /// The limit that applies to lease identity `identity` (bytes per second, 0: unlimited).
  [[nodiscard]] std::uint64_t lease_rate(const std::string& identity) const;

  // --- State, for the HTTP surface and tests -------------------------------------------------

  /// The lease table, read-only (the HTTP surface lists it).
  [[nodiscard]] const lease::LeaseTable& leases() const noexcept;
  /// Current counters and gauges, copied.
  [[nodiscard]] Stats stats() const noexcept;
  /// The labelled counters; the reference stays valid as long as the core, and its content changes
  /// with every call into it.
  [[nodiscard]] const Metrics& metrics() const noexcept;
  /// Relayed streams per lease ID.
  [[nodiscard]] std::size_t relayed_streams(const std::string& lease_id) const noexcept;
  /// Connections the core tracks now (tests check that nothing leaks).
  [[nodiscard]] std::size_t connections() const noexcept;
  /// Streams the core tracks now, of every kind (control, forward, holder, spliced).
  [[nodiscard]] std::size_t streams() const noexcept;
  /// Timers armed now, the sweep timer included.
  [[nodiscard]] std::size_t timers() const noexcept;
  /// Addresses with a connection, an accepted socket or a stream counted.
  [[nodiscard]] std::size_t addresses() const noexcept;
  /// Lease IDs with at least one relayed stream counted (forwards in flight included).
  [[nodiscard]] std::size_t leases_with_relayed_streams() const noexcept;

  struct State;

 private:
  std::unique_ptr<State> s_;
};

}  // namespace portal::relay
