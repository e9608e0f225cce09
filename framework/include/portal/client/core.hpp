// SPDX-License-Identifier: Apache-2.0
#pragma once

// The client's decisions as a sans-IO core: which relays are up, when to reconnect (backoff with
// jitter from an injected random source), the health pings and their deadline, registering and
// renewing the lease on every relay, deleting it, which forwarded requests to accept (the
// incoming queue's limit), and which dial candidates to try. It takes events and `now`, and
// answers with actions; it never blocks, never reads a clock and owns no I/O object. The Asio
// driver (client.cpp) performs the actions and reports their outcomes; tests drive it on a
// manual clock.
//
// Driving it: call start(), then after every call apply take_actions(), and call tick(now) when
// next_deadline() is reached. Each action names a relay (by index) and a session number; report
// its outcome with the same numbers (outcomes for an older session are ignored).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "portal/base/clock.hpp"
#include "portal/base/export.hpp"
#include "portal/base/random.hpp"
#include "portal/base/result.hpp"
#include "portal/client/resolve.hpp"
#include "portal/config/client_config.hpp"
#include "portal/wire/control.hpp"

namespace portal::client {

/// What the driver does for the core.
struct Action {
  /// What to do; each kind says which ClientCore call reports the outcome.
  enum class Kind {
    Connect,   ///< connect the relay (transport, mux, RelayInfo): connected() or connect_failed()
    Register,  ///< send `lease` on the relay's session: registered()
    Delete,    ///< send a lease delete on the relay's session: deleted()
    Ping,      ///< ping the relay's session: ping_answered() or ping_failed()
    Close,     ///< close the relay's session (it failed its health check); it is already down
    Up,        ///< tell the application the relay is up (`detail`: its relay ID)
    Down,      ///< tell the application the relay is down (`detail`: why)
  };
  /// What to do; `relay` and `session` say where, `detail` and `lease` carry what the kind needs.
  Kind kind = Kind::Connect;
  /// The relay concerned: an index into ClientCore::Config::relays.
  std::size_t relay = 0;
  /// The attempt or session the action belongs to: pass it back with the outcome, so that a late
  /// report about an earlier session is ignored.
  std::uint64_t session = 0;
  std::string detail;
  wire::Lease lease;  ///< Register: the lease to sign and send
};

/// The lease a listener registers everywhere.
struct LeaseSpec {
  /// The lease name (empty: an unnamed lease, reached by ID only).
  std::string name;
  /// The application protocols dialers may ask for.
  std::vector<std::string> alpns;
  /// v1's JSON metadata text, sent as is (may be empty).
  std::string metadata;
};

/// One relay as the core sees it.
struct RelayState {
  /// Waiting: down, until `retry_at` (or the first start()); Connecting: a Connect action is out;
  /// Up: the session is open.
  enum class Phase { Waiting, Connecting, Up };
  /// Where the relay is in its connect cycle.
  Phase phase = Phase::Waiting;
  std::uint64_t session = 0;  ///< the current attempt or session
  bool attempted = false;     ///< a first attempt has ended (either way)
  /// Waiting: when the next connection attempt starts (once a first attempt has ended).
  base::Clock::SteadyTime retry_at{};
  std::chrono::milliseconds backoff{0};  ///< the next wait before reconnecting (before jitter)
  std::string relay_id;                  ///< from RelayInfo, once known
  std::string last_error;                ///< why the last attempt or session failed
  // The lease on this relay's current session.
  /// The relay answered ACCEPTED to the last registration on this session.
  bool lease_accepted = false;
  /// The relay's answer to the last registration (Unknown when none, or when the request failed).
  wire::ResponseCode last_code = wire::ResponseCode::Unknown;
  bool registering = false;  ///< a registration is in flight
  bool deleting = false;     ///< a delete is in flight
  // Health.
  /// Up and not pinging: when the next health ping is due.
  base::Clock::SteadyTime next_ping{};
  /// A health ping is out (a Ping action was issued and not yet reported).
  bool pinging = false;
  /// While pinging: the relay is declared down if the ping has not been answered by then.
  base::Clock::SteadyTime ping_deadline{};
};

/// The client's relay logic without I/O (ADR 0008): which relays to connect, when to register and
/// renew the lease, ping and reconnect, and whether to accept a forwarded connection. The driver
/// (Client, or the JavaScript SDK's engine) performs the Actions that take_actions() returns and
/// reports each outcome back with the session number from the action; it calls tick() at
/// next_deadline(). Time comes in as base::Now; nothing here reads a clock or blocks. Not
/// thread-safe.
class PORTAL_API ClientCore {
 public:
  /// The relays, timers and identity the core works with; fixed for its life.
  struct Config {
    std::vector<std::string> relays;  ///< names for logs and errors (their URIs)
    /// Lease TTL and renewal, ping interval and timeout, reconnect back-off and jitter, accept
    /// queue size.
    config::ClientTimers timers;
    std::string own_id;  ///< the client's identity ID: the lease forwarded requests name
    base::RandomSource* random = nullptr;  ///< jitter (required)
  };

  /// A core for `config.relays`, every relay Waiting; nothing happens before start().
  explicit ClientCore(Config config);

  /// Every relay is tried at once.
  void start(base::Now now);

  // ---- relay sessions ----
  /// The Connect action for `session` succeeded: the relay is Up (an Up action follows), its health
  /// pings start, and the lease is registered on it when listening. A report for another session is
  /// ignored.
  void connected(std::size_t relay, std::uint64_t session, std::string relay_id, base::Now now);
  /// The Connect action for `session` failed with `error`: the relay waits for its back-off
  /// (jittered; it doubles up to reconnect_max_ms) and is tried again. A report for another session
  /// is ignored.
  void connect_failed(std::size_t relay, std::uint64_t session, std::string error, base::Now now);
  /// The session ended (the relay closed it, the transport failed).
  void session_closed(std::size_t relay, std::uint64_t session, std::string reason, base::Now now);
  /// The Ping action was answered: the next ping is due a health interval from `now`.
  void ping_answered(std::size_t relay, std::uint64_t session, base::Now now);
  /// The Ping action failed: the relay goes down (Close and Down actions) and is reconnected after
  /// the first back-off delay.
  void ping_failed(std::size_t relay, std::uint64_t session, std::string error, base::Now now);

  // ---- the lease ----
  /// Registers `spec` on every relay that is up (and on each relay that comes up later), and
  /// renews it every renew interval. Errors: Errc::AlreadyListening.
  [[nodiscard]] base::Result<void> listen(LeaseSpec spec, base::Now now);
  /// `code`: the relay's answer, or nothing when the request failed (`error` says why).
  void registered(std::size_t relay, std::uint64_t session, std::optional<wire::ResponseCode> code,
                  const std::string& error, base::Now now);
  /// Stops renewing and deletes the lease on every relay that is up.
  void stop_listening(base::Now now);
  /// The Delete action ended (`error` empty when the relay answered); a failure is only logged, as
  /// the lease expires by itself.
  void deleted(std::size_t relay, std::uint64_t session, const std::string& error);
  /// True between listen() and stop_listening().
  [[nodiscard]] bool listening() const noexcept { return listening_.has_value(); }

  // ---- incoming connections ----
  /// A connection request the relay forwarded for `lease_id`: ACCEPTED when the listener is
  /// open, the request names our lease and fewer than accept_queue connections are in their
  /// handshake or wait for accept(); REJECTED otherwise. An ACCEPTED one counts until
  /// incoming_ended().
  [[nodiscard]] wire::ResponseCode incoming_request(std::string_view lease_id);
  /// An accepted request's handshake ended: `queued` when its stream now waits for accept().
  void incoming_ended(bool queued);
  /// accept() took a queued stream (or the queue was dropped: `count` of them).
  void incoming_taken(std::size_t count = 1);

  // ---- time ----
  /// When tick() must next be called: the earliest reconnect, ping, ping timeout or renewal;
  /// nothing when no timer runs.
  [[nodiscard]] std::optional<base::Clock::SteadyTime> next_deadline() const;
  /// Runs what is due at `now`: reconnects, health pings and their timeouts, lease renewals. Queues
  /// the resulting actions.
  void tick(base::Now now);
  /// The actions queued since the last call, in order; the core forgets them.
  [[nodiscard]] std::vector<Action> take_actions();
  /// Whether take_actions() has anything (a driver that loops until the core is quiet asks).
  [[nodiscard]] bool has_actions() const noexcept { return !actions_.empty(); }

  // ---- introspection ----
  /// The state of relay `i` (an index into Config::relays); throws std::out_of_range past
  /// relay_count().
  [[nodiscard]] const RelayState& relay(std::size_t i) const { return relays_.at(i); }
  /// The number of relays, Config::relays.size().
  [[nodiscard]] std::size_t relay_count() const noexcept { return relays_.size(); }
  /// True when at least one relay is Up.
  [[nodiscard]] bool any_up() const noexcept;
  /// Every relay's first attempt has ended.
  [[nodiscard]] bool all_attempted() const noexcept;
  /// Accepted incoming connections not yet taken by accept(): in their handshake or queued. New
  /// ones are REJECTED while this is at timers.accept_queue.
  [[nodiscard]] std::size_t incoming_pending() const noexcept { return handshaking_ + queued_; }

  /// The delay before a reconnect: `base` varied by ± reconnect_jitter_percent.
  [[nodiscard]] std::chrono::milliseconds jittered(std::chrono::milliseconds base);

 private:
  void connect_now(std::size_t i, base::Now now);
  void go_down(std::size_t i, std::string reason, base::Now now);
  void register_on(std::size_t i, base::Now now);
  void log_registration(std::size_t i, std::optional<wire::ResponseCode> code,
                        const std::string& error, bool changed);

  Config c_;
  std::vector<RelayState> relays_;
  std::vector<Action> actions_;
  std::optional<LeaseSpec> listening_;
  base::Clock::SteadyTime next_renew_{};
  std::size_t handshaking_ = 0;
  std::size_t queued_ = 0;
};

/// One dial candidate, or why it was passed over.
struct DialCandidate {
  /// The lease and the relay that lists it.
  Found found;
  std::string skipped;  ///< empty: try it; otherwise why not (for the error detail)
  /// Why it was passed over, as an error (handshake::Errc::NoCommonAlpn, Errc::NoRelay); empty when
  /// `skipped` is.
  base::ErrorCode error;
};

/// The order in which to try the leases a target resolved to: each in relay order, those whose
/// lease does not offer `alpn` or whose relay is not up (`up(relay)`) passed over with a reason.
[[nodiscard]] PORTAL_API std::vector<DialCandidate> plan_dial(
    const std::vector<Found>& found, std::string_view alpn,
    const std::function<bool(const std::string& relay)>& up);

}  // namespace portal::client
