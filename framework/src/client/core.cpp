// SPDX-License-Identifier: Apache-2.0
#include "portal/client/core.hpp"

#include <algorithm>

#include "portal/base/bytes.hpp"
#include "portal/base/log.hpp"
#include "portal/client/errors.hpp"
#include "portal/handshake/handshake.hpp"

namespace portal::client {
namespace {

using std::chrono::milliseconds;
using Phase = RelayState::Phase;

void clog(base::LogLevel level, const std::string& message) { base::log(level, "client", message); }

}  // namespace

ClientCore::ClientCore(Config config) : c_(std::move(config)), relays_(c_.relays.size()) {
  for (auto& r : relays_) r.backoff = milliseconds(c_.timers.reconnect_initial_ms);
}

milliseconds ClientCore::jittered(milliseconds base) {
  base::Byte b[4]{};
  std::uint32_t r = 0;
  if (c_.random != nullptr && c_.random->fill(b)) r = base::load_be32(b);
  const double u = static_cast<double>(r) / 4294967295.0;  // [0, 1]
  const double j = c_.timers.reconnect_jitter_percent / 100.0;
  return milliseconds(
      static_cast<std::int64_t>(static_cast<double>(base.count()) * (1.0 + j * (2 * u - 1))));
}

void ClientCore::start(base::Now now) {
  for (std::size_t i = 0; i < relays_.size(); ++i) connect_now(i, now);
}

void ClientCore::connect_now(std::size_t i, base::Now) {
  auto& r = relays_[i];
  r.phase = Phase::Connecting;
  ++r.session;
  actions_.push_back(Action{Action::Kind::Connect, i, r.session, {}, {}});
}

void ClientCore::connected(std::size_t i, std::uint64_t session, std::string relay_id,
                           base::Now now) {
  auto& r = relays_.at(i);
  if (r.session != session || r.phase != Phase::Connecting) return;
  r.phase = Phase::Up;
  r.attempted = true;
  r.relay_id = std::move(relay_id);
  r.last_error.clear();
  r.backoff = milliseconds(c_.timers.reconnect_initial_ms);
  r.lease_accepted = false;
  r.registering = r.deleting = r.pinging = false;
  r.next_ping = now.steady + milliseconds(c_.timers.health_interval_ms);
  actions_.push_back(Action{Action::Kind::Up, i, session, r.relay_id, {}});
  if (listening_) register_on(i, now);
}

void ClientCore::connect_failed(std::size_t i, std::uint64_t session, std::string error,
                                base::Now now) {
  auto& r = relays_.at(i);
  if (r.session != session || r.phase != Phase::Connecting) return;
  r.attempted = true;
  r.last_error = std::move(error);
  clog(base::LogLevel::Debug, "relay " + c_.relays[i] + ": " + r.last_error);
  r.phase = Phase::Waiting;
  r.retry_at = now.steady + jittered(r.backoff);
  r.backoff = std::min(r.backoff * 2, milliseconds(c_.timers.reconnect_max_ms));
}

// An up relay goes down: the application hears it, and a reconnect waits for the first delay.
void ClientCore::go_down(std::size_t i, std::string reason, base::Now now) {
  auto& r = relays_[i];
  r.phase = Phase::Waiting;
  r.last_error = std::move(reason);
  r.lease_accepted = false;
  r.registering = r.deleting = r.pinging = false;
  actions_.push_back(Action{Action::Kind::Down, i, r.session, r.last_error, {}});
  ++r.session;  // whatever the old session still reports is stale
  r.backoff = milliseconds(c_.timers.reconnect_initial_ms);
  r.retry_at = now.steady + jittered(r.backoff);
  r.backoff = std::min(r.backoff * 2, milliseconds(c_.timers.reconnect_max_ms));
}

void ClientCore::session_closed(std::size_t i, std::uint64_t session, std::string reason,
                                base::Now now) {
  auto& r = relays_.at(i);
  if (r.session != session || r.phase != Phase::Up) return;
  go_down(i, reason.empty() ? std::string("session closed") : std::move(reason), now);
}

void ClientCore::ping_answered(std::size_t i, std::uint64_t session, base::Now now) {
  auto& r = relays_.at(i);
  if (r.session != session || r.phase != Phase::Up || !r.pinging) return;
  r.pinging = false;
  r.next_ping = now.steady + milliseconds(c_.timers.health_interval_ms);
}

void ClientCore::ping_failed(std::size_t i, std::uint64_t session, std::string error,
                             base::Now now) {
  auto& r = relays_.at(i);
  if (r.session != session || r.phase != Phase::Up) return;
  clog(base::LogLevel::Warn, "relay " + c_.relays[i] + ": health ping failed: " + error);
  actions_.push_back(Action{Action::Kind::Close, i, session, {}, {}});
  go_down(i, "health ping failed: " + error, now);
}

// ---- the lease --------------------------------------------------------------------------------

base::Result<void> ClientCore::listen(LeaseSpec spec, base::Now now) {
  if (listening_) return make_error_code(Errc::AlreadyListening);
  listening_ = std::move(spec);
  next_renew_ = now.steady + milliseconds(c_.timers.renew_interval_ms);
  for (std::size_t i = 0; i < relays_.size(); ++i) {
    if (relays_[i].phase == Phase::Up) register_on(i, now);
  }
  return {};
}

void ClientCore::register_on(std::size_t i, base::Now now) {
  auto& r = relays_[i];
  if (r.registering) return;  // the answer in flight is as fresh
  r.registering = true;
  Action a{Action::Kind::Register, i, r.session, {}, {}};
  a.lease.name = listening_->name;
  a.lease.alpn = listening_->alpns;
  a.lease.metadata = listening_->metadata;
  a.lease.expires = base::unix_seconds(now.system) + c_.timers.lease_ttl_s;
  actions_.push_back(std::move(a));
}

void ClientCore::log_registration(std::size_t i, std::optional<wire::ResponseCode> code,
                                  const std::string& error, bool changed) {
  if (!changed) return;
  const auto& name = listening_->name;
  if (code == wire::ResponseCode::Accepted) {
    clog(base::LogLevel::Info, "lease '" + name + "' registered on " + c_.relays[i]);
  } else {
    clog(base::LogLevel::Warn, "lease '" + name + "' not registered on " + c_.relays[i] + ": " +
                                   (code ? std::string(wire::to_string(*code)) : error));
  }
}

void ClientCore::registered(std::size_t i, std::uint64_t session,
                            std::optional<wire::ResponseCode> code, const std::string& error,
                            base::Now) {
  auto& r = relays_.at(i);
  if (r.session != session || r.phase != Phase::Up || !r.registering) return;
  r.registering = false;
  // The listener closed meanwhile: its delete must not be undone by this answer.
  if (!listening_) return;
  const auto got = code.value_or(wire::ResponseCode::Unknown);
  const bool accepted = got == wire::ResponseCode::Accepted;
  log_registration(i, code, error, accepted != r.lease_accepted || got != r.last_code);
  r.lease_accepted = accepted;
  r.last_code = got;
}

void ClientCore::stop_listening(base::Now) {
  if (!listening_) return;
  listening_.reset();
  for (std::size_t i = 0; i < relays_.size(); ++i) {
    auto& r = relays_[i];
    r.registering = false;
    // Every connected relay, also where a registration was still in flight (a relay that does
    // not hold the lease answers INVALID_IDENTITY).
    if (r.phase != Phase::Up) continue;
    r.deleting = true;
    actions_.push_back(Action{Action::Kind::Delete, i, r.session, {}, {}});
  }
  queued_ = 0;
}

void ClientCore::deleted(std::size_t i, std::uint64_t session, const std::string& error) {
  auto& r = relays_.at(i);
  if (r.session != session || !r.deleting) return;
  r.deleting = false;
  r.lease_accepted = false;
  if (!error.empty()) {
    clog(base::LogLevel::Warn, "lease delete on " + c_.relays[i] + " failed: " + error);
  }
}

// ---- incoming -----------------------------------------------------------------------------------

wire::ResponseCode ClientCore::incoming_request(std::string_view lease_id) {
  if (!listening_ || lease_id != c_.own_id) return wire::ResponseCode::Rejected;
  if (handshaking_ + queued_ >= c_.timers.accept_queue) {
    clog(base::LogLevel::Warn,
         "incoming connection refused: " + std::to_string(c_.timers.accept_queue) +
             " connections already wait for accept()");
    return wire::ResponseCode::Rejected;
  }
  ++handshaking_;
  return wire::ResponseCode::Accepted;
}

void ClientCore::incoming_ended(bool queued) {
  if (handshaking_ > 0) --handshaking_;
  if (queued && listening_) ++queued_;
}

void ClientCore::incoming_taken(std::size_t count) { queued_ -= std::min(count, queued_); }

// ---- time ---------------------------------------------------------------------------------------

std::optional<base::Clock::SteadyTime> ClientCore::next_deadline() const {
  std::optional<base::Clock::SteadyTime> out;
  const auto consider = [&out](base::Clock::SteadyTime t) {
    if (!out || t < *out) out = t;
  };
  bool any = false;
  for (const auto& r : relays_) {
    if (r.phase == Phase::Waiting && r.attempted) consider(r.retry_at);
    if (r.phase == Phase::Up) {
      consider(r.pinging ? r.ping_deadline : r.next_ping);
      any = true;
    }
  }
  if (listening_ && any) consider(next_renew_);
  return out;
}

void ClientCore::tick(base::Now now) {
  for (std::size_t i = 0; i < relays_.size(); ++i) {
    auto& r = relays_[i];
    if (r.phase == Phase::Waiting && r.attempted && now.steady >= r.retry_at) {
      connect_now(i, now);
    } else if (r.phase == Phase::Up && r.pinging && now.steady >= r.ping_deadline) {
      clog(base::LogLevel::Warn,
           "relay " + c_.relays[i] + ": health ping failed: no answer in time");
      actions_.push_back(Action{Action::Kind::Close, i, r.session, {}, {}});
      go_down(i, "health ping failed: no answer in time", now);
    } else if (r.phase == Phase::Up && !r.pinging && now.steady >= r.next_ping) {
      r.pinging = true;
      r.ping_deadline = now.steady + milliseconds(c_.timers.health_timeout_ms);
      actions_.push_back(Action{Action::Kind::Ping, i, r.session, {}, {}});
    }
  }
  if (listening_ && now.steady >= next_renew_) {
    next_renew_ = now.steady + milliseconds(c_.timers.renew_interval_ms);
    for (std::size_t i = 0; i < relays_.size(); ++i) {
      if (relays_[i].phase == Phase::Up) register_on(i, now);
    }
  }
}

std::vector<Action> ClientCore::take_actions() {
  std::vector<Action> out;
  out.swap(actions_);
  return out;
}

bool ClientCore::any_up() const noexcept {
  return std::any_of(relays_.begin(), relays_.end(),
                     [](const RelayState& r) { return r.phase == Phase::Up; });
}

bool ClientCore::all_attempted() const noexcept {
  return std::all_of(relays_.begin(), relays_.end(),
                     [](const RelayState& r) { return r.attempted; });
}

// ---- dialing ------------------------------------------------------------------------------------

std::vector<DialCandidate> plan_dial(const std::vector<Found>& found, std::string_view alpn,
                                     const std::function<bool(const std::string&)>& up) {
  std::vector<DialCandidate> out;
  for (const auto& f : found) {
    DialCandidate c{f, {}, {}};
    if (auto ok = handshake::check_alpn(f.lease.alpn, alpn); !ok) {
      std::string offered;
      for (const auto& a : f.lease.alpn) offered += (offered.empty() ? "" : ",") + a;
      c.skipped = "the lease offers ALPN " + (offered.empty() ? std::string("(none)") : offered) +
                  ", not " + std::string(alpn);
      c.error = ok.error();
    } else if (up && !up(f.relay)) {
      c.skipped = "went down";
      c.error = make_error_code(Errc::NoRelay);
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace portal::client
