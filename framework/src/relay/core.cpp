// SPDX-License-Identifier: Apache-2.0
#include "portal/relay/core.hpp"

#include <algorithm>
#include <cassert>
#include <deque>
#include <limits>

#include "portal/base/address_set.hpp"
#include "portal/base/log_gate.hpp"
#include "portal/base/parse.hpp"
#include "portal/lease/name.hpp"
#include "portal/mux/errors.hpp"

namespace portal::relay {

using Steady = base::Clock::SteadyTime;
using std::chrono::milliseconds;
using wire::PacketType;
using wire::ResponseCode;

namespace {

/// A yamux frame header: fewer bytes than this within the first-frame timeout is no frame.
constexpr std::uint64_t kFirstFrameBytes = 12;
// Nonces the directory did not record (it was unreachable) kept to record them once it
// returns; each lives at most the clock window, so this bounds an outage's burst.
constexpr std::size_t kMaxUnrecordedNonces = 4096;
// Resolved routes (lease → peer relay) kept for the next dials, and for how long at most: a
// lease that moved is found again within this, and a forward on a stale route ends with the
// peer's answer and drops the route.
constexpr std::size_t kMaxRoutes = 4096;
constexpr std::chrono::milliseconds kRouteLife{1000};

bool known_code(std::uint32_t c) { return c <= static_cast<std::uint32_t>(ResponseCode::Rejected); }

std::string conn_tag(ConnectionId c) { return "conn=" + std::to_string(c); }

// A token bucket of `per_minute` KiB, refilled evenly over a minute; 0: no limit.
struct Bucket {
  double bytes = -1;  // < 0: full (not used yet)
  Steady at{};
  static double capacity(std::uint32_t kib_per_minute) { return 1024.0 * kib_per_minute; }
  double level(std::uint32_t kib_per_minute, Steady now) const {
    const double cap = capacity(kib_per_minute);
    if (bytes < 0) return cap;
    const double elapsed = std::max(0.0, std::chrono::duration<double>(now - at).count());
    return std::min(cap, bytes + elapsed * cap / 60.0);
  }
  bool take(std::uint32_t kib_per_minute, Steady now, double cost) {
    if (kib_per_minute == 0) return true;
    bytes = level(kib_per_minute, now);
    at = now;
    if (bytes < cost) return false;
    bytes -= cost;
    return true;
  }
  // Whether it is full at `now` (nothing to remember).
  bool full(std::uint32_t kib_per_minute, Steady now) const {
    return kib_per_minute == 0 || level(kib_per_minute, now) >= capacity(kib_per_minute);
  }
};

enum class TimerKind : std::uint8_t {
  Watchdog,
  FirstPacket,
  Forward,
  SpliceIdle,
  Sweep,
  Directory,
  Heartbeat
};
using TimerKey = std::tuple<Steady, TimerKind, std::uint64_t>;

// Clears the bits of `bytes` (16, IPv4 in the last 4 when `v4`) past the first `prefix` of the
// address.
void keep_prefix(std::uint8_t bytes[16], bool v4, unsigned prefix) {
  const unsigned first = v4 ? 96 + prefix : prefix;
  for (unsigned bit = first; bit < 128; ++bit) {
    bytes[bit / 8] = static_cast<std::uint8_t>(bytes[bit / 8] & ~(0x80u >> (bit % 8)));
  }
}

// An address as the relay writes one: IPv4 dotted, IPv6 as eight hex groups (no "::").
std::string render_address(const std::uint8_t bytes[16], bool v4) {
  if (v4) {
    return std::to_string(bytes[12]) + "." + std::to_string(bytes[13]) + "." +
           std::to_string(bytes[14]) + "." + std::to_string(bytes[15]);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int g = 0; g < 8; ++g) {
    const unsigned v = (unsigned{bytes[2 * g]} << 8) | bytes[2 * g + 1];
    if (g > 0) out += ':';
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const unsigned nibble = (v >> shift) & 0xfu;
      if (nibble != 0 || started || shift == 0) {
        out += kHex[nibble];
        started = true;
      }
    }
  }
  return out;
}

}  // namespace

std::string accounting_address(std::string_view peer_address, std::string_view listener,
                               unsigned ipv6_prefix) {
  std::uint8_t bytes[16];
  bool v4 = false;
  if (!base::address_bytes(peer_address, bytes, v4)) return "listener " + std::string(listener);
  // An IPv4 client of a dual-stack listener arrives as "::ffff:a.b.c.d": counted as a.b.c.d, so
  // that it has one budget whichever listener it uses.
  if (v4) return render_address(bytes, true);
  if (ipv6_prefix >= 128) return std::string(peer_address);
  // The network: the first `ipv6_prefix` bits, the rest zero, as eight hex groups.
  keep_prefix(bytes, false, ipv6_prefix);
  return render_address(bytes, false) + "/" + std::to_string(ipv6_prefix);
}

const char* to_string(Ban::Kind kind) noexcept {
  switch (kind) {
    case Ban::Kind::Identity: return "identity";
    case Ban::Kind::Name: return "name";
    case Ban::Kind::Address: return "address";
  }
  return "?";
}

std::optional<Ban::Kind> ban_kind(std::string_view name) noexcept {
  if (name == "identity") return Ban::Kind::Identity;
  if (name == "name") return Ban::Kind::Name;
  if (name == "address") return Ban::Kind::Address;
  return std::nullopt;
}

namespace {

constexpr std::size_t kMaxBanPattern = 128;  // bytes of a name pattern
constexpr std::size_t kMaxBanReason = 256;   // bytes of an operator's note

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char ch) {
    const auto u = static_cast<unsigned char>(ch);
    return u < 0x20 || u == 0x7f;
  });
}

// Upper-cases `id` and says whether it has the form of a v1 ID (portal-v1 §5.2).
bool normalize_identity(std::string& id) {
  for (auto& ch : id) {
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
  }
  return id.size() == 26 && std::all_of(id.begin(), id.end(), [](char ch) {
           return (ch >= 'A' && ch <= 'Z') || (ch >= '2' && ch <= '7');
         });
}

}  // namespace

std::string normalize_ban(Ban& ban) {
  if (ban.reason.size() > kMaxBanReason || has_control(ban.reason)) {
    return "the reason must be at most " + std::to_string(kMaxBanReason) +
           " bytes without control characters";
  }
  switch (ban.kind) {
    case Ban::Kind::Identity:
      if (!normalize_identity(ban.value)) {
        return "'" + ban.value.substr(0, 64) + "' is not an identity ID (26 characters of base32)";
      }
      return {};
    case Ban::Kind::Name:
      if (ban.value.empty() || ban.value.size() > kMaxBanPattern || has_control(ban.value)) {
        return "a name pattern must have 1 to " + std::to_string(kMaxBanPattern) +
               " bytes without control characters";
      }
      ban.value = lease::fold_name(ban.value);
      return {};
    case Ban::Kind::Address: {
      std::string problem;
      if (ban.value.find(',') != std::string::npos ||
          !base::AddressSet::parse({ban.value}, problem)) {
        return "'" + ban.value.substr(0, 64) + "' is not an IP address or CIDR range";
      }
      // One spelling per range, so that the same range typed twice is one ban and either
      // spelling lifts it: the network address (host bits cleared) as the relay writes
      // addresses, and the prefix only when it is shorter than the address (as AddressSet
      // reads it: an IPv4-mapped address is IPv4, its prefix counted in IPv4's 32 bits).
      const auto slash = ban.value.find('/');
      std::uint8_t bytes[16];
      bool v4 = false;
      if (!base::address_bytes(base::trim_blanks(std::string_view(ban.value).substr(0, slash)),
                               bytes, v4)) {
        return "'" + ban.value.substr(0, 64) + "' is not an IP address or CIDR range";
      }
      const unsigned max = v4 ? 32 : 128;
      unsigned prefix = max;
      if (slash != std::string::npos &&
          !base::parse_unsigned(std::string_view(ban.value).substr(slash + 1), prefix)) {
        return "'" + ban.value.substr(0, 64) + "' is not an IP address or CIDR range";
      }
      keep_prefix(bytes, v4, prefix);
      ban.value = render_address(bytes, v4) + (prefix < max ? "/" + std::to_string(prefix) : "");
      return {};
    }
  }
  return "unknown ban kind";
}

bool name_matches(std::string_view pattern, std::string_view name) {
  // Greedy matching with one backtrack point (the last '*'): linear for patterns with one star,
  // at most |pattern| * |name| steps otherwise (both bounded).
  std::size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

struct Core::State {
  // What one address holds, over all of its connections; forgotten when it holds nothing.
  struct Address {
    std::size_t accepted = 0;         // take_address() slots
    std::size_t control_streams = 0;  // open, not spliced
    std::size_t spliced_dialed = 0;   // spliced streams its sessions dialed
    std::set<ConnectionId> connections;
  };
  struct Connection {
    std::string address;      // as the per-IP limits count it (an IPv6 peer: its network)
    std::string own_address;  // the peer's own address, where it differs from `address`
    std::string scheme;
    // What logs and the admin API show: the peer's own address.
    const std::string& shown() const noexcept {
      return own_address.empty() ? address : own_address;
    }
    Steady connected_at{};
    Steady last{};
    std::uint64_t received = 0;
    std::size_t control_streams = 0;
    std::size_t spliced_dialed = 0;
    Bucket relay_info;
    std::optional<TimerKey> timer;
    // A fleet peer session: the peer's relay ID (empty: a client), and who dialed it.
    std::string peer;
    bool outbound = false;
  };
  enum class Kind { Control, Holder };
  struct Stream {
    Kind kind = Kind::Control;
    ConnectionId conn = 0;
    std::string address;  // of conn (the connection may go first)
    Step step = Step::Read;
    std::unique_ptr<control::RelayControlStream> control;
    std::unique_ptr<control::ClientRequest> request;  // holder streams
    bool control_slot = false;                        // counted as open and not spliced
    bool first_packet = false;                        // waiting for its first packet
    std::optional<TimerKey> timer;                    // first packet, forward or splice idle
    // A dialer stream from its forward decision until its splice ends.
    StreamId peer = 0;
    ConnectionId target = 0;
    std::string lease_id;
    std::optional<wire::ConnectionRequest> forward;
    // The lease is held on another relay: resolved through the directory, then forwarded over
    // the peer session to `via` (target stays 0 until that session is up).
    bool remote = false;
    std::string via;
    // What its lease slot counts: the lease's relayed streams (a lease held here), the dialer
    // session's and address's (a dialer that is not a peer relay).
    bool counts_lease = false;
    bool counts_dialer = false;
    bool lease_slot = false;
    bool spliced = false;
    Steady last_moved{};
    bool rated = false;  // bandwidth: counted in lease_rates (from splice to splice_ended)
  };

  State(const identity::Credential& id, CoreOptions o)
      : options(std::move(o)),
        relay_id(id.id()),
        limits(options.limits),
        leases(lease::Limits{limits.max_leases_per_connection,
                             static_cast<std::int64_t>(limits.max_lease_ttl_ms / 1000),
                             limits.max_leases, limits.max_lease_bytes}),
        replay(limits.replay_capacity, 30, limits.replay_per_identity),
        ctx{leases,
            replay,
            id,
            options.advertise,
            std::chrono::seconds{30},
            limits.max_control_packet,
            {}} {
    ctx.on_answer = [this](PacketType request, ResponseCode code) { answered(request, code); };
    ctx.on_refused = [this](const char* reason, const std::string& detail) {
      refuse(reason, detail);
    };
    ctx.admit_relay_info = [this](ConnectionId c, std::size_t bytes) {
      return admit_relay_info(c, bytes);
    };
    ctx.admit_lease = [this](ConnectionId c, const std::string& lease_id) {
      return admit_lease(c, lease_id);
    };
    ctx.reserved_names = options.reserved_names;
    ctx.admit_identity = [this](ConnectionId c, const std::string& who, const std::string& name) {
      return admit_identity(c, who, name);
    };
    allowed = options.allowed_ids;
    for (auto& b : options.bans) {
      if (normalize_ban(b).empty() && bans.size() < kMaxBans) bans.push_back(b);
    }
    rebuild_banned_addresses();
    ctx.directory = options.fleet.directory;
    options.fleet.heartbeat = std::max(options.fleet.heartbeat, milliseconds(100));
    ctx.directory_ttl = 3 * options.fleet.heartbeat;
    if (options.fleet.directory) {
      for (const auto& p : options.fleet.peers) {
        if (p != relay_id) allowed_peers.insert(p);
      }
    }
    ctx.peering = !allowed_peers.empty();
    ctx.reachable = [this](const std::string& relay) {
      return relay == relay_id || allowed_peers.count(relay) != 0;
    };
  }

  CoreOptions options;
  std::string relay_id;  // this relay's identity ID (its directory records are keyed by it)
  const config::RelayLimits& limits;
  lease::LeaseTable leases;
  handshake::ReplayCache replay;
  control::RelayContext ctx;
  Now now{};  // of the call being handled

  std::unordered_map<std::string, Address> addresses;
  // RelayInfo buckets by address, kept apart from `addresses` so that reconnecting does not
  // refill them; a bucket is forgotten by the sweep once it is full again.
  std::unordered_map<std::string, Bucket> relay_info_by_address;
  std::unordered_map<ConnectionId, Connection> conns;
  std::unordered_map<StreamId, Stream> streams;
  std::unordered_map<std::string, std::size_t> streams_per_lease;
  std::set<TimerKey> timers;
  std::optional<TimerKey> sweep_timer;
  std::vector<Action> actions;
  // Fleet directory: requests not yet taken by the driver, requests awaiting a reply (with the
  // stream that emitted them, 0 for the core's own), and the signed request behind each lease
  // this relay published (refreshed by the heartbeat; at most one per lease in the table).
  struct Ticket {
    StreamId stream = 0;
    lease::DirectoryOp op = lease::DirectoryOp::Resolve;
    std::optional<TimerKey> timer;
    // CheckNonce: the identity, the nonce and the end of its clock window.
    std::string key;
    base::Bytes nonce;
    Steady until{};
    bool forward = false;  // a Resolve for the forward of `stream`
  };
  // A nonce the directory did not record: a request accepted meanwhile (a local renewal) must
  // still be a replay on every other relay once the directory is back.
  struct Unrecorded {
    std::string key;
    base::Bytes nonce;
    Steady until{};
  };
  struct Published {
    base::Bytes payload;
    Steady at{};
  };
  std::vector<lease::DirectoryRequest> directory_out;
  std::map<std::uint64_t, Ticket> tickets;
  std::unordered_map<std::string, Published> published;
  std::deque<Unrecorded> unrecorded;
  std::optional<TimerKey> heartbeat_timer;
  // Fleet peers: the allow-list, the sessions this relay dialed (by relay ID), the forwards
  // waiting for a session being dialed, the peering addresses of listed members (from the
  // directory's membership) and the dials the driver has not taken yet.
  std::set<std::string> allowed_peers;
  std::unordered_map<std::string, ConnectionId> peers_out;
  std::unordered_map<std::string, std::vector<StreamId>> dialing;
  std::map<std::string, std::string> members;
  std::vector<PeerDial> dials_out;
  // Resolved routes by lease ID (at most kMaxRoutes, each kRouteLife at most; the oldest first
  // in route_order, whose entries may be stale: checked against `routes` when popped).
  struct Route {
    std::string relay;
    Steady until{};
  };
  std::unordered_map<std::string, Route> routes;
  std::deque<std::pair<std::string, Steady>> route_order;
  // Forwards to a relay missing from `members`, waiting for one more read of the membership.
  std::vector<StreamId> unrouted;
  bool members_pending = false;
  ConnectionId next_conn = 1;
  StreamId next_stream = 1;
  Stats stats;
  Metrics metrics;

  // Operator controls (ADR 0017): allowed identities (config and file; approvals apart), the
  // identities waiting for approval (oldest first), the bans and the address ranges among them,
  // and what each lease held here relayed (forgotten once the lease and its splices are gone).
  std::set<std::string> allowed;
  std::set<std::string> approved;
  std::vector<PendingIdentity> pending_ids;
  std::vector<Ban> bans;
  base::AddressSet banned_addresses;
  std::unordered_map<std::string, LeaseTraffic> traffic;

  void rebuild_banned_addresses() {
    std::vector<std::string> ranges;
    for (const auto& b : bans) {
      if (b.kind == Ban::Kind::Address) ranges.push_back(b.value);
    }
    std::string problem;  // each was parsed when it was added
    auto set = base::AddressSet::parse(ranges, problem);
    banned_addresses = set ? std::move(*set) : base::AddressSet{};
  }
  // Whether connections counted under `address` (an accounting_address()) are banned: an IPv6
  // network ("<network>/<bits>") is checked by its network address.
  bool address_banned(const std::string& address) const {
    const auto slash = address.find('/');
    return banned_addresses.contains(slash == std::string::npos
                                         ? std::string_view(address)
                                         : std::string_view(address).substr(0, slash));
  }
  bool is_allowed(const std::string& id) const {
    return options.access == AccessMode::Open || allowed.count(id) != 0 || approved.count(id) != 0;
  }
  // The ban that stops `id` registering lease `name`, if any.
  const Ban* ban_of(const std::string& id, const std::string& name) const {
    const std::string folded = name.empty() ? std::string() : lease::fold_name(name);
    for (const auto& b : bans) {
      if (b.kind == Ban::Kind::Identity && b.value == id) return &b;
      if (b.kind == Ban::Kind::Name && !folded.empty() && name_matches(b.value, folded)) return &b;
    }
    return nullptr;
  }
  const char* admit_identity(ConnectionId c, const std::string& id, const std::string& name) {
    if (ban_of(id, name) != nullptr) return "banned";
    if (is_allowed(id)) return nullptr;
    if (options.access == AccessMode::Approval) {
      wait_for_approval(c, id, name);
      return "pending_approval";
    }
    return "not_allowed";
  }
  void wait_for_approval(ConnectionId c, const std::string& id, const std::string& name) {
    const auto t = unix_now();
    const auto conn = conns.find(c);
    const std::string address = conn == conns.end() ? std::string() : conn->second.shown();
    for (auto& p : pending_ids) {
      if (p.id != id) continue;
      p.name = name;
      p.address = address;
      p.last = t;
      ++p.attempts;
      return;
    }
    if (pending_ids.size() >= kMaxPending)
      pending_ids.erase(pending_ids.begin());  // the oldest goes
    pending_ids.push_back(PendingIdentity{id, name, address, t, t, 1});
    // Gated: new identities are cheap to make, log lines must not be.
    gated_log(base::LogLevel::Info, "new_pending_identity",
              "identity " + id + " waits for approval (lease '" + name + "' from " +
                  (address.empty() ? "(local)" : address) + ")");
  }
  // Drops the lease of `id` here (and withdraws it from the fleet); with `close`, also closes
  // the connection that held it. False when no lease of `id` is held here.
  bool drop(const std::string& id, bool close, const std::string& why) {
    const auto* e = leases.entry(id);
    if (e == nullptr) return false;
    const ConnectionId c = e->connection;
    (void)leases.remove(id);
    withdraw(id);
    log(base::LogLevel::Info, "lease " + id + " dropped: " + why);
    if (close && conns.count(c) != 0) close_connection(c, why);
    forget_traffic_if_gone(id);
    return true;
  }
  void close_connection(ConnectionId c, const std::string& why) {
    for (const auto& a : actions) {
      if (a.kind == Action::Kind::CloseConnection && a.id == c) return;
    }
    log(base::LogLevel::Info, conn_tag(c) + " closed by the operator: " + why);
    actions.push_back(Action{Action::Kind::CloseConnection, c});
  }
  // Applies ban `b` to what is held now.
  void apply(const Ban& b) {
    const std::string why = std::string("banned (") + to_string(b.kind) + " " + b.value + ")";
    if (b.kind == Ban::Kind::Address) {
      base::AddressSet one;
      std::string problem;
      if (auto set = base::AddressSet::parse({b.value}, problem)) one = std::move(*set);
      for (const auto& [id, c] : conns) {
        const auto slash = c.address.find('/');
        if (one.contains(std::string_view(c.address).substr(0, slash))) close_connection(id, why);
      }
      return;
    }
    std::vector<std::string> hit;
    for (const auto* e : leases.list(std::numeric_limits<std::int64_t>::min())) {
      const auto& lease_id = e->lease.identity->id;
      if (b.kind == Ban::Kind::Identity ? lease_id == b.value
                                        : name_matches(b.value, lease::fold_name(e->lease.name))) {
        hit.push_back(lease_id);
      }
    }
    for (const auto& id : hit) (void)drop(id, true, why);
  }
  void forget_traffic_if_gone(const std::string& lease_id) {
    if (leases.entry(lease_id) == nullptr && streams_per_lease.count(lease_id) == 0) {
      traffic.erase(lease_id);
    }
  }

  // --- Bandwidth (ADR 0017 §4) ---
  // The buckets of each lease identity with a running splice (one per direction: 0 to the
  // holder, 1 to the dialer), with its splice count; the identities with a limit of their own
  // (at most kMaxLeaseRates); the relay's buckets (made with the first splice); and the counters
  // the buckets of each scope share with the copy loops.
  struct LeaseRate {
    std::shared_ptr<RateBucket> dir[2];
    std::size_t splices = 0;
  };
  std::unordered_map<std::string, LeaseRate> lease_rates;
  std::unordered_map<std::string, std::uint64_t> rate_overrides;
  std::shared_ptr<RateBucket> relay_rate[2];
  std::shared_ptr<RateCounters> lease_counters = std::make_shared<RateCounters>();
  std::shared_ptr<RateCounters> relay_counters = std::make_shared<RateCounters>();

  std::uint64_t lease_rate_of(const std::string& identity) const {
    if (const auto it = rate_overrides.find(identity); it != rate_overrides.end())
      return it->second;
    const auto& by_id = limits.lease_bytes_per_second_by_id;
    if (const auto it = by_id.find(identity); it != by_id.end()) return it->second;
    return limits.lease_bytes_per_second;
  }

  // A splice of dialer stream `d` starts: its buckets exist from now until it ends.
  void start_rate(Stream& d) {
    if (d.rated) return;
    d.rated = true;
    for (auto& r : relay_rate) {
      if (!r)
        r = std::make_shared<RateBucket>(limits.relay_bytes_per_second, now.steady, relay_counters);
    }
    auto& lr = lease_rates[d.lease_id];
    if (lr.splices++ == 0) {
      const auto rate = lease_rate_of(d.lease_id);
      for (auto& b : lr.dir) b = std::make_shared<RateBucket>(rate, now.steady, lease_counters);
    }
  }

  void end_rate(Stream& d) {
    if (!std::exchange(d.rated, false)) return;
    auto it = lease_rates.find(d.lease_id);
    if (it != lease_rates.end() && --it->second.splices == 0) lease_rates.erase(it);
  }
  // --- end of bandwidth ---

  // Every refusal is counted; its log line is written at most once a second per limit (with
  // the number left out since), so a peer cannot buy log volume with refused requests.
  std::map<std::string, base::LogGate> log_gates;  // by limit or event: a fixed set

  void log(base::LogLevel level, const std::string& line) const {
    if (options.log) {
      options.log(level, line);
    } else {
      base::log(level, "relay", line);
    }
  }

  void gated_warn(const std::string& gate, std::string line) {
    gated_log(base::LogLevel::Warn, gate, std::move(line));
  }
  void gated_log(base::LogLevel level, const std::string& gate, std::string line) {
    if (auto out = log_gates[gate].pass(std::move(line), now.steady)) log(level, *out);
  }

  void refuse(const std::string& limit, const std::string& what) {
    ++metrics.refusals[limit];
    gated_warn(limit, what + " (limit " + limit + ")");
  }

  void answered(PacketType request, ResponseCode code) {
    const auto c = static_cast<std::uint32_t>(code);
    ++metrics.answers[{static_cast<std::uint32_t>(request), known_code(c) ? c : kOtherCode}];
  }

  std::int64_t unix_now() const { return base::unix_seconds(now.system); }

  // --- Timers ---

  void arm(std::optional<TimerKey>& slot, Steady at, TimerKind kind, std::uint64_t id) {
    disarm(slot);
    slot = TimerKey{at, kind, id};
    timers.insert(*slot);
  }
  void disarm(std::optional<TimerKey>& slot) noexcept {
    if (slot) timers.erase(*slot);
    slot.reset();
  }

  // --- Addresses ---

  Address* address_of(const std::string& a) {
    auto it = addresses.find(a);
    return it == addresses.end() ? nullptr : &it->second;
  }
  void forget_if_idle(const std::string& a) {
    auto it = addresses.find(a);
    if (it == addresses.end()) return;
    const auto& s = it->second;
    if (s.accepted == 0 && s.control_streams == 0 && s.spliced_dialed == 0 &&
        s.connections.empty()) {
      addresses.erase(it);
    }
  }

  // An answer costs its bytes, at least 1 KiB.
  bool admit_relay_info(ConnectionId c, std::size_t bytes) {
    auto it = conns.find(c);
    if (it == conns.end()) return false;
    auto& conn = it->second;
    const double cost = static_cast<double>(std::max<std::size_t>(bytes, 1024));
    const auto& l = limits;
    if (!conn.relay_info.take(l.relay_info_kib_per_minute_per_session, now.steady, cost)) {
      refuse("relay_info_per_session",
             conn_tag(c) + ": stream reset: RelayInfo answers above " +
                 std::to_string(l.relay_info_kib_per_minute_per_session) +
                 " KiB a minute on one session (this one: " + std::to_string(bytes) + " bytes)");
      return false;
    }
    if (!relay_info_by_address[conn.address].take(l.relay_info_kib_per_minute_per_ip, now.steady,
                                                  cost)) {
      refuse("relay_info_per_ip", conn_tag(c) + ": stream reset: RelayInfo answers above " +
                                      std::to_string(l.relay_info_kib_per_minute_per_ip) +
                                      " KiB a minute to " + conn.address);
      return false;
    }
    return true;
  }

  // A lease comes to connection `c` (new, or moving from another connection).
  bool admit_lease(ConnectionId c, const std::string& id) {
    auto it = conns.find(c);
    if (it == conns.end()) return false;
    const std::string& address = it->second.address;
    const auto* a = address_of(address);
    if (a == nullptr) return false;
    if (const auto* e = leases.entry(id); e != nullptr && a->connections.count(e->connection)) {
      return true;  // it moves between two sessions of the same address
    }
    std::size_t held = 0;
    for (const auto other : a->connections) held += leases.count(other);
    if (held >= limits.max_leases_per_ip) {
      refuse("leases_per_ip", "signed request of " + id + ": lease refused: " + address +
                                  " holds " + std::to_string(held) + " leases");
      return false;
    }
    return true;
  }

  // --- Streams ---

  Stream* find(StreamId s) {
    auto it = streams.find(s);
    return it == streams.end() ? nullptr : &it->second;
  }
  const Stream* find(StreamId s) const {
    auto it = streams.find(s);
    return it == streams.end() ? nullptr : &it->second;
  }

  void release_control_slot(Stream& st) {
    if (!st.control_slot) return;
    st.control_slot = false;
    if (auto it = conns.find(st.conn); it != conns.end()) --it->second.control_streams;
    if (auto* a = address_of(st.address)) {
      --a->control_streams;
      forget_if_idle(st.address);
    }
  }

  template <class Map, class Key>
  static void decrement(Map& m, const Key& k) {
    if (auto it = m.find(k); it != m.end() && --it->second == 0) m.erase(it);
  }

  void release_lease_slot(Stream& dialer) {
    if (!dialer.lease_slot) return;
    dialer.lease_slot = false;
    if (std::exchange(dialer.counts_lease, false)) decrement(streams_per_lease, dialer.lease_id);
    if (!std::exchange(dialer.counts_dialer, false)) return;
    if (auto it = conns.find(dialer.conn); it != conns.end()) --it->second.spliced_dialed;
    if (auto* a = address_of(dialer.address)) {
      --a->spliced_dialed;
      forget_if_idle(dialer.address);
    }
  }

  // Whether connection `c` is a peer relay's session (either direction).
  bool is_peer(ConnectionId c) const {
    auto it = conns.find(c);
    return it != conns.end() && !it->second.peer.empty();
  }

  void control_error(const Stream& st, const base::ErrorCode& e) {
    if (e == control::Errc::RateLimited) return;  // counted as a refusal
    std::string reason = "malformed";
    if (e == control::Errc::ResponseTooLarge) {
      reason = "too_large";
      ++metrics.refusals["control_packet_size"];
    } else if (e == control::Errc::UnexpectedPacket) {
      reason = "unexpected_packet";
    }
    ++metrics.control_errors[reason];
    gated_warn("control_error", conn_tag(st.conn) + ": control stream closed: " + e.message());
  }

  // --- Fleet directory ---

  void submit(StreamId stream, lease::DirectoryRequest q) {
    if (q.op == lease::DirectoryOp::PublishLease) published[q.key] = Published{q.value, now.steady};
    if (q.op == lease::DirectoryOp::WithdrawLease) published.erase(q.key);
    auto& t = tickets[q.ticket];
    t.stream = stream;
    t.op = q.op;
    if (q.op == lease::DirectoryOp::CheckNonce) {
      t.key = q.key;
      t.nonce = q.value;
      t.until = now.steady + q.ttl;
    }
    arm(t.timer, now.steady + options.fleet.reply_timeout, TimerKind::Directory, q.ticket);
    directory_out.push_back(std::move(q));
  }
  // A request of the core's own (heartbeats, refreshes, withdrawals).
  void submit_own(lease::DirectoryRequest q) {
    q.ticket = ctx.next_ticket++;
    submit(0, std::move(q));
  }
  // What a control stream emitted; a stream waiting for the directory waits in step Wait.
  void collect(StreamId id, Stream& st) {
    for (auto& q : st.control->take_directory_requests()) submit(id, std::move(q));
    if (st.control->state() == control::RelayStreamState::AwaitingDirectory &&
        st.step == Step::Read) {
      st.step = Step::Wait;
    }
  }
  void withdraw(const std::string& lease_id) {
    if (!options.fleet.directory) return;
    published.erase(lease_id);
    submit_own(control::withdraw_request(lease_id, relay_id));
  }
  void account(lease::DirectoryOp op, const lease::DirectoryReply& reply) {
    ++metrics.directory[{lease::to_string(op), lease::to_string(reply.status)}];
    const auto st = reply.status;
    bool available = stats.directory_available;
    if (st == lease::DirectoryStatus::Unavailable || st == lease::DirectoryStatus::TimedOut) {
      available = false;
    } else if (st == lease::DirectoryStatus::Ok || st == lease::DirectoryStatus::Conflict ||
               st == lease::DirectoryStatus::NotFound) {
      available = true;
    }
    if (available != stats.directory_available) {
      stats.directory_available = available;
      log(available ? base::LogLevel::Info : base::LogLevel::Warn,
          available ? std::string("fleet directory available again")
                    : "fleet directory unavailable (" + std::string(lease::to_string(st)) +
                          (reply.detail.empty() ? "" : ": " + reply.detail) +
                          "): new leases and other relays' leases are refused until it returns");
      if (available) {
        record_nonces();
        refresh(true);  // a directory restarted empty has none of this relay's records
      }
    } else if (st == lease::DirectoryStatus::Invalid || st == lease::DirectoryStatus::Overloaded) {
      gated_warn("directory_error", std::string("fleet directory: ") + lease::to_string(op) + " " +
                                        lease::to_string(st) +
                                        (reply.detail.empty() ? "" : ": " + reply.detail));
    }
  }
  void directory_reply(const lease::DirectoryReply& reply) {
    auto it = tickets.find(reply.ticket);
    if (it == tickets.end()) {
      ++metrics.directory[{"unknown", lease::to_string(reply.status)}];
      return;
    }
    Ticket t = std::move(it->second);
    disarm(t.timer);
    tickets.erase(it);
    account(t.op, reply);
    if (t.op == lease::DirectoryOp::Members) return learn_members(reply);
    if (t.forward) return resolved(t.stream, reply);
    if (t.op == lease::DirectoryOp::CheckNonce &&
        (reply.status == lease::DirectoryStatus::Unavailable ||
         reply.status == lease::DirectoryStatus::TimedOut ||
         reply.status == lease::DirectoryStatus::Overloaded)) {
      remember_nonce(std::move(t.key), std::move(t.nonce), t.until);
    }
    auto* st = find(t.stream);
    if (st == nullptr || st->kind != Kind::Control) return;
    const bool waiting = st->control->state() == control::RelayStreamState::AwaitingDirectory;
    st->control->directory_answer(reply, now.system);
    collect(t.stream, *st);
    // The connection ended while the request waited: a lease it was just given has nobody to
    // hold it (connection_closed() dropped the others already).
    if (conns.find(st->conn) == conns.end()) {
      for (const auto& id : leases.drop_connection(st->conn)) {
        log(base::LogLevel::Info, "lease " + id + " dropped: " + conn_tag(st->conn) + " closed");
        withdraw(id);
      }
    }
    if (waiting && st->control->state() == control::RelayStreamState::Open &&
        st->step == Step::Wait) {
      st->step = Step::Read;
      actions.push_back({Action::Kind::Wake, t.stream});
    }
  }
  // A nonce the directory did not record, to record once it answers again (oldest dropped
  // past the bound).
  void remember_nonce(std::string key, base::Bytes nonce, Steady until) {
    if (until <= now.steady) return;
    if (unrecorded.size() >= kMaxUnrecordedNonces) {
      unrecorded.pop_front();
      gated_warn("directory_nonces", "fleet directory: more than " +
                                         std::to_string(kMaxUnrecordedNonces) +
                                         " nonces waiting for it; the oldest is dropped");
    }
    unrecorded.push_back(Unrecorded{std::move(key), std::move(nonce), until});
  }
  // Records the nonces it missed, for what remains of their clock window (a reply that fails
  // again puts the nonce back).
  void record_nonces() {
    for (auto& u : std::exchange(unrecorded, {})) {
      if (u.until <= now.steady) continue;
      lease::DirectoryRequest q;
      q.op = lease::DirectoryOp::CheckNonce;
      q.key = std::move(u.key);
      q.value = std::move(u.nonce);
      q.ttl = std::max(std::chrono::ceil<milliseconds>(u.until - now.steady), milliseconds(1000));
      submit_own(std::move(q));
    }
  }

  // Says the relay is alive, and refreshes the records (and name claims) of leases published
  // more than half a TTL ago.
  void heartbeat() {
    const auto ttl = ctx.directory_ttl;
    lease::DirectoryRequest hb;
    hb.op = lease::DirectoryOp::Heartbeat;
    hb.relay = relay_id;
    hb.value.assign(options.fleet.peer_uri.begin(), options.fleet.peer_uri.end());
    hb.ttl = ttl;
    submit_own(std::move(hb));
    if (!allowed_peers.empty()) {
      lease::DirectoryRequest m;
      m.op = lease::DirectoryOp::Members;
      submit_own(std::move(m));
    }
    if (stats.directory_available) record_nonces();
    refresh(false);
    arm(heartbeat_timer, now.steady + options.fleet.heartbeat, TimerKind::Heartbeat, 0);
  }

  // Re-publishes the records (and name claims) of this relay's live leases: those published more
  // than half a TTL ago, or, with `everything` (the directory came back and may have lost them),
  // all of them.
  void refresh(bool everything) {
    const auto ttl = ctx.directory_ttl;
    const auto now_s = unix_now();
    for (auto it = published.begin(); it != published.end();) {
      const auto* e = leases.find(it->first, now_s);
      if (e == nullptr) {
        it = published.erase(it);
        continue;
      }
      if (everything || now.steady - it->second.at >= ttl / 2) {
        it->second.at = now.steady;
        auto publish = control::publish_request(it->first, relay_id, it->second.payload,
                                                e->lease.expires - now_s, ttl);
        const std::string name = e->lease.name;
        const std::string id = it->first;
        ++it;  // submit() below re-inserts this entry (same key): keep the iterator valid
        submit_own(std::move(publish));
        if (name != lease::kUnnamed) submit_own(control::claim_request(name, id, ttl));
        continue;
      }
      ++it;
    }
  }

  // After the control core consumed input: the first packet, an error, or a forward.
  void after_control(StreamId id, Stream& st) {
    if (options.fleet.directory) collect(id, st);
    const auto state = st.control->state();
    if (st.first_packet &&
        (!st.control->pending_output().empty() || state != control::RelayStreamState::Open)) {
      st.first_packet = false;
      disarm(st.timer);
    }
    if (state == control::RelayStreamState::Closed) {
      control_error(st, st.control->error());
      st.step = Step::Abort;
      return;
    }
    if (state == control::RelayStreamState::AwaitingForward) decide_forward(id, st);
  }

  // A ConnectionRequest: every check and count in one step, so that concurrent forwards cannot
  // overshoot a cap. A lease held here is forwarded to its holder's connection; one held only on
  // a peer relay (peering) is resolved through the directory first (ADR 0015 §4).
  void decide_forward(StreamId id, Stream& st) {
    auto request = st.control->take_forward();
    if (!request) return;
    const std::string tag = conn_tag(st.conn) + " → lease " + request->lease_id;
    const auto* entry = leases.find(request->lease_id, unix_now());
    auto holder = entry == nullptr ? conns.end() : conns.find(entry->connection);
    const bool local = holder != conns.end();
    const bool from_peer = is_peer(st.conn);
    if (!local && (!ctx.peering || from_peer)) {
      (void)st.control->answer_forward(ResponseCode::InvalidIdentity);
      return;
    }
    if (local) {
      const std::size_t current = count_of(streams_per_lease, request->lease_id);
      if (current >= limits.max_streams_per_lease) {
        refuse("streams_per_lease",
               tag + " refused: " + std::to_string(current) + " relayed streams");
        (void)st.control->answer_forward(ResponseCode::Rejected);
        return;
      }
    }
    // No one dialer takes all of a lease's slots (client_identity is not authenticated: the
    // dialer's session and address are the keys). A peer relay's session carries many dialers,
    // each counted on the relay it dialed.
    auto dialer_it = conns.find(st.conn);
    if (dialer_it == conns.end()) {  // its session ended; the stream's bytes were still buffered
      (void)st.control->answer_forward(ResponseCode::Rejected);
      st.step = Step::Abort;
      return;
    }
    auto& dialer = dialer_it->second;
    if (!from_peer && dialer.spliced_dialed >= limits.max_spliced_per_dialer_session) {
      refuse("spliced_per_dialer_session", tag + " refused: the dialer's session holds " +
                                               std::to_string(dialer.spliced_dialed) +
                                               " relayed streams");
      (void)st.control->answer_forward(ResponseCode::Rejected);
      return;
    }
    auto& address = addresses[st.address];
    if (!from_peer && address.spliced_dialed >= limits.max_spliced_per_dialer_ip) {
      refuse("spliced_per_dialer_ip", tag + " refused: " + st.address + " holds " +
                                          std::to_string(address.spliced_dialed) +
                                          " relayed streams");
      (void)st.control->answer_forward(ResponseCode::Rejected);
      return;
    }
    if (!local && !stats.directory_available) {
      gated_log(base::LogLevel::Info, "forward",
                tag +
                    " refused: the fleet directory is unavailable, so leases held on other "
                    "relays cannot be resolved");
      (void)st.control->answer_forward(ResponseCode::Rejected);
      return;
    }
    if (local) {
      ++streams_per_lease[request->lease_id];
      st.counts_lease = true;
    }
    if (!from_peer) {
      ++dialer.spliced_dialed;
      ++address.spliced_dialed;
      st.counts_dialer = true;
    }
    st.lease_slot = true;
    st.lease_id = request->lease_id;
    st.forward = std::move(*request);
    arm(st.timer, now.steady + milliseconds(limits.forward_timeout_ms), TimerKind::Forward, id);
    if (local) {
      st.target = holder->first;
      st.step = Step::Forward;
      return;
    }
    st.remote = true;
    st.target = 0;
    st.step = Step::Wait;
    if (auto r = routes.find(st.lease_id); r != routes.end() && r->second.until > now.steady) {
      ++metrics.route_cache["hit"];
      const std::string relay = r->second.relay;
      return route(id, st, relay);
    }
    ++metrics.route_cache["miss"];
    lease::DirectoryRequest q;
    q.op = lease::DirectoryOp::Resolve;
    q.key = st.lease_id;
    q.ticket = ctx.next_ticket++;
    const auto ticket = q.ticket;
    submit(id, std::move(q));
    tickets[ticket].forward = true;
  }

  // The directory's answer for a remote forward: the first live, verified holder on an allowed
  // peer relay, preferring one with a session up (or being dialed).
  void resolved(StreamId id, const lease::DirectoryReply& reply) {
    auto* st = find(id);
    if (st == nullptr || !st->forward || !st->remote || st->target != 0 || !st->via.empty()) {
      return;
    }
    if (reply.status == lease::DirectoryStatus::NotFound) {
      return end_forward(id, ResponseCode::InvalidIdentity, "");
    }
    if (reply.status != lease::DirectoryStatus::Ok) {
      return end_forward(id, ResponseCode::Rejected,
                         std::string("fleet directory: resolve ") + lease::to_string(reply.status));
    }
    std::string best;
    int best_rank = -1;
    for (const auto& r : reply.records) {
      if (r.relay == relay_id || allowed_peers.count(r.relay) == 0) continue;
      if (!control::verify_record(r.value, st->lease_id, unix_now())) {
        gated_warn("directory_record", "fleet directory: the record of lease " + st->lease_id +
                                           " on relay " + r.relay +
                                           " does not verify (forged, or expired): ignored");
        continue;
      }
      const int rank = peers_out.count(r.relay) ? 2 : (dialing.count(r.relay) ? 1 : 0);
      if (rank > best_rank) {
        best = r.relay;
        best_rank = rank;
      }
    }
    if (best.empty()) {
      return end_forward(id, ResponseCode::InvalidIdentity,
                         "no live holder on this relay or an allowed peer");
    }
    remember_route(st->lease_id, best);
    route(id, *st, best);
  }

  // Sends the forward of `id` over the session to `relay`, dialing it first if needed.
  // `retried`: the membership was read again for it already.
  void route(StreamId id, Stream& st, const std::string& relay, bool retried = false) {
    st.via = relay;
    if (auto it = peers_out.find(relay); it != peers_out.end()) {
      st.target = it->second;
      st.step = Step::Forward;
      actions.push_back({Action::Kind::Wake, id});
      return;
    }
    auto& waiting = dialing[relay];
    if (waiting.empty()) {
      auto m = members.find(relay);
      if (m == members.end()) {
        dialing.erase(relay);
        // A relay that joined since the last heartbeat: read the membership once more.
        if (!retried) {
          unrouted.push_back(id);
          if (!members_pending) {
            members_pending = true;
            lease::DirectoryRequest q;
            q.op = lease::DirectoryOp::Members;
            submit_own(std::move(q));
          }
          return;
        }
        return end_forward(id, ResponseCode::Rejected,
                           "relay " + relay + " published no peering address");
      }
      dials_out.push_back(PeerDial{relay, m->second});
    }
    waiting.push_back(id);
  }

  void remember_route(const std::string& lease_id, const std::string& relay) {
    while (!route_order.empty() &&
           (route_order.size() >= kMaxRoutes || route_order.front().second <= now.steady)) {
      const auto& [id, until] = route_order.front();
      if (auto r = routes.find(id); r != routes.end() && r->second.until == until) routes.erase(r);
      route_order.pop_front();
    }
    const Steady until = now.steady + std::min(kRouteLife, options.fleet.heartbeat);
    routes[lease_id] = Route{relay, until};
    route_order.emplace_back(lease_id, until);
  }
  void forget_routes_via(const std::string& relay) {
    std::erase_if(routes, [&](const auto& r) { return r.second.relay == relay; });
  }

  // The fleet's members, as the heartbeat's Members request found them: the peering addresses
  // of the allowed ones.
  void learn_members(const lease::DirectoryReply& reply) {
    members_pending = false;
    if (reply.status == lease::DirectoryStatus::Ok) {
      members.clear();
      for (const auto& r : reply.records) {
        if (allowed_peers.count(r.relay) == 0 || r.value.empty()) continue;
        members[r.relay] = std::string(r.value.begin(), r.value.end());
      }
    }
    // Forwards that waited for it go on (or end, if their relay is still unknown).
    for (const auto id : std::exchange(unrouted, {})) {
      auto* st = find(id);
      if (st == nullptr || !st->forward || !st->remote || st->target != 0 || st->via.empty() ||
          st->step != Step::Wait) {
        continue;
      }
      route(id, *st, st->via, true);
    }
  }

  // The forward of `dialer` ends without a splice: the dialer gets `code`, the holder stream
  // (if any) is reset, and the lease slot goes.
  void end_forward(StreamId dialer_id, ResponseCode code, const std::string& why) {
    auto* d = find(dialer_id);
    if (d == nullptr || !d->forward) return;
    if (!why.empty()) {
      gated_log(base::LogLevel::Info, "forward",
                conn_tag(d->conn) + " → lease " + d->lease_id + ": " + why);
    }
    // A driver still opening the holder stream is blocked in the mux, not in this stream's I/O;
    // one waiting for a resolve or a peer session waits for a Wake.
    if (d->step == Step::Forward || d->step == Step::Wait) {
      actions.push_back({Action::Kind::Wake, dialer_id});
    }
    disarm(d->timer);
    if (d->peer != 0) {
      if (auto* h = find(d->peer); h != nullptr && h->step != Step::Abort) {
        h->step = Step::Abort;
        h->peer = 0;
        actions.push_back({Action::Kind::ResetStream, d->peer});
      }
      d->peer = 0;
    }
    d->forward.reset();
    release_lease_slot(*d);
    (void)d->control->answer_forward(code);
    d->step = Step::Read;  // the answer is in its output; further requests may follow
  }

  // The holder answered ACCEPTED: splice.
  void splice(StreamId dialer_id, Stream& d, StreamId holder_id, Stream& h) {
    disarm(d.timer);
    d.forward.reset();
    (void)d.control->answer_forward(ResponseCode::Accepted);
    release_control_slot(d);  // spliced streams are limited per lease and dialer instead
    d.step = Step::Splice;
    h.step = Step::Splice;
    d.spliced = true;
    d.last_moved = now.steady;
    ++stats.relayed_streams;
    ++stats.relayed_streams_total;
    if (d.counts_lease) ++traffic[d.lease_id].streams_total;
    if (d.remote) {
      ++stats.forwarded_streams;
      ++stats.forwarded_streams_total;
      ++metrics.forwarded_by_peer[d.via];
    }
    if (limits.spliced_idle_timeout_ms > 0) {
      arm(d.timer, now.steady + milliseconds(limits.spliced_idle_timeout_ms), TimerKind::SpliceIdle,
          dialer_id);
    }
    log(base::LogLevel::Debug, conn_tag(d.conn) + " spliced to lease " + d.lease_id +
                                   " (holder stream " + std::to_string(holder_id) + ")");
    start_rate(d);  // bandwidth (ADR 0017 §4)
  }

  void after_holder(StreamId holder_id, Stream& h) {
    const auto dialer_id = h.peer;
    auto* d = find(dialer_id);
    if (d == nullptr || !d->forward) {
      h.step = Step::Abort;
      return;
    }
    if (h.request->error()) {
      end_forward(dialer_id, ResponseCode::Rejected,
                  "holder gave no answer: " + h.request->error().message());
      return;
    }
    if (!h.request->done()) return;
    const auto code = h.request->code();
    if (code != ResponseCode::Accepted) {
      if (d->remote) routes.erase(d->lease_id);  // the lease may have moved
      end_forward(dialer_id, code, "");
      return;
    }
    if (conns.find(h.conn) == conns.end()) {
      end_forward(dialer_id, ResponseCode::Rejected, "holder's connection closed");
      return;
    }
    splice(dialer_id, *d, holder_id, h);
  }

  template <class Key>
  static std::size_t count_of(const std::unordered_map<Key, std::size_t>& counts, const Key& key) {
    const auto it = counts.find(key);
    return it == counts.end() ? 0 : it->second;
  }

  // --- Timers firing ---

  void fire(const TimerKey& key) {
    const auto [at, kind, id] = key;
    switch (kind) {
      case TimerKind::Watchdog: return watchdog(id);
      case TimerKind::FirstPacket: {
        auto* st = find(id);
        if (st == nullptr) return;
        st->timer.reset();
        if (!st->first_packet) return;
        st->first_packet = false;
        refuse("first_packet_timeout", conn_tag(st->conn) +
                                           ": stream reset: no complete packet within " +
                                           std::to_string(limits.first_packet_timeout_ms) + " ms");
        st->step = Step::Abort;
        actions.push_back({Action::Kind::ResetStream, id});
        return;
      }
      case TimerKind::Forward: {
        auto* st = find(id);
        if (st == nullptr) return;
        st->timer.reset();
        end_forward(id, ResponseCode::Rejected,
                    "holder gave no answer: timed out after " +
                        std::to_string(limits.forward_timeout_ms) + " ms");
        return;
      }
      case TimerKind::SpliceIdle: {
        auto* st = find(id);
        if (st == nullptr) return;
        st->timer.reset();
        if (!st->spliced) return;
        const auto deadline = st->last_moved + milliseconds(limits.spliced_idle_timeout_ms);
        if (now.steady < deadline) {
          arm(st->timer, deadline, TimerKind::SpliceIdle, id);
          return;
        }
        refuse("spliced_idle_timeout", conn_tag(st->conn) + " → lease " + st->lease_id +
                                           ": relayed stream closed: idle " +
                                           std::to_string(limits.spliced_idle_timeout_ms) + " ms");
        actions.push_back({Action::Kind::ResetStream, id});
        if (st->peer != 0) actions.push_back({Action::Kind::ResetStream, st->peer});
        return;
      }
      case TimerKind::Directory: {
        auto it = tickets.find(id);
        if (it == tickets.end()) return;
        it->second.timer.reset();
        lease::DirectoryReply r;
        r.ticket = id;
        r.status = lease::DirectoryStatus::TimedOut;
        r.detail = "no reply within " + std::to_string(options.fleet.reply_timeout.count()) + " ms";
        directory_reply(r);
        return;
      }
      case TimerKind::Heartbeat: {
        heartbeat_timer.reset();
        heartbeat();
        return;
      }
      case TimerKind::Sweep: {
        sweep_timer.reset();
        for (const auto& lease_id : leases.sweep(unix_now())) {
          log(base::LogLevel::Info, "lease " + lease_id + " expired");
        }
        std::erase_if(traffic, [&](const auto& entry) {
          return leases.entry(entry.first) == nullptr && streams_per_lease.count(entry.first) == 0;
        });
        std::erase_if(relay_info_by_address, [&](const auto& entry) {
          return entry.second.full(limits.relay_info_kib_per_minute_per_ip, now.steady);
        });
        arm(sweep_timer, now.steady + options.sweep_interval, TimerKind::Sweep, 0);
        return;
      }
    }
  }

  // First-frame and session idle timeouts: one timer per connection, at the nearer deadline,
  // moved lazily (bytes only update the connection; the timer checks when it fires).
  Steady watchdog_deadline(const Connection& c) const {
    auto deadline = c.last + milliseconds(limits.session_idle_timeout_ms);
    if (c.received < kFirstFrameBytes) {
      deadline = std::min(deadline, c.connected_at + milliseconds(limits.first_frame_timeout_ms));
    }
    return deadline;
  }

  void watchdog(ConnectionId id) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    auto& c = it->second;
    c.timer.reset();
    const auto deadline = watchdog_deadline(c);
    if (now.steady < deadline) {
      arm(c.timer, deadline, TimerKind::Watchdog, id);
      return;
    }
    if (c.received < kFirstFrameBytes) {
      refuse("first_frame_timeout", conn_tag(id) + " closed: no mux frame within " +
                                        std::to_string(limits.first_frame_timeout_ms) + " ms");
    } else {
      refuse("session_idle_timeout", conn_tag(id) + " closed: no frame for " +
                                         std::to_string(limits.session_idle_timeout_ms) + " ms");
    }
    actions.push_back({Action::Kind::CloseConnection, id});
  }
};

Core::Core(const identity::Credential& identity, CoreOptions options, Now now)
    : s_(std::make_unique<State>(identity, std::move(options))) {
  s_->now = now;
  s_->options.sweep_interval = std::max(s_->options.sweep_interval, milliseconds(1));
  s_->arm(s_->sweep_timer, now.steady + s_->options.sweep_interval, TimerKind::Sweep, 0);
  // The first heartbeat at once: the fleet learns of this relay as soon as it runs.
  if (s_->options.fleet.directory) {
    s_->arm(s_->heartbeat_timer, now.steady, TimerKind::Heartbeat, 0);
  }
}

Core::~Core() = default;

bool Core::take_address(const std::string& address, const std::string& scheme, Now now) {
  s_->now = now;
  if (s_->address_banned(address)) {
    s_->refuse("banned", "connection from " + address + " via " + scheme + " refused: banned");
    return false;
  }
  auto& a = s_->addresses[address];
  if (a.accepted >= s_->limits.max_connections_per_ip) {
    s_->refuse("connections_per_ip", "connection from " + address + " via " + scheme +
                                         " refused: " + std::to_string(a.accepted) +
                                         " connections from that address");
    s_->forget_if_idle(address);
    return false;
  }
  ++a.accepted;
  return true;
}

void Core::release_address(const std::string& address) noexcept {
  if (auto* a = s_->address_of(address); a != nullptr && a->accepted > 0) {
    --a->accepted;
    s_->forget_if_idle(address);
  }
}

void Core::accept_failed(const std::string& where, const base::ErrorCode& e, bool descriptors,
                         std::chrono::milliseconds pause, Now now) {
  s_->now = now;
  ++s_->metrics.accept_errors[descriptors ? "descriptors" : "other"];
  s_->gated_warn("accept",
                 "accept on " + where + " failed: " + e.message() +
                     (descriptors ? " (out of file descriptors; pausing " +
                                        std::to_string(pause.count()) + " ms between attempts)"
                                  : ""));
}

ConnectionId Core::connection_opened(const std::string& address, const std::string& scheme,
                                     base::Clock::SteadyTime connected_at, Now now,
                                     const std::string& own_address) {
  s_->now = now;
  const ConnectionId id = s_->next_conn++;
  auto& c = s_->conns[id];
  c.address = address;
  if (own_address != address) c.own_address = own_address;
  c.scheme = scheme;
  c.connected_at = connected_at == Steady{} ? now.steady : connected_at;
  c.last = c.connected_at;
  s_->addresses[address].connections.insert(id);
  s_->arm(c.timer, s_->watchdog_deadline(c), TimerKind::Watchdog, id);
  ++s_->stats.connections_total;
  s_->log(base::LogLevel::Info,
          conn_tag(id) + " opened from " + (address.empty() ? "(local)" : c.shown()) +
              (c.own_address.empty() ? "" : " (counted as " + address + ")") + " via " + scheme);
  // A transport that does not ask take_address() first: a banned address is closed here.
  if (s_->address_banned(address)) {
    s_->refuse("banned", conn_tag(id) + " from " + address + " via " + scheme + ": banned");
    s_->close_connection(id, "banned address");
  }
  return id;
}

void Core::connection_received(ConnectionId c, std::size_t n, Now now) {
  if (n == 0) return;
  auto it = s_->conns.find(c);
  if (it == s_->conns.end()) return;
  it->second.received += n;
  it->second.last = now.steady;
}

void Core::connection_closed(ConnectionId c, const base::ErrorCode& reason, Now now) {
  s_->now = now;
  auto it = s_->conns.find(c);
  if (it == s_->conns.end()) return;
  auto& conn = it->second;
  s_->disarm(conn.timer);
  for (const auto& id : s_->leases.drop_connection(c)) {
    s_->log(base::LogLevel::Info, "lease " + id + " dropped: " + conn_tag(c) + " closed");
    s_->withdraw(id);
    s_->forget_traffic_if_gone(id);
  }
  if (reason == mux::Errc::PeerNotReading) {
    s_->refuse("peer_not_reading", conn_tag(c) + " from " + conn.shown() +
                                       " closed: it sends without reading what it is owed");
  }
  s_->log(base::LogLevel::Info,
          conn_tag(c) + " closed: " + (reason ? reason.message() : std::string("end of stream")));
  if (!conn.peer.empty()) {
    if (conn.outbound) {
      --s_->stats.peer_sessions_out;
      if (auto p = s_->peers_out.find(conn.peer); p != s_->peers_out.end() && p->second == c) {
        s_->peers_out.erase(p);
      }
    } else {
      --s_->stats.peer_sessions_in;
    }
  }
  const std::string address = conn.address;
  s_->conns.erase(it);
  if (auto* a = s_->address_of(address)) {
    a->connections.erase(c);
    s_->forget_if_idle(address);
  }
}

std::optional<StreamId> Core::stream_accepted(ConnectionId c, Now now) {
  s_->now = now;
  auto it = s_->conns.find(c);
  if (it == s_->conns.end()) return std::nullopt;
  auto& conn = it->second;
  const auto& l = s_->limits;
  // A peer relay's session carries many dialers' requests (each counted on the relay they
  // dialed); the mux session's own stream limit bounds it.
  const bool peer = !conn.peer.empty();
  if (!peer && conn.control_streams >= l.max_control_streams_per_session) {
    s_->refuse("control_streams_per_session",
               conn_tag(c) + ": stream reset: " + std::to_string(conn.control_streams) +
                   " streams open and not spliced");
    return std::nullopt;
  }
  auto& a = s_->addresses[conn.address];
  if (!peer && a.control_streams >= l.max_control_streams_per_ip) {
    s_->refuse("control_streams_per_ip",
               conn_tag(c) + ": stream reset: " + std::to_string(a.control_streams) +
                   " streams of " + conn.address + " open and not spliced");
    return std::nullopt;
  }
  const StreamId id = s_->next_stream++;
  auto& st = s_->streams[id];
  st.kind = State::Kind::Control;
  st.conn = c;
  st.address = conn.address;
  st.control = std::make_unique<control::RelayControlStream>(s_->ctx, c, peer);
  st.control_slot = true;
  ++conn.control_streams;
  ++a.control_streams;
  // The first complete packet must arrive in time: an open stream is not a place to park.
  st.first_packet = true;
  s_->arm(st.timer, now.steady + milliseconds(l.first_packet_timeout_ms), TimerKind::FirstPacket,
          id);
  return id;
}

Step Core::step(StreamId s) const noexcept {
  const auto* st = s_->find(s);
  return st == nullptr ? Step::Abort : st->step;
}

base::ByteSpan Core::stream_output(StreamId s) const noexcept {
  const auto* st = s_->find(s);
  if (st == nullptr) return {};
  return st->kind == State::Kind::Control ? st->control->pending_output()
                                          : st->request->pending_output();
}

void Core::stream_consumed(StreamId s, std::size_t n) noexcept {
  auto* st = s_->find(s);
  if (st == nullptr) return;
  if (st->kind == State::Kind::Control) {
    st->control->consume_output(n);
  } else {
    st->request->consume_output(n);
  }
}

std::size_t Core::stream_input(StreamId s, base::ByteSpan bytes, Now now) {
  s_->now = now;
  auto* st = s_->find(s);
  if (st == nullptr || st->step != Step::Read) return 0;
  if (st->kind == State::Kind::Control) {
    auto used = st->control->handle_input(bytes, now.system);
    s_->after_control(s, *st);
    return used ? *used : bytes.size();
  }
  auto used = st->request->handle_input(bytes);
  s_->after_holder(s, *st);
  return used ? *used : bytes.size();
}

void Core::stream_eof(StreamId s, Now now) {
  s_->now = now;
  auto* st = s_->find(s);
  if (st == nullptr || st->step != Step::Read) return;
  if (st->kind == State::Kind::Holder) {
    st->request->handle_eof();
    s_->after_holder(s, *st);
    st->step = Step::Abort;
    return;
  }
  // A graceful end is a half-close: the answers already queued stay readable.
  st->step = Step::Finish;
}

void Core::stream_failed(StreamId s, Now now) {
  s_->now = now;
  auto* st = s_->find(s);
  if (st == nullptr) return;
  if (st->kind == State::Kind::Holder && st->peer != 0) {
    const auto dialer = st->peer;
    if (auto* d = s_->find(dialer); d != nullptr && d->forward) {
      s_->end_forward(dialer, ResponseCode::Rejected, "holder stream failed");
    }
  }
  if (st->step != Step::Splice) st->step = Step::Abort;
}

void Core::stream_closed(StreamId s) noexcept {
  auto it = s_->streams.find(s);
  if (it == s_->streams.end()) return;
  auto& st = it->second;
  if (st.kind == State::Kind::Control && st.forward) {
    // The dialer went away during its forward: the holder stream goes too.
    if (st.peer != 0) {
      if (auto* h = s_->find(st.peer)) {
        h->step = Step::Abort;
        h->peer = 0;
        s_->actions.push_back({Action::Kind::ResetStream, st.peer});
      }
    }
    st.forward.reset();
  }
  if (st.kind == State::Kind::Holder && st.peer != 0) {
    if (auto* d = s_->find(st.peer); d != nullptr && d->peer == s) d->peer = 0;
  }
  if (st.spliced) splice_ended(s);
  s_->disarm(st.timer);
  s_->release_control_slot(st);
  s_->release_lease_slot(st);
  s_->streams.erase(it);
}

ConnectionId Core::forward_target(StreamId dialer) const noexcept {
  const auto* st = s_->find(dialer);
  return st == nullptr ? 0 : st->target;
}

StreamId Core::holder_opened(StreamId dialer, Now now) {
  s_->now = now;
  auto* d = s_->find(dialer);
  if (d == nullptr || !d->forward || d->step != Step::Forward) return 0;
  const StreamId id = s_->next_stream++;
  auto& h = s_->streams[id];
  d = s_->find(dialer);  // the insertion may have rehashed
  h.kind = State::Kind::Holder;
  h.conn = d->target;
  if (auto it = s_->conns.find(d->target); it != s_->conns.end()) h.address = it->second.address;
  h.request = std::make_unique<control::ClientRequest>(
      control::ClientRequest::connection(d->forward->lease_id, d->forward->client_identity));
  h.request->set_max_response(s_->limits.max_control_packet);
  h.peer = dialer;
  d->peer = id;
  d->step = Step::Wait;
  return id;
}

void Core::holder_open_failed(StreamId dialer, const base::ErrorCode& e, Now now) {
  s_->now = now;
  s_->end_forward(dialer, ResponseCode::Rejected,
                  "cannot open a stream to the holder: " + e.message());
}

StreamId Core::splice_peer(StreamId s) const noexcept {
  const auto* st = s_->find(s);
  return st == nullptr ? 0 : st->peer;
}

void Core::spliced_moved(StreamId dialer, bool to_holder, std::size_t n, Now now) {
  (to_holder ? s_->stats.bytes_to_holder : s_->stats.bytes_to_dialer) += n;
  if (auto* d = s_->find(dialer)) {
    d->last_moved = now.steady;
    if (d->counts_lease) {
      auto& t = s_->traffic[d->lease_id];
      (to_holder ? t.bytes_to_holder : t.bytes_to_dialer) += n;
    }
  }
}

void Core::splice_ended(StreamId dialer) noexcept {
  auto* d = s_->find(dialer);
  if (d == nullptr || !d->spliced) return;
  d->spliced = false;
  --s_->stats.relayed_streams;
  if (d->remote) --s_->stats.forwarded_streams;
  s_->disarm(d->timer);
  s_->release_lease_slot(*d);
  s_->forget_traffic_if_gone(d->lease_id);
  s_->end_rate(*d);  // bandwidth (ADR 0017 §4)
  d->step = Step::Abort;
  if (auto* h = s_->find(d->peer)) h->step = Step::Abort;
}

std::optional<base::Clock::SteadyTime> Core::next_deadline() const noexcept {
  if (s_->timers.empty()) return std::nullopt;
  return std::get<0>(*s_->timers.begin());
}

void Core::tick(Now now) {
  s_->now = now;
  while (!s_->timers.empty() && std::get<0>(*s_->timers.begin()) <= now.steady) {
    const auto key = *s_->timers.begin();
    s_->timers.erase(s_->timers.begin());
    s_->fire(key);
  }
}

std::vector<Action> Core::take_actions() { return std::exchange(s_->actions, {}); }

std::vector<lease::DirectoryRequest> Core::take_directory_requests() {
  return std::exchange(s_->directory_out, {});
}

void Core::directory_reply(const lease::DirectoryReply& reply, Now now) {
  s_->now = now;
  s_->directory_reply(reply);
}

bool Core::peering() const noexcept { return s_->ctx.peering; }

std::vector<Core::PeerSession> Core::peer_sessions() const {
  std::vector<PeerSession> out;
  for (const auto& [id, c] : s_->conns) {
    if (!c.peer.empty()) out.push_back(PeerSession{c.peer, c.outbound});
  }
  std::sort(out.begin(), out.end(), [](const PeerSession& a, const PeerSession& b) {
    return std::tie(a.relay, a.outbound) < std::tie(b.relay, b.outbound);
  });
  return out;
}

void Core::set_peer_uri(const std::string& uri) {
  if (s_->options.fleet.peer_uri.empty()) s_->options.fleet.peer_uri = uri;
}

std::vector<PeerDial> Core::take_peer_dials() { return std::exchange(s_->dials_out, {}); }

ConnectionId Core::peer_connected(const std::string& relay, const std::string& address,
                                  const std::string& scheme, Now now) {
  s_->now = now;
  const ConnectionId id = s_->next_conn++;
  auto& c = s_->conns[id];
  c.address = address;
  c.scheme = scheme;
  c.connected_at = now.steady;
  c.last = now.steady;
  c.received = kFirstFrameBytes;  // this relay dialed: no first frame to wait for
  c.peer = relay;
  c.outbound = true;
  s_->arm(c.timer, s_->watchdog_deadline(c), TimerKind::Watchdog, id);
  ++s_->stats.connections_total;
  ++s_->stats.peer_sessions_out;
  ++s_->metrics.peer_dials["ok"];
  s_->peers_out[relay] = id;
  s_->log(base::LogLevel::Info,
          conn_tag(id) + ": peer session to relay " + relay + " at " + address + " via " + scheme);
  auto waiting = std::move(s_->dialing[relay]);
  s_->dialing.erase(relay);
  for (const auto sid : waiting) {
    auto* st = s_->find(sid);
    if (st == nullptr || !st->forward || !st->remote || st->step != Step::Wait ||
        st->via != relay || st->target != 0) {
      continue;
    }
    st->target = id;
    st->step = Step::Forward;
    s_->actions.push_back({Action::Kind::Wake, sid});
  }
  return id;
}

void Core::peer_dial_failed(const std::string& relay, const std::string& why, Now now) {
  s_->now = now;
  ++s_->metrics.peer_dials["failed"];
  s_->forget_routes_via(relay);
  s_->gated_warn("peer_dial", "peer session to relay " + relay + " failed: " + why);
  auto waiting = std::move(s_->dialing[relay]);
  s_->dialing.erase(relay);
  for (const auto sid : waiting) {
    auto* st = s_->find(sid);
    if (st == nullptr || !st->remote || st->via != relay || st->target != 0) continue;
    s_->end_forward(sid, ResponseCode::Rejected, "cannot reach relay " + relay + ": " + why);
  }
}

bool Core::peer_accepted(ConnectionId c, const std::string& relay, Now now) {
  s_->now = now;
  auto it = s_->conns.find(c);
  if (it == s_->conns.end()) return false;
  if (s_->allowed_peers.count(relay) == 0) {
    s_->refuse("peer_not_allowed", conn_tag(c) + " from " + it->second.address +
                                       ": peer session refused: relay " + relay +
                                       " is not in fleet.peers");
    return false;
  }
  it->second.peer = relay;
  ++s_->stats.peer_sessions_in;
  s_->log(base::LogLevel::Info, conn_tag(c) + ": peer session from relay " + relay);
  return true;
}

AccessMode Core::access() const noexcept { return s_->options.access; }

bool Core::allowed(const std::string& id) const {
  return s_->ban_of(id, {}) == nullptr && s_->is_allowed(id);
}

bool Core::set_allowed_ids(std::set<std::string> ids, Now now) {
  s_->now = now;
  if (ids.size() + s_->approved.size() > kMaxAllowedIds) return false;
  s_->allowed = std::move(ids);
  if (s_->options.access == AccessMode::Open) return true;
  std::vector<std::string> gone;
  for (const auto* e : s_->leases.list(std::numeric_limits<std::int64_t>::min())) {
    if (!s_->is_allowed(e->lease.identity->id)) gone.push_back(e->lease.identity->id);
  }
  for (const auto& id : gone) (void)s_->drop(id, false, "no longer allowed (access list changed)");
  return true;
}

std::vector<PendingIdentity> Core::pending() const { return s_->pending_ids; }

bool Core::approve(const std::string& id, Now now) {
  s_->now = now;
  std::string key = id;
  if (!normalize_identity(key)) return false;
  if (s_->allowed.count(key) != 0 || s_->approved.count(key) != 0) return true;
  if (s_->allowed.size() + s_->approved.size() >= kMaxAllowedIds) return false;
  s_->approved.insert(key);
  std::erase_if(s_->pending_ids, [&](const PendingIdentity& p) { return p.id == key; });
  s_->log(base::LogLevel::Info, "identity " + key + " approved");
  return true;
}

const std::set<std::string>& Core::approved() const noexcept { return s_->approved; }

std::string Core::ban(Ban ban, Now now) {
  s_->now = now;
  if (auto problem = normalize_ban(ban); !problem.empty()) return problem;
  for (const auto& b : s_->bans) {
    if (b.kind == ban.kind && b.value == ban.value) return {};
  }
  if (s_->bans.size() >= kMaxBans) {
    return "the ban list is full (" + std::to_string(kMaxBans) + " bans)";
  }
  if (ban.since == 0) ban.since = s_->unix_now();
  s_->bans.push_back(ban);
  if (ban.kind == Ban::Kind::Address) s_->rebuild_banned_addresses();
  s_->log(base::LogLevel::Info, std::string("ban added: ") + to_string(ban.kind) + " " + ban.value);
  s_->apply(ban);
  return {};
}

bool Core::unban(Ban::Kind kind, std::string value, Now now) {
  s_->now = now;
  Ban key{kind, std::move(value), 0, {}};
  if (!normalize_ban(key).empty()) return false;
  const auto removed = std::erase_if(
      s_->bans, [&](const Ban& b) { return b.kind == key.kind && b.value == key.value; });
  if (removed == 0) return false;
  if (kind == Ban::Kind::Address) s_->rebuild_banned_addresses();
  s_->log(base::LogLevel::Info, std::string("ban removed: ") + to_string(kind) + " " + key.value);
  return true;
}

const std::vector<Ban>& Core::bans() const noexcept { return s_->bans; }

bool Core::drop_lease(const std::string& id, Now now) {
  s_->now = now;
  std::string key = id;
  if (!normalize_identity(key)) return false;
  return s_->drop(key, true, "dropped by the operator");
}

std::string Core::connection_address(ConnectionId c) const {
  const auto it = s_->conns.find(c);
  return it == s_->conns.end() ? std::string() : it->second.shown();
}

LeaseTraffic Core::lease_traffic(const std::string& id) const noexcept {
  LeaseTraffic t;
  if (auto it = s_->traffic.find(id); it != s_->traffic.end()) t = it->second;
  t.streams = relayed_streams(id);
  return t;
}

const lease::LeaseTable& Core::leases() const noexcept { return s_->leases; }

Stats Core::stats() const noexcept {
  Stats st = s_->stats;
  st.leases = s_->leases.size();
  st.connections = s_->conns.size();
  // Bandwidth (ADR 0017 §4): the copy loops' counters.
  st.rate_waits_lease = s_->lease_counters->waits.load();
  st.rate_wait_seconds_lease = static_cast<double>(s_->lease_counters->waited_ns.load()) / 1e9;
  st.rate_waits_relay = s_->relay_counters->waits.load();
  st.rate_wait_seconds_relay = static_cast<double>(s_->relay_counters->waited_ns.load()) / 1e9;
  return st;
}

const Metrics& Core::metrics() const noexcept { return s_->metrics; }

std::size_t Core::relayed_streams(const std::string& lease_id) const noexcept {
  return State::count_of(s_->streams_per_lease, lease_id);
}

std::size_t Core::connections() const noexcept { return s_->conns.size(); }
std::size_t Core::streams() const noexcept { return s_->streams.size(); }
std::size_t Core::timers() const noexcept { return s_->timers.size(); }
std::size_t Core::addresses() const noexcept { return s_->addresses.size(); }
std::size_t Core::leases_with_relayed_streams() const noexcept {
  return s_->streams_per_lease.size();
}

// --- Bandwidth (ADR 0017 §4) -----------------------------------------------------------------

Core::SpliceRate Core::splice_rate(StreamId dialer, bool to_holder) const {
  const auto* d = s_->find(dialer);
  if (d == nullptr || !d->rated) return {};
  const auto it = s_->lease_rates.find(d->lease_id);
  if (it == s_->lease_rates.end()) return {};
  const int dir = to_holder ? 0 : 1;
  return SpliceRate{it->second.dir[dir], s_->relay_rate[dir]};
}

bool Core::set_lease_rate(const std::string& identity, std::uint64_t bytes_per_second, Now now) {
  s_->now = now;
  if (bytes_per_second == 0) {
    s_->rate_overrides.erase(identity);
  } else if (auto it = s_->rate_overrides.find(identity); it != s_->rate_overrides.end()) {
    it->second = bytes_per_second;
  } else if (s_->rate_overrides.size() >= kMaxLeaseRates) {
    return false;
  } else {
    s_->rate_overrides.emplace(identity, bytes_per_second);
  }
  const auto rate = s_->lease_rate_of(identity);
  if (auto it = s_->lease_rates.find(identity); it != s_->lease_rates.end()) {
    for (auto& b : it->second.dir) b->set_rate(rate, now.steady);
  }
  s_->log(base::LogLevel::Info,
          "lease " + identity + ": bandwidth limit " +
              (rate == 0 ? std::string("none") : std::to_string(rate) + " bytes/s"));
  return true;
}

std::uint64_t Core::lease_rate(const std::string& identity) const {
  return s_->lease_rate_of(identity);
}

}  // namespace portal::relay
