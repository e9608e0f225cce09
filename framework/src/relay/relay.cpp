// SPDX-License-Identifier: Apache-2.0
#include "portal/relay/relay.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <map>
#include <unordered_map>

#include "portal/base/log.hpp"
#include "portal/client/control.hpp"
#include "portal/control/relay_stream.hpp"
#include "portal/handshake/replay_cache.hpp"
#include "portal/lease/lease_table.hpp"
#include "portal/stream/deadline.hpp"
#include "portal/stream/logged.hpp"
#include "portal/stream/splice.hpp"
#include "portal/transport/tcp_acceptor.hpp"
#include "relay/http.hpp"

namespace portal::relay {

namespace asio = boost::asio;
using Steady = std::chrono::steady_clock;
using wire::PacketType;
using wire::ResponseCode;

namespace {

constexpr std::size_t kControlReadChunk = 8 * 1024;
/// A yamux frame header: fewer bytes than this within the first-frame timeout is no frame.
constexpr std::uint64_t kFirstFrameBytes = 12;

void rlog(base::LogLevel level, const std::string& message) { base::log(level, "relay", message); }

std::string describe(const base::ErrorCode& e) { return e ? e.message() : "end of stream"; }

// What a session's transport received, for the first-frame and idle timeouts.
struct Activity {
  std::uint64_t received = 0;
  Steady::time_point last{};
};

// The transport stream with its reads recorded. Any byte is part of a mux frame, so "no byte
// for T" is "no frame for T" (pings included).
class ActivityStream final : public stream::ByteStream {
 public:
  ActivityStream(std::unique_ptr<stream::ByteStream> inner, std::shared_ptr<Activity> activity)
      : inner_(std::move(inner)), activity_(std::move(activity)) {}

  asio::any_io_executor get_executor() override { return inner_->get_executor(); }
  asio::awaitable<base::Result<std::size_t>> async_read_some(base::MutableByteSpan b) override {
    auto n = co_await inner_->async_read_some(b);
    if (n && *n > 0) {
      activity_->received += *n;
      activity_->last = Steady::now();
    }
    co_return n;
  }
  asio::awaitable<base::Result<void>> async_write(base::ByteSpan d) override {
    co_return co_await inner_->async_write(d);
  }
  asio::awaitable<base::Result<void>> async_shutdown_write() override {
    co_return co_await inner_->async_shutdown_write();
  }
  stream::PeerInfo peer_info() const override { return inner_->peer_info(); }
  void close() noexcept override { inner_->close(); }

 private:
  std::unique_ptr<stream::ByteStream> inner_;
  std::shared_ptr<Activity> activity_;
};

}  // namespace

// One relay connection: a transport plus its mux session.
struct Connection {
  Connection(lease::ConnectionId i, asio::any_io_executor ex) : id(i), watchdog(std::move(ex)) {}
  lease::ConnectionId id;
  std::string address;
  std::string scheme;
  Steady::time_point connected_at;
  std::shared_ptr<mux::Session> session;
  std::shared_ptr<Activity> activity;
  asio::steady_timer watchdog;
  std::shared_ptr<void> ip_slot;    // for listeners that do not apply AcceptHooks
  std::size_t control_streams = 0;  // open and not spliced
  bool closed = false;
};

// Runs `f` when the scope ends, however it ends (an exception included).
template <class F>
struct ScopeExit {
  F f;
  ~ScopeExit() { f(); }
};
template <class F>
ScopeExit(F) -> ScopeExit<F>;

// One count in a table of counts, held from construction to destruction.
template <class Key>
class CountSlot {
 public:
  CountSlot(std::unordered_map<Key, std::size_t>& counts, Key key)
      : counts_(&counts), key_(std::move(key)) {
    ++(*counts_)[key_];
  }
  CountSlot(const CountSlot&) = delete;
  CountSlot& operator=(const CountSlot&) = delete;
  ~CountSlot() {
    if (auto it = counts_->find(key_); it != counts_->end() && --it->second == 0) {
      counts_->erase(it);
    }
  }

 private:
  std::unordered_map<Key, std::size_t>* counts_;
  Key key_;
};

// One open, not yet spliced stream, counted for its connection and its address until it ends or
// is spliced.
class ControlSlot {
 public:
  ControlSlot(std::shared_ptr<Connection> c, std::unordered_map<std::string, std::size_t>& per_ip)
      : c_(std::move(c)), ip_(std::make_unique<CountSlot<std::string>>(per_ip, c_->address)) {
    ++c_->control_streams;
  }
  ControlSlot(const ControlSlot&) = delete;
  ControlSlot& operator=(const ControlSlot&) = delete;
  ~ControlSlot() { release(); }
  void release() noexcept {
    if (c_) --c_->control_streams;
    c_.reset();
    ip_.reset();
  }

 private:
  std::shared_ptr<Connection> c_;
  std::unique_ptr<CountSlot<std::string>> ip_;
};

// One relayed stream, counted for its lease, its dialer session and its dialer's address from
// the moment a forward is decided until the splice ends, so that concurrent forwards cannot
// overshoot a cap.
struct LeaseSlot {
  LeaseSlot(std::unordered_map<std::string, std::size_t>& by_lease, std::string lease_id,
            std::unordered_map<lease::ConnectionId, std::size_t>& by_dialer,
            lease::ConnectionId dialer_id, std::unordered_map<std::string, std::size_t>& by_address,
            std::string address)
      : lease(by_lease, std::move(lease_id)),
        dialer(by_dialer, dialer_id),
        dialer_address(by_address, std::move(address)) {}
  CountSlot<std::string> lease;
  CountSlot<lease::ConnectionId> dialer;
  CountSlot<std::string> dialer_address;
};

// The count of `key` in `counts` (0 when absent).
template <class Key>
std::size_t count_of(const std::unordered_map<Key, std::size_t>& counts, const Key& key) {
  const auto it = counts.find(key);
  return it == counts.end() ? 0 : it->second;
}

// The outcome of forwarding a ConnectionRequest to the lease holder.
struct Forward {
  ResponseCode code = ResponseCode::Rejected;
  std::shared_ptr<stream::ByteStream> stream;
  base::Bytes leftover;
  std::unique_ptr<LeaseSlot> slot;  // held until the splice ends
};

// The response codes v1 defines; anything else a lease holder answers is one "other" series.
bool known_code(std::uint32_t c) { return c <= static_cast<std::uint32_t>(ResponseCode::Rejected); }
constexpr std::uint32_t kOtherCode = 0xffffffffu;

struct Relay::Impl : std::enable_shared_from_this<Relay::Impl> {
  Impl(asio::any_io_executor executor, identity::Credential id, Options options)
      : ex(std::move(executor)),
        identity(std::move(id)),
        o(std::move(options)),
        clock(o.clock != nullptr ? *o.clock : base::SystemClock::instance()),
        leases(lease::Limits{o.limits.max_leases_per_connection,
                             static_cast<std::int64_t>(o.limits.max_lease_ttl_ms / 1000),
                             o.limits.max_leases, o.limits.max_lease_bytes}),
        replay(o.replay_capacity, 30, o.replay_per_identity),
        ctx{leases,
            replay,
            identity,
            o.advertise,
            std::chrono::seconds{30},
            o.limits.max_control_packet,
            {}},
        sweep_timer(ex),
        started(Steady::now()) {
    ctx.on_answer = [this](PacketType request, ResponseCode code) {
      const auto c = static_cast<std::uint32_t>(code);
      ++answers[{static_cast<std::uint32_t>(request), known_code(c) ? c : kOtherCode}];
    };
    ctx.on_refused = [this](const char* reason, const std::string& detail) {
      refuse(reason, detail);
    };
  }

  asio::any_io_executor ex;
  identity::Credential identity;
  Options o;
  const base::Clock& clock;
  lease::LeaseTable leases;
  handshake::ReplayCache replay;
  control::RelayContext ctx;
  asio::steady_timer sweep_timer;
  Steady::time_point started;
  std::vector<std::unique_ptr<transport::Listener>> listeners;
  std::vector<transport::Uri> uris;
  std::map<lease::ConnectionId, std::shared_ptr<Connection>> conns;
  std::unordered_map<std::string, std::size_t> per_ip;
  std::unordered_map<std::string, std::size_t> streams_per_lease;
  std::unordered_map<std::string, std::size_t> control_per_ip;  // open, unspliced streams
  std::unordered_map<lease::ConnectionId, std::size_t> spliced_per_dialer;  // by session
  std::unordered_map<std::string, std::size_t> spliced_per_dialer_ip;
  lease::ConnectionId next_id = 1;
  bool stopping = false;
  bool sweeping = false;

  // Metrics.
  Stats counters;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t> answers;  // (type, code)
  std::map<std::string, std::uint64_t> refusals;                             // by limit
  std::map<std::string, std::uint64_t> control_errors;                       // by reason
  std::map<std::string, std::uint64_t> accept_errors;                        // by reason

  std::int64_t now_unix() const { return base::unix_seconds(clock.system_now()); }

  // Every refusal is counted; its log line is written at most once a second per limit (with
  // the number left out since), so a peer cannot buy log volume with refused requests.
  struct LogGate {
    Steady::time_point last{};
    std::uint64_t suppressed = 0;
    // Writes `line` unless a line went out less than a second ago (then counts it as left out).
    void warn(std::string line) {
      const auto now = Steady::now();
      if (last != Steady::time_point{} && now - last < std::chrono::seconds(1)) {
        ++suppressed;
        return;
      }
      if (suppressed > 0) {
        line += " [" + std::to_string(suppressed) + " more not logged in the last second]";
      }
      last = now;
      suppressed = 0;
      rlog(base::LogLevel::Warn, line);
    }
  };
  std::map<std::string, LogGate> refusal_log;  // by limit: a fixed label set
  LogGate accept_log;

  void refuse(const std::string& limit, const std::string& what) {
    ++refusals[limit];
    refusal_log[limit].warn(what + " (limit " + limit + ")");
  }

  void start_sweeper() {
    if (sweeping) return;
    sweeping = true;
    asio::co_spawn(ex, sweep_loop(shared_from_this()), stream::logged("relay", "lease sweep"));
  }

  static asio::awaitable<void> sweep_loop(std::shared_ptr<Impl> self) {
    while (!self->stopping) {
      self->sweep_timer.expires_after(self->o.sweep_interval);
      (void)co_await self->sweep_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (self->stopping) break;
      const auto now = self->now_unix();
      for (const auto& id : self->leases.sweep(now)) {
        rlog(base::LogLevel::Info, "lease " + id + " expired");
      }
    }
  }

  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self, transport::Listener* l,
                                           std::string scheme) {
    for (;;) {
      auto s = co_await l->async_accept();
      if (self->stopping) {
        if (s) (*s)->close();
        co_return;
      }
      if (!s) {
        if (s.error() == transport::Errc::Closed) co_return;
        // Transports built on accept_tcp() report and pause on their own errors; this is for
        // one that does not: a persistent error (no descriptors left) must not spin.
        self->accept_error(l->local_uri().to_string(), s.error());
        asio::steady_timer pause(self->ex, transport::kAcceptErrorPause);
        (void)co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      self->admit(std::move(*s), scheme, !l->applies_accept_hooks());
    }
  }

  // Counted, and logged at most once a second for the whole relay: a descriptor shortage fails
  // every accept on every listener for as long as it lasts.
  void accept_error(const std::string& where, const base::ErrorCode& e) {
    const bool descriptors = transport::is_descriptor_shortage(e);
    ++accept_errors[descriptors ? "descriptors" : "other"];
    accept_log.warn("accept on " + where + " failed: " + e.message() +
                    (descriptors ? " (out of file descriptors; pausing " +
                                       std::to_string(transport::kAcceptErrorPause.count()) +
                                       " ms between attempts)"
                                 : ""));
  }

  // The per-address slot of one accepted TCP connection, from accept (before any HTTP or
  // upgrade) until its stream is destroyed.
  struct IpSlot {
    IpSlot(std::weak_ptr<Impl> r, std::string a) : relay(std::move(r)), address(std::move(a)) {}
    IpSlot(const IpSlot&) = delete;
    IpSlot& operator=(const IpSlot&) = delete;
    std::weak_ptr<Impl> relay;
    std::string address;
    ~IpSlot() {
      if (auto r = relay.lock()) {
        if (auto it = r->per_ip.find(address); it != r->per_ip.end() && --it->second == 0) {
          r->per_ip.erase(it);
        }
      }
    }
  };

  std::shared_ptr<void> admit_address(const stream::PeerInfo& peer, const std::string& scheme) {
    if (stopping) return nullptr;
    auto& count = per_ip[peer.address];
    if (count >= o.limits.max_connections_per_ip) {
      refuse("connections_per_ip", "connection from " + peer.address + " via " + scheme +
                                       " refused: " + std::to_string(count) +
                                       " connections from that address");
      return nullptr;
    }
    ++count;
    return std::make_shared<IpSlot>(weak_from_this(), peer.address);
  }

  void admit(std::unique_ptr<stream::ByteStream> s, const std::string& scheme, bool count_here) {
    const auto peer = s->peer_info();
    std::shared_ptr<void> slot;
    if (count_here) {  // the listener did not count it at accept
      slot = admit_address(peer, scheme);
      if (!slot) {
        s->close();
        return;
      }
    }
    auto c = std::make_shared<Connection>(next_id++, ex);
    c->ip_slot = std::move(slot);
    c->address = peer.address;
    c->scheme = scheme;
    c->connected_at = peer.connected_at == Steady::time_point{} ? Steady::now() : peer.connected_at;
    c->activity = std::make_shared<Activity>();
    c->activity->last = c->connected_at;
    auto session = o.mux->create(std::make_unique<ActivityStream>(std::move(s), c->activity),
                                 mux::Role::Server, o.mux_settings);
    if (!session) {
      rlog(base::LogLevel::Error,
           "conn=" + std::to_string(c->id) + ": mux session failed: " + session.error().message());
      return;
    }
    c->session = std::move(*session);
    conns.emplace(c->id, c);
    ++counters.connections_total;
    rlog(base::LogLevel::Info, "conn=" + std::to_string(c->id) + " opened from " +
                                   (c->address.empty() ? "(local)" : c->address) + " via " +
                                   scheme);
    auto self = shared_from_this();
    const std::string tag = "conn=" + std::to_string(c->id);
    asio::co_spawn(ex, serve_connection(self, c), stream::logged("relay", tag));
    asio::co_spawn(ex, watch(self, c), stream::logged("relay", tag + " watchdog"));
  }

  static asio::awaitable<void> serve_connection(std::shared_ptr<Impl> self,
                                                std::shared_ptr<Connection> c) {
    // However this ends, the connection is dropped (its leases and its table entry go).
    base::ErrorCode reason;
    try {
      for (;;) {
        auto st = co_await c->session->async_accept();
        if (!st) break;
        if (c->control_streams >= self->o.limits.max_control_streams_per_session) {
          self->refuse("control_streams_per_session",
                       "conn=" + std::to_string(c->id) + ": stream reset: " +
                           std::to_string(c->control_streams) + " streams open and not spliced");
          (*st)->close();
          continue;
        }
        if (const auto n = count_of(self->control_per_ip, c->address);
            n >= self->o.limits.max_control_streams_per_ip) {
          self->refuse("control_streams_per_ip",
                       "conn=" + std::to_string(c->id) + ": stream reset: " + std::to_string(n) +
                           " streams of " + c->address + " open and not spliced");
          (*st)->close();
          continue;
        }
        // Counted before the stream's task starts, so the next accept sees it.
        auto slot = std::make_unique<ControlSlot>(c, self->control_per_ip);
        asio::co_spawn(self->ex, control_stream(self, c, std::move(*st), std::move(slot)),
                       stream::logged("relay", "conn=" + std::to_string(c->id) + " stream"));
      }
      reason = co_await c->session->async_wait_closed();
    } catch (...) {
      self->drop(*c, asio::error::operation_aborted);
      throw;
    }
    self->drop(*c, reason);
  }

  void drop(Connection& c, const base::ErrorCode& reason) {
    if (c.closed) return;
    c.closed = true;
    c.ip_slot.reset();
    c.watchdog.cancel();
    c.session->close();
    const auto dropped = leases.drop_connection(c.id);
    for (const auto& id : dropped) {
      rlog(base::LogLevel::Info,
           "lease " + id + " dropped: conn=" + std::to_string(c.id) + " closed");
    }
    if (reason == mux::Errc::PeerNotReading) {
      refuse("peer_not_reading", "conn=" + std::to_string(c.id) + " from " + c.address +
                                     " closed: it sends without reading what it is owed");
    }
    rlog(base::LogLevel::Info, "conn=" + std::to_string(c.id) + " closed: " + describe(reason));
    conns.erase(c.id);
  }

  // First-frame and session idle timeouts: one timer per connection, at the nearer deadline.
  static asio::awaitable<void> watch(std::shared_ptr<Impl> self, std::shared_ptr<Connection> c) {
    const auto& l = self->o.limits;
    const auto first_deadline =
        c->connected_at + std::chrono::milliseconds(l.first_frame_timeout_ms);
    const auto idle = std::chrono::milliseconds(l.session_idle_timeout_ms);
    for (;;) {
      const bool framed = c->activity->received >= kFirstFrameBytes;
      auto deadline = c->activity->last + idle;
      if (!framed) deadline = std::min(deadline, first_deadline);
      c->watchdog.expires_at(deadline);
      (void)co_await c->watchdog.async_wait(asio::as_tuple(asio::use_awaitable));
      if (c->closed) co_return;
      const auto now = Steady::now();
      if (c->activity->received < kFirstFrameBytes && now >= first_deadline) {
        self->refuse("first_frame_timeout", "conn=" + std::to_string(c->id) +
                                                " closed: no mux frame within " +
                                                std::to_string(l.first_frame_timeout_ms) + " ms");
        c->session->close();
        co_return;
      }
      if (now >= c->activity->last + idle) {
        self->refuse("session_idle_timeout", "conn=" + std::to_string(c->id) +
                                                 " closed: no frame for " +
                                                 std::to_string(l.session_idle_timeout_ms) + " ms");
        c->session->close();
        co_return;
      }
    }
  }

  static asio::awaitable<bool> flush(stream::ByteStream& s, control::RelayControlStream& core) {
    const auto out = core.pending_output();
    if (out.empty()) co_return true;
    const std::size_t n = out.size();
    auto w = co_await s.async_write(out);
    if (!w) co_return false;
    core.consume_output(n);
    co_return true;
  }

  void control_error(lease::ConnectionId id, const base::ErrorCode& e) {
    std::string reason = "malformed";
    if (e == control::Errc::ResponseTooLarge) {
      reason = "too_large";
      ++refusals["control_packet_size"];
    } else if (e == control::Errc::UnexpectedPacket) {
      reason = "unexpected_packet";
    }
    ++control_errors[reason];
    rlog(base::LogLevel::Warn,
         "conn=" + std::to_string(id) + ": control stream closed: " + e.message());
  }

  static asio::awaitable<void> control_stream(std::shared_ptr<Impl> self,
                                              std::shared_ptr<Connection> c,
                                              std::unique_ptr<stream::ByteStream> st,
                                              std::unique_ptr<ControlSlot> slot) {
    std::shared_ptr<stream::ByteStream> s1(std::move(st));
    control::RelayControlStream core(self->ctx, c->id);
    // The first complete packet must arrive in time: an open stream is not a place to park.
    auto first_packet = std::make_unique<stream::Deadline>(
        self->ex, std::chrono::milliseconds(self->o.limits.first_packet_timeout_ms),
        [s1] { s1->close(); });
    base::Bytes pending;
    std::vector<base::Byte> buffer(kControlReadChunk);
    bool graceful = true;
    for (;;) {
      if (pending.empty()) {
        auto n = co_await s1->async_read_some(buffer);
        if (!n || *n == 0) {
          graceful = n.has_value();
          break;
        }
        pending.assign(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
      }
      auto used = core.handle_input(pending, self->clock.system_now());
      base::erase_front(pending, used ? *used : pending.size());
      if (first_packet &&
          (!core.pending_output().empty() || core.state() != control::RelayStreamState::Open)) {
        first_packet.reset();  // a packet was read (answered, forwarded, or refused)
      }
      if (!co_await flush(*s1, core)) {
        graceful = false;
        break;
      }
      if (core.state() == control::RelayStreamState::Closed) {
        self->control_error(c->id, core.error());
        graceful = false;
        break;
      }
      if (core.state() != control::RelayStreamState::AwaitingForward) continue;
      auto request = core.take_forward();
      auto fwd = co_await self->forward(*c, *request);
      (void)core.answer_forward(fwd.code);
      if (!co_await flush(*s1, core)) {
        if (fwd.stream) fwd.stream->close();
        graceful = false;
        break;
      }
      if (fwd.code == ResponseCode::Accepted) {
        slot->release();  // spliced streams are limited per lease and dialer instead
        co_await self->splice(c->id, request->lease_id, s1, std::move(pending), fwd.stream,
                              std::move(fwd.leftover), std::move(fwd.slot));
        co_return;
      }
    }
    if (first_packet && first_packet->expired()) {
      self->refuse("first_packet_timeout",
                   "conn=" + std::to_string(c->id) + ": stream reset: no complete packet within " +
                       std::to_string(self->o.limits.first_packet_timeout_ms) + " ms");
    }
    // A graceful end is a half-close (the answers already written stay readable); an error
    // aborts the stream.
    if (!graceful || self->stopping || !co_await s1->async_shutdown_write()) s1->close();
  }

  asio::awaitable<Forward> forward(const Connection& dialer, const wire::ConnectionRequest& req) {
    auto self = shared_from_this();
    const std::string& lease_id = req.lease_id;
    const auto* entry = leases.find(lease_id, now_unix());
    if (entry == nullptr) co_return Forward{ResponseCode::InvalidIdentity, nullptr, {}, {}};
    auto it = conns.find(entry->connection);
    if (it == conns.end() || it->second->closed) {
      co_return Forward{ResponseCode::InvalidIdentity, nullptr, {}, {}};
    }
    auto holder = it->second;
    const std::string tag = "conn=" + std::to_string(dialer.id) + " → lease " + lease_id;
    // Checked and counted in one step, before any await: a slot is held from here on.
    const std::size_t current = count_of(streams_per_lease, lease_id);
    if (current >= o.limits.max_streams_per_lease) {
      refuse("streams_per_lease",
             tag + " refused: " + std::to_string(current) + " relayed streams");
      co_return Forward{ResponseCode::Rejected, nullptr, {}, {}};
    }
    // No one dialer takes all of a lease's slots (client_identity is not authenticated: the
    // dialer's session and address are the keys).
    const std::size_t by_session = count_of(spliced_per_dialer, dialer.id);
    if (by_session >= o.limits.max_spliced_per_dialer_session) {
      refuse("spliced_per_dialer_session", tag + " refused: the dialer's session holds " +
                                               std::to_string(by_session) + " relayed streams");
      co_return Forward{ResponseCode::Rejected, nullptr, {}, {}};
    }
    const std::size_t by_address = count_of(spliced_per_dialer_ip, dialer.address);
    if (by_address >= o.limits.max_spliced_per_dialer_ip) {
      refuse("spliced_per_dialer_ip", tag + " refused: " + dialer.address + " holds " +
                                          std::to_string(by_address) + " relayed streams");
      co_return Forward{ResponseCode::Rejected, nullptr, {}, {}};
    }
    auto slot = std::make_unique<LeaseSlot>(streams_per_lease, lease_id, spliced_per_dialer,
                                            dialer.id, spliced_per_dialer_ip, dialer.address);
    auto opened = co_await holder->session->async_open();
    if (!opened) {
      rlog(base::LogLevel::Info,
           tag + ": cannot open a stream to the holder: " + opened.error().message());
      co_return Forward{ResponseCode::Rejected, nullptr, {}, {}};
    }
    std::shared_ptr<stream::ByteStream> s2(std::move(*opened));
    auto request = control::ClientRequest::connection(lease_id, req.client_identity);
    request.set_max_response(o.limits.max_control_packet);
    // The holder must answer in time; the deadline closes the stream otherwise.
    Forward out;
    base::Result<void> r;
    bool timed_out = false;
    {
      stream::Deadline deadline(ex, std::chrono::milliseconds(o.limits.forward_timeout_ms),
                                [s2] { s2->close(); });
      r = co_await client::run_request(*s2, request, &out.leftover);
      timed_out = deadline.expired();
    }
    if (!r) {
      rlog(base::LogLevel::Info,
           tag + ": holder gave no answer: " +
               (timed_out ? "timed out after " + std::to_string(o.limits.forward_timeout_ms) + " ms"
                          : r.error().message()));
      s2->close();
      co_return Forward{ResponseCode::Rejected, nullptr, {}, {}};
    }
    out.code = request.code();
    if (out.code != ResponseCode::Accepted) {
      s2->close();
      co_return Forward{out.code, nullptr, {}, {}};
    }
    if (holder->closed) {
      s2->close();
      co_return Forward{ResponseCode::Rejected, nullptr, {}, {}};
    }
    out.stream = std::move(s2);
    out.slot = std::move(slot);
    co_return out;
  }

  static asio::awaitable<void> splice_idle(std::shared_ptr<Impl> self,
                                           std::shared_ptr<asio::steady_timer> timer,
                                           std::shared_ptr<stream::ByteStream> a,
                                           std::shared_ptr<stream::ByteStream> b,
                                           std::shared_ptr<Steady::time_point> last) {
    const auto idle = std::chrono::milliseconds(self->o.limits.spliced_idle_timeout_ms);
    for (;;) {
      timer->expires_at(*last + idle);
      auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      if (Steady::now() >= *last + idle) {
        self->refuse("spliced_idle_timeout", "relayed stream closed: idle");
        a->close();
        b->close();
        co_return;
      }
    }
  }

  asio::awaitable<void> splice(lease::ConnectionId dialer, std::string lease_id,
                               std::shared_ptr<stream::ByteStream> s1, base::Bytes p1,
                               std::shared_ptr<stream::ByteStream> s2, base::Bytes p2,
                               std::unique_ptr<LeaseSlot> slot) {
    auto self = shared_from_this();
    ++counters.relayed_streams;
    ++counters.relayed_streams_total;
    // Released however the splice ends, with the lease's stream slot.
    ScopeExit counted{[self, held = std::move(slot)] { --self->counters.relayed_streams; }};
    rlog(base::LogLevel::Debug, "conn=" + std::to_string(dialer) + " spliced to lease " + lease_id);
    auto last = std::make_shared<Steady::time_point>(Steady::now());
    std::shared_ptr<asio::steady_timer> idle;
    if (o.limits.spliced_idle_timeout_ms > 0) {
      idle = std::make_shared<asio::steady_timer>(ex);
      asio::co_spawn(ex, splice_idle(self, idle, s1, s2, last),
                     stream::logged("relay", "spliced idle timer"));
    }
    // Each direction half-closes its destination at EOF (§7: the other direction goes on) and
    // aborts both streams on an error; after two clean half-closes the streams are finished and
    // are released without a reset (a reset would discard data the peer has not read yet).
    stream::SpliceOptions so;
    so.chunk = o.splice_chunk;
    so.a_prefix = std::move(p1);
    so.b_prefix = std::move(p2);
    so.on_moved = [self, last](bool to_holder, std::size_t n) {
      (to_holder ? self->counters.bytes_to_holder : self->counters.bytes_to_dialer) += n;
      *last = Steady::now();
    };
    ScopeExit stop_idle{[idle] {
      if (idle) idle->cancel();
    }};
    (void)co_await stream::splice(s1, s2, std::move(so));
  }

  // No new connections, no more sweeps.
  void stop_accepting() {
    stopping = true;
    sweep_timer.cancel();
    for (auto& l : listeners) l->close();
  }

  void close_all() {
    stop_accepting();
    // Copy: drop() erases from the map.
    std::vector<std::shared_ptr<Connection>> all;
    for (auto& [id, c] : conns) all.push_back(c);
    for (auto& c : all) {
      c->watchdog.cancel();
      c->session->close();
    }
  }

  HttpView view() const;
};

namespace {

// A named coroutine with its arguments by value: nothing in its frame refers to the caller's.
asio::awaitable<void> drain_session(std::shared_ptr<mux::Session> s, std::chrono::milliseconds d) {
  (void)co_await s->async_drain(d);
}

}  // namespace

Relay::Relay(asio::any_io_executor executor, identity::Credential identity, Options options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(identity), std::move(options))) {}

Relay::~Relay() { impl_->close_all(); }

const std::string& Relay::id() const noexcept { return impl_->identity.id(); }

transport::Uri Relay::serve(std::unique_ptr<transport::Listener> listener) {
  auto* l = listener.get();
  const auto uri = l->local_uri();
  std::weak_ptr<Impl> weak = impl_;
  // The HTTP surface, where the transport speaks HTTP (ws://); plain TCP refuses routes.
  auto route = [weak](auto render) {
    return [weak, render](const transport::HttpRequest& req) -> transport::HttpResponse {
      auto self = weak.lock();
      if (!self) return transport::HttpResponse{503, "text/plain; charset=utf-8", "stopping\n", {}};
      return render(self->view(), req);
    };
  };
  (void)l->add_http_route("/healthz", route(&http_healthz));
  (void)l->add_http_route("/metrics", route(&http_metrics));
  (void)l->add_http_route("/api/leases", route(&http_api_leases));
  (void)l->add_http_route("/api/relay", route(&http_api_relay));
  (void)l->add_http_route("/", route(&http_index));
  // Every accepted TCP connection counts against its address from accept on (plain HTTP and
  // WebSocket upgrades included), and accept errors are counted and paused on.
  const std::string scheme = uri.scheme;
  transport::AcceptHooks hooks;
  hooks.admit = [weak, scheme](const stream::PeerInfo& peer) -> std::shared_ptr<void> {
    auto self = weak.lock();
    return self ? self->admit_address(peer, scheme) : nullptr;
  };
  hooks.on_accept_error = [weak, where = uri.to_string()](const base::ErrorCode& e) {
    if (auto self = weak.lock()) self->accept_error(where, e);
  };
  l->set_accept_hooks(std::move(hooks));
  impl_->uris.push_back(uri);
  impl_->listeners.push_back(std::move(listener));
  impl_->start_sweeper();
  asio::co_spawn(impl_->ex, Impl::accept_loop(impl_, l, uri.scheme),
                 stream::logged("relay", "accept loop of " + uri.to_string()));
  return uri;
}

asio::awaitable<void> Relay::shutdown(std::chrono::milliseconds drain) {
  auto self = impl_;
  if (self->stopping) co_return;
  self->stop_accepting();
  rlog(base::LogLevel::Info, "shutting down: draining " + std::to_string(self->conns.size()) +
                                 " connections for up to " + std::to_string(drain.count()) + " ms");
  for (auto& [id, c] : self->conns) {
    asio::co_spawn(self->ex, drain_session(c->session, drain),
                   stream::logged("relay", "drain of conn=" + std::to_string(id)));
  }
  asio::steady_timer tick(self->ex);
  const auto deadline = Steady::now() + drain + std::chrono::milliseconds(500);
  while (!self->conns.empty() && Steady::now() < deadline) {
    tick.expires_after(std::chrono::milliseconds(20));
    (void)co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  self->close_all();
  // Let the connection coroutines see their sessions end.
  const auto last = Steady::now() + std::chrono::milliseconds(500);
  while (!self->conns.empty() && Steady::now() < last) {
    tick.expires_after(std::chrono::milliseconds(10));
    (void)co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  rlog(base::LogLevel::Info, "stopped");
}

Stats Relay::stats() const {
  Stats s = impl_->counters;
  s.leases = impl_->leases.size();
  s.connections = impl_->conns.size();
  return s;
}

HttpView Relay::Impl::view() const {
  HttpView v;
  v.relay_id = identity.id();
  v.advertise = o.advertise;
  for (const auto& u : uris) v.listeners.push_back(u.to_string());
  v.now = now_unix();
  v.uptime_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(Steady::now() - started).count();
  for (const auto* e : leases.list(v.now)) {
    HttpView::LeaseRow row;
    row.id = e->lease.identity ? e->lease.identity->id : std::string();
    row.name = e->lease.name;
    row.alpn = e->lease.alpn;
    row.expires = e->lease.expires;
    row.last_seen = e->last_seen;
    row.metadata = e->lease.metadata;
    if (auto it = streams_per_lease.find(row.id); it != streams_per_lease.end()) {
      row.relayed_streams = it->second;
    }
    v.leases.push_back(std::move(row));
  }
  v.stats = counters;
  v.stats.leases = leases.size();
  v.stats.connections = conns.size();
  v.answers = answers;
  v.refusals = refusals;
  v.control_errors = control_errors;
  v.accept_errors = accept_errors;
  v.plugins = o.plugins;
  return v;
}

std::string Relay::metrics_text() const {
  return http_metrics(impl_->view(), transport::HttpRequest{}).body;
}
std::string Relay::leases_json() const {
  return http_api_leases(impl_->view(), transport::HttpRequest{}).body;
}
std::string Relay::relay_json() const {
  return http_api_relay(impl_->view(), transport::HttpRequest{}).body;
}
std::string Relay::lease_page() const {
  return http_index(impl_->view(), transport::HttpRequest{"GET", "/", {}}).body;
}

}  // namespace portal::relay
