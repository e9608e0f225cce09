// SPDX-License-Identifier: Apache-2.0
// The relay's Asio driver: it accepts, moves bytes between streams and the sans-IO relay core
// (portal/relay/core.hpp), applies the core's actions and wakes it at its deadlines. Every
// decision (limits, timers, forwarding, accounting) is the core's.
#include "portal/relay/relay.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <atomic>
#include <map>
#include <unordered_map>

#include "portal/base/address_set.hpp"
#include "portal/base/log.hpp"
#include "portal/base/log_gate.hpp"
#include "portal/stream/deadline.hpp"
#include "portal/stream/drive.hpp"
#include "portal/stream/logged.hpp"
#include "portal/stream/prefixed_stream.hpp"
#include "portal/stream/splice.hpp"
#include "portal/transport/forwarded.hpp"
#include "portal/transport/tcp_acceptor.hpp"
#include "relay/admin.hpp"
#include "relay/browser.hpp"
#include "relay/http.hpp"
#include "relay/peer.hpp"
#include "relay/rate_pace.hpp"
#include "relay/threads.hpp"

namespace portal::relay {

namespace asio = boost::asio;
using Steady = std::chrono::steady_clock;

namespace {

constexpr std::size_t kControlReadChunk = 8 * 1024;

void rlog(base::LogLevel level, const std::string& message) { base::log(level, "relay", message); }

// Runs `f` when the scope ends, however it ends (an exception included).
template <class F>
struct ScopeExit {
  F f;
  ~ScopeExit() { f(); }
};
template <class F>
ScopeExit(F) -> ScopeExit<F>;

// The peer's own address, for logs and the admin API, where the per-IP limits count something
// else (an IPv6 peer: its network); empty otherwise (IPv4, IPv4-mapped, Unix sockets).
std::string own_address(const std::string& peer, const std::string& counted) {
  std::uint8_t bytes[16];
  bool v4 = false;
  if (peer == counted || !base::address_bytes(peer, bytes, v4) || v4) return {};
  return peer;
}

}  // namespace

// One relay connection as the driver holds it: the mux session and its address slot. The session
// lives on `ex` (its transport's executor): on the relay's own executor (`local`), or on one of
// its worker loops, where every call on it is run (ADR 0013).
struct Connection {
  explicit Connection(ConnectionId i) : id(i) {}
  ConnectionId id;
  boost::asio::any_io_executor ex;
  bool local = true;
  std::shared_ptr<mux::Session> session;
  std::shared_ptr<void> ip_slot;  // for listeners that do not apply AcceptHooks
  bool closed = false;
};

struct Relay::Impl : std::enable_shared_from_this<Relay::Impl> {
  Impl(asio::any_io_executor executor, identity::Credential id, Options options)
      : ex(std::move(executor)),
        identity(std::move(id)),
        o(std::move(options)),
        clock(o.clock != nullptr ? *o.clock : base::SystemClock::instance()),
        core(identity, core_options(o), now()),
        timer(ex),
        started(Steady::now()) {
    loops.push_back(ex);
    if (o.threads > 1) {
      workers = std::make_shared<detail::Workers>(o.threads - 1);
      for (const auto& e : workers->executors()) loops.push_back(e);
    }
    loop_load.assign(loops.size(), 0);
    rates = o.rates;
    apply_rates();
    allow_stamp = o.allowed_file.empty() ? ops::FileStamp{} : ops::stamp_of(o.allowed_file);
    if (core.peering()) {
      peer_crypto.identity = &identity;
      peer_crypto.cipher = o.peer_cipher;
      peer_crypto.timeout = std::chrono::milliseconds(
          std::max<std::uint32_t>(o.limits.first_frame_timeout_ms, o.limits.forward_timeout_ms));
      // Peer handshakes run where their connection lives: one replay cache per loop.
      for (std::size_t i = 0; i < loops.size(); ++i) {
        peer_replay.push_back(std::make_unique<handshake::ReplayCache>(4096, 30, 64));
      }
    }
    if (!o.portal_url.empty()) {
      browser = std::make_shared<const BrowserSite>(
          BrowserOptions{o.portal_url, o.app_hosts, o.frontend_dir, o.advertise, o.reserved_names},
          [](const std::string& line) { rlog(base::LogLevel::Info, line); });
    }
  }

  static CoreOptions core_options(const Options& o) {
    CoreOptions c;
    c.limits = o.limits;
    c.advertise = o.advertise;
    c.sweep_interval = o.sweep_interval;
    c.reserved_names = o.reserved_names;
    c.fleet = fleet_of(o);
    c.access = o.access;
    c.allowed_ids = o.allowed_ids;
    c.allowed_ids.insert(o.allowed_file_ids.begin(), o.allowed_file_ids.end());
    c.bans = o.bans;
    return c;
  }

  // The core's fleet options: a directory only with a client to carry its requests.
  static FleetOptions fleet_of(const Options& o) {
    FleetOptions f = o.fleet;
    f.directory = o.directory != nullptr;
    return f;
  }

  asio::any_io_executor ex;
  identity::Credential identity;
  Options o;
  const base::Clock& clock;
  Core core;
  asio::steady_timer timer;
  std::optional<Steady::time_point> armed;  // what `timer` waits for
  Steady::time_point started;
  std::shared_ptr<const BrowserSite> browser;  // the browser path's routes (app hosts)
  std::vector<std::unique_ptr<transport::Listener>> listeners;
  std::vector<transport::Uri> uris;
  std::map<ConnectionId, std::shared_ptr<Connection>> conns;
  std::unordered_map<StreamId, std::shared_ptr<stream::ByteStream>> streams;
  bool stopping = false;
  // Bandwidth (ADR 0017 §4): set when the relay closes; read by waiting copy loops (any thread).
  std::shared_ptr<std::atomic<bool>> rate_stop = std::make_shared<std::atomic<bool>>(false);
  bool closing = false;
  bool timing = false;
  // The event loops that serve connections (ADR 0013): loops[0] is `ex`, the others are the
  // workers' (none with threads = 1). loop_load counts the accepted sockets on each.
  std::shared_ptr<detail::Workers> workers;
  // Splice coroutines running (on this executor's side): shutdown() waits for them, so that no
  // copy loop on a worker is left waiting for this executor after it stops.
  std::size_t live_splices = 0;
  std::vector<asio::any_io_executor> loops;
  std::vector<std::size_t> loop_load;
  std::size_t next_loop = 0;  // where the search for the least loaded worker starts
  // Fleet peering (core.peering()): the handshake's identity and cipher, and a replay cache for
  // peer handshakes per loop (each used only there).
  detail::PeerCrypto peer_crypto;
  std::vector<std::unique_ptr<handshake::ReplayCache>> peer_replay;
  // The operator surface (ADR 0017): failed admin authentications (counted, logged at most once
  // a second), the allow file's last stamp (a change re-reads it), the rates set through the
  // admin API (persisted in the bans file).
  std::uint64_t admin_auth_failures = 0;
  base::LogGate admin_auth_log;
  ops::FileStamp allow_stamp;
  std::map<std::string, std::uint64_t> rates;

  // Re-reads the allow file (when `if_changed`: only when its stamp changed); "" or the problem.
  std::string reload_allow_file(bool if_changed) {
    if (o.allowed_file.empty()) return {};
    const auto stamp = ops::stamp_of(o.allowed_file);
    if (if_changed && stamp == allow_stamp) return {};
    allow_stamp = stamp;
    std::set<std::string> ids;
    std::string problem;
    if (!ops::read_allowed_file(o.allowed_file, ids, problem)) {
      rlog(base::LogLevel::Error, "access.allowed_file refused, the old list stays: " + problem);
      return problem;
    }
    const auto n = ids.size();
    ids.insert(o.allowed_ids.begin(), o.allowed_ids.end());
    if (!core.set_allowed_ids(std::move(ids), now())) {
      problem = o.allowed_file + ": more than " + std::to_string(kMaxAllowedIds) +
                " allowed identities with the approvals";
      rlog(base::LogLevel::Error, "access.allowed_file refused, the old list stays: " + problem);
      return problem;
    }
    after_core();
    rlog(base::LogLevel::Info,
         "access.allowed_file " + o.allowed_file + " read: " + std::to_string(n) + " identities");
    return {};
  }
  // Re-reads the bans file and puts its bans in force (the ones it no longer lists are lifted).
  std::string reload_bans_file() {
    if (o.bans_file.empty()) return {};
    ops::OperatorState state;
    std::string problem;
    if (!ops::read_bans_file(o.bans_file, state, problem)) {
      rlog(base::LogLevel::Error, "bans_file refused, the bans in force stay: " + problem);
      return problem;
    }
    const auto t = now();
    std::vector<Ban> old = core.bans();
    for (const auto& b : old) (void)core.unban(b.kind, b.value, t);
    for (const auto& b : state.bans) (void)core.ban(b, t);
    for (const auto& [id, n] : rates) {
      if (state.rates.count(id) == 0) (void)core.set_lease_rate(id, 0, t);
    }
    rates = std::move(state.rates);
    apply_rates();
    after_core();
    rlog(base::LogLevel::Info,
         "bans_file " + o.bans_file + " read: " + std::to_string(core.bans().size()) + " bans");
    return {};
  }
  // The per-identity rates of the bans file, into the core.
  void apply_rates() {
    const auto t = now();
    for (const auto& [id, n] : rates) {
      if (!core.set_lease_rate(id, n, t)) {
        rlog(base::LogLevel::Error, "bans_file: the rate of " + id + " is not applied: more than " +
                                        std::to_string(Core::kMaxLeaseRates) + " rates");
      }
    }
  }
  std::string save_bans() {
    if (o.bans_file.empty()) return {};
    std::string problem;
    if (!ops::write_bans_file(o.bans_file, ops::OperatorState{core.bans(), rates}, problem)) {
      rlog(base::LogLevel::Error, "bans_file not saved: " + problem);
      return problem;
    }
    return {};
  }
  transport::HttpResponse admin(const transport::HttpRequest& req) {
    if (!ops::bearer_matches(o.admin_token, req)) {
      ++admin_auth_failures;
      if (auto line = admin_auth_log.pass("admin API: request without a valid bearer token (" +
                                              req.method + " " + req.target.substr(0, 100) + ")",
                                          Steady::now())) {
        rlog(base::LogLevel::Warn, *line);
      }
      transport::HttpResponse r{
          401, "application/json", "{\"error\":\"a valid bearer token is required\"}\n", {}};
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"portal-admin\"");
      return r;
    }
    ops::AdminHost host{
        core,
        now(),
        [this](ConnectionId c) { return core.connection_address(c); },
        [this] { return save_bans(); },
        [this](const std::string& id) -> std::string {
          if (o.allowed_file.empty()) return {};
          std::string problem;
          if (!ops::add_to_allowed_file(o.allowed_file, id, base::unix_seconds(clock.system_now()),
                                        problem)) {
            rlog(base::LogLevel::Error, "approval not saved: " + problem);
            return problem;
          }
          allow_stamp = ops::stamp_of(o.allowed_file);
          return {};
        },
        [this](const std::string& id, std::uint64_t n) -> std::string {
          if (!core.set_lease_rate(id, n, now())) {
            return "the per-identity rate table is full (" + std::to_string(Core::kMaxLeaseRates) +
                   ")";
          }
          if (n == 0) {
            rates.erase(id);
          } else {
            rates[id] = n;
          }
          auto problem = save_bans();
          return problem.empty() ? problem : "not saved: " + problem;
        },
        [this] { return reload_all(); }};
    auto r = ops::answer_admin(host, req);
    after_core();
    return r;
  }
  std::string reload_all();

  [[nodiscard]] bool sharded() const noexcept { return workers != nullptr; }
  // Whether an object on `owner` may be used right here (it lives on the relay's executor).
  [[nodiscard]] bool is_local(const asio::any_io_executor& owner) const {
    return !sharded() || owner == ex;
  }

  // The loop for the next connection: the one with the fewest sockets, the workers first (in
  // turn among equals), the relay's own executor last (it also runs the core).
  std::size_t pick_loop() {
    if (loops.size() == 1) return 0;
    const std::size_t n = loops.size() - 1;
    std::size_t best = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = 1 + (next_loop + k) % n;
      if (best == 0 ? loop_load[i] <= loop_load[0] : loop_load[i] < loop_load[best]) best = i;
    }
    if (best != 0) next_loop = best % n;
    return best;
  }

  // A stream of `owner` as the relay's executor holds it: itself, or a RemoteStream that runs
  // every operation on the owner, and destroys the stream there.
  std::shared_ptr<stream::ByteStream> adopt(std::unique_ptr<stream::ByteStream> s,
                                            const asio::any_io_executor& owner) {
    if (is_local(owner)) return std::shared_ptr<stream::ByteStream>(std::move(s));
    auto shared =
        detail::owned_by(owner, std::shared_ptr<stream::ByteStream>(std::move(s)), workers);
    return std::make_shared<detail::RemoteStream>(std::move(shared), owner, true);
  }

  // Closes a stream the relay will not use, on its owner.
  void discard(std::unique_ptr<stream::ByteStream> s) {
    const auto owner = s->get_executor();
    if (is_local(owner)) {
      s->close();
      return;
    }
    asio::post(owner, [p = std::shared_ptr<stream::ByteStream>(std::move(s))] { p->close(); });
  }

  // Runs f() (an awaitable on the connection's session) where the session lives.
  // `f` by reference, as detail::run_on() takes it (a temporary of the caller's co_await).
  template <class T, class F>
  asio::awaitable<T> on_conn(const Connection& c, F&& f) {
    if (c.local) co_return co_await f();
    co_return co_await detail::run_on<T>(c.ex, f);
  }

  void close_session(const Connection& c) {
    if (!c.session) return;
    if (c.local) {
      c.session->close();
      return;
    }
    asio::dispatch(c.ex, [s = c.session] { s->close(); });
  }

  // Timers run on the steady clock Asio waits on; leases use the configured wall clock.
  Now now() const { return Now{Steady::now(), clock.system_now()}; }

  // Applies the core's actions, and wakes the timer loop when the core's next deadline moved
  // before the one it waits for.
  void after_core() {
    for (const auto& a : core.take_actions()) {
      if (a.kind == Action::Kind::CloseConnection) {
        if (auto it = conns.find(a.id); it != conns.end()) close_session(*it->second);
      } else if (a.kind == Action::Kind::Wake) {
        if (auto it = opening.find(a.id); it != opening.end()) {
          it->second->woken = true;
          it->second->wake.cancel();
        }
        if (auto it = waiting.find(a.id); it != waiting.end()) {
          it->second->woken = true;
          it->second->wake.cancel();
        }
      } else if (auto it = streams.find(a.id); it != streams.end()) {
        it->second->close();
      }
    }
    carry_directory_requests();
    for (auto& d : core.take_peer_dials()) {
      asio::co_spawn(ex, dial_peer(shared_from_this(), d),
                     stream::logged("relay", "peer dial to " + d.relay));
    }
    const auto next = core.next_deadline();
    if (timing && next && (!armed || *next < *armed)) timer.cancel();
  }

  // The core's directory requests go to the client; each reply comes back on `ex` (the client
  // posts it there) and goes into the core. A refused submit is answered Overloaded, posted so
  // that the core is never entered from inside after_core().
  void carry_directory_requests() {
    auto requests = core.take_directory_requests();
    if (requests.empty()) return;
    std::weak_ptr<Impl> weak = weak_from_this();
    for (auto& q : requests) {
      const auto ticket = q.ticket;
      const bool queued = o.directory != nullptr &&
                          o.directory->submit(std::move(q), [weak](lease::DirectoryReply reply) {
                            if (auto self = weak.lock(); self && !self->closing) {
                              self->core.directory_reply(reply, self->now());
                              self->after_core();
                            }
                          });
      if (queued) continue;
      asio::post(ex, [weak, ticket] {
        auto self = weak.lock();
        if (!self || self->closing) return;
        lease::DirectoryReply reply;
        reply.ticket = ticket;
        reply.status = lease::DirectoryStatus::Overloaded;
        reply.detail = "the directory client's queue is full";
        self->core.directory_reply(reply, self->now());
        self->after_core();
      });
    }
  }

  // A control stream waiting for the directory (Step::Wait) until the core wakes it.
  struct Waiter {
    explicit Waiter(asio::any_io_executor e) : wake(std::move(e), Steady::time_point::max()) {}
    asio::steady_timer wake;
    bool woken = false;
  };
  std::unordered_map<StreamId, std::shared_ptr<Waiter>> waiting;

  asio::awaitable<void> wait_for_core(StreamId id) {
    auto w = std::make_shared<Waiter>(ex);
    waiting.emplace(id, w);
    ScopeExit forget{[this, id] { waiting.erase(id); }};
    while (!w->woken && !closing && core.step(id) == Step::Wait) {
      (void)co_await w->wake.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  void start_timers() {
    if (timing) return;
    timing = true;
    asio::co_spawn(ex, timer_loop(shared_from_this()), stream::logged("relay", "timers"));
  }

  static asio::awaitable<void> timer_loop(std::shared_ptr<Impl> self) {
    while (!self->closing) {
      self->armed = self->core.next_deadline();
      self->timer.expires_at(self->armed.value_or(Steady::time_point::max()));
      (void)co_await self->timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (self->closing) break;
      self->core.tick(self->now());
      self->after_core();
    }
  }

  // The transport stream with its reads reported to the core: any byte is part of a mux frame,
  // so "no byte for T" is "no frame for T" (pings included).
  class ActivityStream final : public stream::ByteStream {
   public:
    // `control`: the relay's executor, where the core is told, when the stream is not on it.
    ActivityStream(std::unique_ptr<stream::ByteStream> inner, std::weak_ptr<Impl> relay,
                   ConnectionId id, std::optional<asio::any_io_executor> control)
        : inner_(std::move(inner)),
          relay_(std::move(relay)),
          id_(id),
          control_(std::move(control)) {
      if (control_) tally_ = std::make_shared<detail::Tally>();
    }
    asio::any_io_executor get_executor() override { return inner_->get_executor(); }
    asio::awaitable<base::Result<std::size_t>> async_read_some(base::MutableByteSpan b) override {
      auto n = co_await inner_->async_read_some(b);
      if (n && *n > 0) {
        if (!control_) {
          if (auto r = relay_.lock()) r->core.connection_received(id_, *n, r->now());
        } else if (tally_->add(0, *n)) {
          // On a worker: one report on its way at a time, carrying whatever arrived meanwhile.
          asio::post(*control_, [relay = relay_, tally = tally_, id = id_] {
            tally->reported();
            const auto bytes = tally->take(0);
            auto r = relay.lock();
            if (r && bytes > 0) r->core.connection_received(id, bytes, r->now());
          });
        }
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
    std::weak_ptr<Impl> relay_;
    ConnectionId id_;
    std::optional<asio::any_io_executor> control_;
    std::shared_ptr<detail::Tally> tally_;
  };

  // One stream of the core as drive() sees it.
  struct CoreStream {
    Impl* r;
    StreamId id;
    [[nodiscard]] base::ByteSpan pending_output() const { return r->core.stream_output(id); }
    void consume_output(std::size_t n) { r->core.stream_consumed(id, n); }
    base::Result<std::size_t> feed(base::ByteSpan bytes) {
      const auto n = r->core.stream_input(id, bytes, r->now());
      r->after_core();
      return n;
    }
    base::ErrorCode feed_eof() {
      r->core.stream_eof(id, r->now());
      r->after_core();
      return {};
    }
    [[nodiscard]] bool finished() const { return r->core.step(id) != Step::Read; }
  };

  // `listener` names the listener uniquely (the bucket of its peers without an IP address).
  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self, transport::Listener* l,
                                           std::string scheme, std::string listener) {
    for (;;) {
      auto s = co_await l->async_accept();
      if (self->stopping) {
        if (s) self->discard(std::move(*s));
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
      self->admit(std::move(*s), scheme, listener, !l->applies_accept_hooks());
    }
  }

  void accept_error(const std::string& where, const base::ErrorCode& e) {
    core.accept_failed(where, e, transport::is_descriptor_shortage(e), transport::kAcceptErrorPause,
                       now());
  }

  // The per-address slot of one accepted TCP connection, from accept (before any HTTP or
  // upgrade) until its stream is destroyed.
  struct IpSlot {
    IpSlot(std::weak_ptr<Impl> r, std::string a) : relay(std::move(r)), address(std::move(a)) {}
    IpSlot(const IpSlot&) = delete;
    IpSlot& operator=(const IpSlot&) = delete;
    std::weak_ptr<Impl> relay;
    std::string address;
    std::size_t loop = 0;  // the loop its socket went to (loop_load)
    ~IpSlot() {
      auto r = relay.lock();
      if (!r) return;
      if (!r->sharded()) {
        r->core.release_address(address);
        --r->loop_load[loop];
        return;
      }
      // The last owner of a connection's socket may be on a worker: the count is the core's.
      asio::dispatch(r->ex, [r, a = std::move(address), l = loop] {
        r->core.release_address(a);
        --r->loop_load[l];
      });
    }
  };

  // `address`: as accounting_address() gives it. Also chooses the connection's loop, when the
  // listener lets it move (transport::place_accepted()).
  std::shared_ptr<void> admit_address(const std::string& address, const std::string& scheme) {
    if (stopping || !core.take_address(address, scheme, now())) return nullptr;
    auto slot = std::make_shared<IpSlot>(weak_from_this(), address);
    const auto loop = pick_loop();
    if (loop != 0 && transport::place_accepted(loops[loop])) slot->loop = loop;
    ++loop_load[slot->loop];
    return slot;
  }

  void admit(std::unique_ptr<stream::ByteStream> s, const std::string& scheme,
             const std::string& listener, bool count_here) {
    const auto peer = s->peer_info();
    // Peers without an IP address (Unix sockets) are counted in their listener's bucket.
    const auto address = accounting_address(peer.address, listener, o.limits.ipv6_prefix);
    std::shared_ptr<void> slot;
    if (count_here) {  // the listener did not count it at accept
      slot = admit_address(address, scheme);
      if (!slot) {
        discard(std::move(s));
        return;
      }
    }
    const auto id = core.connection_opened(address, scheme, peer.connected_at, now(),
                                           own_address(peer.address, address));
    auto c = std::make_shared<Connection>(id);
    c->ip_slot = std::move(slot);
    c->ex = s->get_executor();
    c->local = is_local(c->ex);
    // On a worker, or with peering (the first bytes tell a peer relay from a client), the
    // session is made in a coroutine.
    if (!c->local || core.peering()) {
      auto activity = std::make_unique<ActivityStream>(
          std::move(s), weak_from_this(), id,
          c->local ? std::nullopt : std::optional<asio::any_io_executor>(ex));
      asio::co_spawn(ex, start_session(shared_from_this(), c, std::move(activity)),
                     stream::logged("relay", "conn=" + std::to_string(id)));
      return;
    }
    auto session = o.mux->create(
        std::make_unique<ActivityStream>(std::move(s), weak_from_this(), id, std::nullopt),
        mux::Role::Server, o.mux_settings);
    if (!session) {
      rlog(base::LogLevel::Error,
           "conn=" + std::to_string(id) + ": mux session failed: " + session.error().message());
      core.connection_closed(id, session.error(), now());
      after_core();
      return;
    }
    c->session = std::move(*session);
    conns.emplace(id, c);
    after_core();
    asio::co_spawn(ex, serve_connection(shared_from_this(), c),
                   stream::logged("relay", "conn=" + std::to_string(id)));
  }

  // A new connection's mux session, and the relay ID its peer authenticated as (empty: a client).
  struct Made {
    std::shared_ptr<mux::Session> session;
    std::string peer;
  };
  // What the peer handshake of one loop needs (null: no peering).
  struct PeerAccept {
    const detail::PeerCrypto* crypto = nullptr;
    handshake::ReplayCache* replay = nullptr;
    // The first bytes' deadline (limits.first_frame_timeout_ms): the core's first-frame timer
    // cannot close a connection whose session is not made yet.
    std::chrono::milliseconds first_bytes{0};
  };

  // Runs where the connection lives: with peering, the first bytes tell a peer relay (its
  // handshake then runs, bounded by the crypto's timeout) from a client; then the mux session.
  static asio::awaitable<base::Result<Made>> make_session(std::shared_ptr<mux::MuxFactory> factory,
                                                          mux::Settings settings,
                                                          std::unique_ptr<stream::ByteStream> s,
                                                          PeerAccept peer) {
    if (peer.crypto == nullptr) {
      auto session = factory->create(std::move(s), mux::Role::Server, settings);
      if (!session) co_return session.error();
      co_return Made{std::move(*session), {}};
    }
    base::Result<detail::Sniffed> sniffed{base::ErrorCode(asio::error::operation_aborted)};
    {
      stream::Deadline deadline(s->get_executor(), peer.first_bytes,
                                [raw = s.get()] { raw->close(); });
      sniffed = co_await detail::sniff_peer(*s);
    }
    if (!sniffed) {
      s->close();
      co_return sniffed.error();
    }
    auto inner = stream::make_prefixed_stream(std::move(s), std::move(sniffed->prefix));
    if (!sniffed->peer) {
      auto session = factory->create(std::move(inner), mux::Role::Server, settings);
      if (!session) co_return session.error();
      co_return Made{std::move(*session), {}};
    }
    auto secure = co_await detail::peer_accept(std::move(inner), *peer.crypto, *peer.replay);
    if (!secure) co_return secure.error();
    std::string relay = (*secure)->peer().id;
    auto session = factory->create(std::move(*secure), mux::Role::Server, settings);
    if (!session) co_return session.error();
    co_return Made{std::move(*session), std::move(relay)};
  }

  // The loop index of executor `e` (0: the relay's own).
  std::size_t loop_of(const asio::any_io_executor& e) const {
    for (std::size_t i = 0; i < loops.size(); ++i) {
      if (loops[i] == e) return i;
    }
    return 0;
  }

  // A connection on a worker, or any with peering: its session is made where it lives (its
  // coroutines start there), then served like any other.
  static asio::awaitable<void> start_session(std::shared_ptr<Impl> self,
                                             std::shared_ptr<Connection> c,
                                             std::unique_ptr<ActivityStream> activity) {
    using MadeR = base::Result<Made>;
    PeerAccept peer;
    if (self->core.peering()) {
      peer.crypto = &self->peer_crypto;
      peer.replay = self->peer_replay[self->loop_of(c->ex)].get();
      peer.first_bytes = std::chrono::milliseconds(self->o.limits.first_frame_timeout_ms);
    }
    // Named, not a temporary: GCC 12 does not keep a temporary of a co_await expression alive
    // across the suspension (so every function object handed to run_on() is a local).
    auto make = [factory = self->o.mux, settings = self->o.mux_settings, a = std::move(activity),
                 peer]() mutable -> asio::awaitable<MadeR> {
      co_return co_await make_session(factory, settings, std::move(a), peer);
    };
    // Not a conditional expression: GCC 12 destroys the temporaries of a co_await inside one
    // twice.
    MadeR made{base::ErrorCode(asio::error::operation_aborted)};
    if (c->local) {
      made = co_await make();
    } else {
      made = co_await detail::run_on<MadeR>(c->ex, make);
    }
    if (!made) {
      const bool quiet = made.error() == asio::error::eof;
      rlog(quiet ? base::LogLevel::Debug : base::LogLevel::Warn,
           "conn=" + std::to_string(c->id) + ": session not started: " + made.error().message());
      self->core.connection_closed(c->id, made.error(), self->now());
      self->after_core();
      co_return;
    }
    c->session = c->local ? std::move(made->session)
                          : detail::owned_by(c->ex, std::move(made->session), self->workers);
    const bool refused =
        !made->peer.empty() && !self->core.peer_accepted(c->id, made->peer, self->now());
    if (self->closing || refused) {  // the relay closed everything meanwhile, or not a peer
      self->close_session(*c);
      c->closed = true;
      c->ip_slot.reset();
      self->core.connection_closed(c->id, asio::error::operation_aborted, self->now());
      self->after_core();
      co_return;
    }
    self->conns.emplace(c->id, c);
    self->after_core();
    co_await serve_connection(self, c);
  }

  // Opens the peer session the core asked for (on the relay's executor), then serves it like an
  // accepted connection: the core forwards over it.
  static asio::awaitable<void> dial_peer(std::shared_ptr<Impl> self, PeerDial d) {
    auto fail = [&](const std::string& why) {
      self->core.peer_dial_failed(d.relay, why, self->now());
      self->after_core();
    };
    auto uri = transport::parse_uri(d.uri);
    if (!uri) co_return fail("'" + d.uri + "': " + uri.error().message());
    auto t = self->o.peer_transports.find(uri->scheme);
    if (t == self->o.peer_transports.end() || !self->peer_crypto.cipher) {
      co_return fail("'" + d.uri + "': no transport plugin for " + uri->scheme + "://");
    }
    auto s = co_await t->second.first->async_connect(self->ex, *uri, t->second.second);
    if (!s) co_return fail("'" + d.uri + "': " + s.error().message());
    auto secure = co_await detail::peer_connect(std::move(*s), self->peer_crypto, d.relay);
    if (!secure) co_return fail("'" + d.uri + "': peer handshake: " + secure.error().message());
    auto session = self->o.mux->create(std::move(*secure), mux::Role::Client, self->o.mux_settings);
    if (!session) co_return fail("'" + d.uri + "': mux session: " + session.error().message());
    if (self->closing) {
      (*session)->close();
      co_return fail("the relay is closing");
    }
    const auto id = self->core.peer_connected(d.relay, d.uri, uri->scheme, self->now());
    auto c = std::make_shared<Connection>(id);
    c->ex = self->ex;
    c->local = true;
    c->session = std::move(*session);
    self->conns.emplace(id, c);
    self->after_core();
    co_await serve_connection(self, c);
  }

  static asio::awaitable<void> serve_connection(std::shared_ptr<Impl> self,
                                                std::shared_ptr<Connection> c) {
    // However this ends, the connection is dropped (its leases and its table entry go).
    using Accepted = base::Result<std::unique_ptr<stream::ByteStream>>;
    base::ErrorCode reason;
    try {
      for (;;) {
        auto accept = [s = c->session] { return s->async_accept(); };
        auto st = co_await self->on_conn<Accepted>(*c, accept);
        if (!st) break;
        auto s = self->adopt(std::move(*st), c->ex);
        const auto id = self->core.stream_accepted(c->id, self->now());
        self->after_core();
        if (!id) {
          s->close();
          continue;
        }
        self->streams.emplace(*id, s);
        asio::co_spawn(self->ex, serve_stream(self, *id, std::move(s)),
                       stream::logged("relay", "conn=" + std::to_string(c->id) + " stream"));
      }
      auto wait_closed = [s = c->session] { return s->async_wait_closed(); };
      reason = co_await self->on_conn<base::ErrorCode>(*c, wait_closed);
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
    close_session(c);
    core.connection_closed(c.id, reason, now());
    conns.erase(c.id);
    after_core();
  }

  // The driver lets go of a stream: the core forgets it.
  void release(StreamId id) {
    streams.erase(id);
    core.stream_closed(id);
    after_core();
  }

  // A control stream a peer opened: its packets, then a forward and a splice, or an end.
  static asio::awaitable<void> serve_stream(std::shared_ptr<Impl> self, StreamId id,
                                            std::shared_ptr<stream::ByteStream> s) {
    ScopeExit released{[self, id] { self->release(id); }};
    base::Bytes pending;
    for (;;) {
      CoreStream endpoint{self.get(), id};
      auto r = co_await stream::drive(*s, endpoint, std::move(pending),
                                      stream::DriveOptions{kControlReadChunk, false});
      if (!r) {
        self->core.stream_failed(id, self->now());
        self->after_core();
        s->close();
        co_return;
      }
      pending = std::move(*r);
      switch (self->core.step(id)) {
        case Step::Read: continue;
        case Step::Wait: co_await self->wait_for_core(id); continue;
        case Step::Forward: {
          auto holder = co_await self->forward(id);
          if (self->core.step(id) != Step::Splice) continue;  // answered; more may follow
          // The ACCEPTED answer goes out before the first relayed byte.
          if (auto w = co_await stream::flush(*s, endpoint); !w) {
            holder.stream->close();
            self->core.splice_ended(id);
            self->release(holder.id);
            s->close();
            co_return;
          }
          co_await self->splice(id, s, std::move(pending), std::move(holder));
          co_return;
        }
        case Step::Finish:
          // A graceful end is a half-close (the answers already written stay readable).
          if (self->stopping || !co_await s->async_shutdown_write()) s->close();
          co_return;
        default: s->close(); co_return;
      }
    }
  }

  struct Holder {
    StreamId id = 0;
    std::shared_ptr<stream::ByteStream> stream;
    base::Bytes leftover;
  };

  // Opens a stream to the lease holder the core chose and runs the forwarded request on it.
  // Returns the holder stream when the core splices, nothing otherwise (the dialer's answer is
  // then in its output).
  asio::awaitable<Holder> forward(StreamId dialer) {
    auto self = shared_from_this();
    auto it = conns.find(core.forward_target(dialer));
    if (it == conns.end() || it->second->closed) {
      core.holder_open_failed(dialer, asio::error::not_connected, now());
      after_core();
      co_return Holder{};
    }
    // The open waits in the mux (for the holder's ACK); the core may end the forward first (its
    // deadline), and then wakes this wait with a Wake action.
    auto open = std::make_shared<PendingOpen>(ex);
    opening.emplace(dialer, open);
    asio::co_spawn(ex, open_holder_stream(self, it->second, open),
                   stream::logged("relay", "holder stream open"));
    while (!open->result && !open->woken) {  // either may come before the wait starts
      (void)co_await open->wake.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    opening.erase(dialer);
    if (!open->result) {  // woken by the core: the late stream is closed when it opens
      open->abandoned = true;
      co_return Holder{};
    }
    auto opened = std::move(*open->result);
    if (!opened) {
      core.holder_open_failed(dialer, opened.error(), now());
      after_core();
      co_return Holder{};
    }
    if (core.step(dialer) != Step::Forward) {  // it ended meanwhile
      (*opened)->close();
      co_return Holder{};
    }
    Holder h;
    h.id = core.holder_opened(dialer, now());
    h.stream = std::move(*opened);  // adopted: a RemoteStream when the holder is on a worker
    streams.emplace(h.id, h.stream);
    after_core();
    // Released here unless it is handed to the splice, however this coroutine ends.
    bool handed = false;
    ScopeExit release_holder{[self, &h, &handed] {
      if (handed) return;
      h.stream->close();
      self->release(h.id);
    }};
    CoreStream endpoint{this, h.id};
    auto r = co_await stream::drive(*h.stream, endpoint, {},
                                    stream::DriveOptions{kControlReadChunk, false});
    if (!r) core.stream_failed(h.id, now());
    after_core();
    if (r && core.step(dialer) == Step::Splice) {
      h.leftover = std::move(*r);
      handed = true;
      co_return h;
    }
    co_return Holder{};
  }

  // An open of a holder stream, waited for by forward() until the core wakes it first.
  struct PendingOpen {
    explicit PendingOpen(asio::any_io_executor e) : wake(std::move(e), Steady::time_point::max()) {}
    asio::steady_timer wake;
    std::optional<base::Result<std::shared_ptr<stream::ByteStream>>> result;
    bool woken = false;      // the core ended the forward
    bool abandoned = false;  // forward() stopped waiting
  };
  std::unordered_map<StreamId, std::shared_ptr<PendingOpen>> opening;  // by dialer stream

  static asio::awaitable<void> open_holder_stream(std::shared_ptr<Impl> self,
                                                  std::shared_ptr<Connection> c,
                                                  std::shared_ptr<PendingOpen> open) {
    using Opened = base::Result<std::unique_ptr<stream::ByteStream>>;
    auto open_stream = [session = c->session] { return session->async_open(); };
    auto s = co_await self->on_conn<Opened>(*c, open_stream);
    base::Result<std::shared_ptr<stream::ByteStream>> adopted = asio::error::not_connected;
    if (s) {
      adopted = self->adopt(std::move(*s), c->ex);
    } else {
      adopted = s.error();
    }
    if (open->abandoned) {
      if (adopted) (*adopted)->close();
      co_return;
    }
    open->result = std::move(adopted);
    open->wake.cancel();
  }

  asio::awaitable<void> splice(StreamId dialer, std::shared_ptr<stream::ByteStream> s,
                               base::Bytes from_dialer, Holder holder) {
    auto self = shared_from_this();
    ScopeExit released{[self, id = holder.id] { self->release(id); }};
    ++live_splices;
    ScopeExit ended{[self] { --self->live_splices; }};
    // Each direction half-closes its destination at EOF (§7: the other direction goes on) and
    // aborts both streams on an error; after two clean half-closes the streams are finished and
    // are released without a reset (a reset would discard data the peer has not read yet).
    stream::SpliceOptions so;
    so.chunk = o.splice_chunk;
    so.a_prefix = std::move(from_dialer);
    so.b_prefix = std::move(holder.leftover);
    // --- Bandwidth (ADR 0017 §4): before each write a direction waits for its lease's bucket,
    // then the relay's (the buckets are thread-safe: the copy loops may run on a worker).
    so.pace = [rates = std::array<Core::SpliceRate, 2>{core.splice_rate(dialer, true),
                                                       core.splice_rate(dialer, false)},
               stop = std::shared_ptr<const std::atomic<bool>>(rate_stop)](
                  bool to_holder, std::size_t n, const std::atomic<bool>& cut) {
      return detail::pace(rates[to_holder ? 0 : 1], n, stop, cut);
    };
    // --- end of bandwidth ---
    // The copy loops run where a stream lives: on a worker when either does (each loop reads
    // and writes its own streams directly, and the other's through a RemoteStream), here
    // otherwise.
    auto [da, ea] = unwrap(s);
    auto [hb, eb] = unwrap(holder.stream);
    const auto run = !is_local(ea) ? ea : (!is_local(eb) ? eb : ex);
    if (is_local(run)) {
      so.on_moved = [self, dialer](bool to_holder, std::size_t n) {
        self->core.spliced_moved(dialer, to_holder, n, self->now());
      };
      (void)co_await stream::splice(s, holder.stream, std::move(so));
    } else {
      auto tally = std::make_shared<detail::Tally>();
      so.on_moved = [weak = weak_from_this(), tally, dialer, control = ex](bool to_holder,
                                                                           std::size_t n) {
        if (!tally->add(to_holder ? 0 : 1, n)) return;
        asio::post(control, [weak, tally, dialer] {
          tally->reported();
          const auto to_h = tally->take(0);
          const auto to_d = tally->take(1);
          auto r = weak.lock();
          if (!r) return;
          if (to_h > 0) r->core.spliced_moved(dialer, true, to_h, r->now());
          if (to_d > 0) r->core.spliced_moved(dialer, false, to_d, r->now());
        });
      };
      auto a = on_loop(std::move(da), ea, run);
      auto b = on_loop(std::move(hb), eb, run);
      auto copy = [a = std::move(a), b = std::move(b), so = std::move(so)]() mutable {
        return stream::splice(std::move(a), std::move(b), std::move(so));
      };
      (void)co_await detail::run_on<stream::SpliceStats>(run, copy);
    }
    core.splice_ended(dialer);
    after_core();
  }

  // A stream the relay's executor holds, with the executor it lives on.
  std::pair<std::shared_ptr<stream::ByteStream>, asio::any_io_executor> unwrap(
      const std::shared_ptr<stream::ByteStream>& s) const {
    if (auto* r = dynamic_cast<detail::RemoteStream*>(s.get()))
      return {r->inner(), r->get_executor()};
    return {s, ex};
  }

  // Stream `s`, living on `owner`, as code running on `run` uses it.
  std::shared_ptr<stream::ByteStream> on_loop(std::shared_ptr<stream::ByteStream> s,
                                              const asio::any_io_executor& owner,
                                              const asio::any_io_executor& run) {
    if (owner == run) return s;
    // The splice's buffers stay put while a write waits: no copy. The stream is let go of on
    // its owner, wherever the splice ends.
    auto shared = detail::owned_by(owner, std::move(s), workers);
    return std::make_shared<detail::RemoteStream>(std::move(shared), owner, false);
  }

  // No new connections (timers go on: the drain still needs them).
  void stop_accepting() {
    stopping = true;
    for (auto& l : listeners) l->close();
  }

  void close_all() {
    stop_accepting();
    closing = true;
    rate_stop->store(true);  // bandwidth: splices waiting for a budget stop waiting
    timer.cancel();
    // Copy: drop() erases from the map.
    std::vector<std::shared_ptr<Connection>> all;
    for (auto& [id, c] : conns) all.push_back(c);
    for (auto& c : all) close_session(*c);
    for (auto& [id, w] : waiting) w->wake.cancel();
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

Relay::~Relay() {
  impl_->close_all();
  // Pending directory requests end (their replies find the relay closing); the client's thread
  // is joined before the plugin that runs it can be unloaded.
  if (impl_->o.directory) impl_->o.directory->close();
  // The workers finish what the closes started, then stop; none outlives the relay.
  if (impl_->workers) impl_->workers->stop(std::chrono::milliseconds(1000));
}

const std::string& Relay::id() const noexcept { return impl_->identity.id(); }

transport::Uri Relay::serve(std::unique_ptr<transport::Listener> listener) {
  auto* l = listener.get();
  const auto uri = l->local_uri();
  std::weak_ptr<Impl> weak = impl_;
  // The HTTP surface, where the transport speaks HTTP (ws://); plain TCP refuses routes.
  // noindex: every answer (a gate's "not mine", status 0, excepted) asks robots to stay away.
  const bool noindex = impl_->o.noindex;
  auto tagged = [noindex](transport::HttpResponse r) {
    if (noindex && r.status != 0) r.headers.emplace_back("X-Robots-Tag", "noindex, nofollow");
    return r;
  };
  auto route = [weak, tagged](auto render) {
    return [weak, render, tagged](const transport::HttpRequest& req) -> transport::HttpResponse {
      auto self = weak.lock();
      if (!self) return transport::HttpResponse{503, "text/plain; charset=utf-8", "stopping\n", {}};
      return tagged(render(self->view(), req));
    };
  };
  (void)l->add_http_route("/healthz", route(&http_healthz));
  // With an admin listener, /metrics and /api/... are served there only (ADR 0017 §1).
  if (!impl_->o.admin_separate) {
    (void)l->add_http_route("/metrics", route(&http_metrics));
    (void)l->add_http_route("/api/leases", route(&http_api_leases));
    (void)l->add_http_route("/api/relay", route(&http_api_relay));
  }
  (void)l->add_http_route("/", route(&http_index));
  if (noindex) {
    (void)l->add_http_route("/robots.txt", [tagged](const transport::HttpRequest&) {
      return tagged(transport::HttpResponse{
          200, "text/plain; charset=utf-8", "User-agent: *\nDisallow: /\n", {}});
    });
  }
  // App hosts (<name>.<portal host>) get the browser client, whatever the path (/relay too).
  if (impl_->browser) {
    (void)l->add_http_route("*",
                            [site = impl_->browser, tagged](const transport::HttpRequest& req) {
                              return tagged(site->answer(req));
                            });
  }
  // Every accepted TCP connection counts against its address from accept on (plain HTTP and
  // WebSocket upgrades included), and accept errors are counted and paused on.
  // Peers without an IP address count in one bucket per listener, named by its place among the
  // relay's listeners and its URI.
  const std::string scheme = uri.scheme;
  const std::string bucket = "#" + std::to_string(impl_->listeners.size()) + " " + uri.to_string();
  transport::AcceptHooks hooks;
  hooks.admit = [weak, scheme, bucket](const stream::PeerInfo& peer) -> std::shared_ptr<void> {
    auto self = weak.lock();
    return self ? self->admit_address(
                      accounting_address(peer.address, bucket, self->o.limits.ipv6_prefix), scheme)
                : nullptr;
  };
  hooks.on_accept_error = [weak, where = uri.to_string()](const base::ErrorCode& e) {
    if (auto self = weak.lock()) self->accept_error(where, e);
  };
  if (!impl_->o.trusted_proxies.empty()) {
    std::string problem;  // checked with the config
    if (auto set = transport::AddressSet::parse(impl_->o.trusted_proxies, problem)) {
      hooks.trusted_proxy = [proxies = std::move(*set)](const std::string& address) {
        return proxies.contains(address);
      };
    }
  }
  l->set_accept_hooks(std::move(hooks));
  impl_->uris.push_back(uri);
  impl_->listeners.push_back(std::move(listener));
  // Peers dial the first listener unless fleet.peer_uri says otherwise.
  impl_->core.set_peer_uri(uri.to_string());
  impl_->start_timers();
  asio::co_spawn(impl_->ex, Impl::accept_loop(impl_, l, uri.scheme, bucket),
                 stream::logged("relay", "accept loop of " + uri.to_string()));
  return uri;
}

transport::Uri Relay::serve_admin(std::unique_ptr<transport::Listener> listener) {
  auto* l = listener.get();
  const auto uri = l->local_uri();
  std::weak_ptr<Impl> weak = impl_;
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
  if (!impl_->o.admin_token.empty()) {
    (void)l->add_http_route(
        "/api/admin/", [weak](const transport::HttpRequest& req) -> transport::HttpResponse {
          auto self = weak.lock();
          if (!self) {
            return transport::HttpResponse{503, "text/plain; charset=utf-8", "stopping\n", {}};
          }
          return self->admin(req);
        });
  }
  // Its connections have a budget of their own (max_connections_per_ip for the whole listener,
  // counted by the core under "admin listener <uri>"), apart from every client's and exempt
  // from address bans, so that neither clients nor a ban can lock the operator out.
  struct AdminSlot {
    std::weak_ptr<Impl> relay;
    std::string bucket;
    ~AdminSlot() {
      if (auto r = relay.lock()) r->core.release_address(bucket);
    }
  };
  transport::AcceptHooks hooks;
  hooks.admit = [weak, bucket = "admin listener " +
                                uri.to_string()](const stream::PeerInfo&) -> std::shared_ptr<void> {
    auto self = weak.lock();
    if (!self || !self->core.take_address(bucket, "admin", self->now())) return nullptr;
    auto slot = std::make_shared<AdminSlot>();  // built in place: a copy's end would release
    slot->relay = weak;
    slot->bucket = bucket;
    return slot;
  };
  l->set_accept_hooks(std::move(hooks));
  impl_->uris.push_back(uri);
  impl_->listeners.push_back(std::move(listener));
  // Nothing is relayed here: a connection the listener hands out (a transport that upgrades) is
  // closed at once.
  asio::co_spawn(
      impl_->ex,
      [](std::weak_ptr<Impl> w, transport::Listener* admin) -> asio::awaitable<void> {
        for (;;) {
          auto self = w.lock();
          if (!self || self->stopping) co_return;
          self.reset();
          auto accepted = co_await admin->async_accept();
          if (!accepted) co_return;
          (*accepted)->close();
        }
      }(weak, l),
      stream::logged("relay", "admin listener " + uri.to_string()));
  rlog(base::LogLevel::Info,
       "admin surface on " + uri.to_string() +
           (impl_->o.admin_token.empty() ? "" : " (admin API: bearer token)"));
  return uri;
}

std::string Relay::reload_files(bool if_changed) {
  auto problems = impl_->reload_allow_file(if_changed);
  if (!if_changed) {
    auto more = impl_->reload_bans_file();
    if (!more.empty()) problems += (problems.empty() ? "" : "\n") + more;
  }
  return problems;
}

std::string Relay::Impl::reload_all() {
  auto problems = reload_allow_file(false);
  if (auto more = reload_bans_file(); !more.empty()) {
    problems += (problems.empty() ? "" : "\n") + more;
  }
  for (const auto& l : listeners) {
    auto* reloadable = dynamic_cast<transport::ReloadableListener*>(l.get());
    if (reloadable == nullptr) continue;
    std::string problem;
    auto r = reloadable->reload(false, problem);
    if (!r) {
      const auto line = l->local_uri().to_string() + ": new TLS credentials refused: " +
                        (problem.empty() ? r.error().message() : problem);
      rlog(base::LogLevel::Error, line + " (the old ones stay)");
      problems += (problems.empty() ? "" : "\n") + line;
    }
  }
  return problems;
}

void Relay::reload_credentials(bool if_changed) {
  for (const auto& l : impl_->listeners) {
    auto* reloadable = dynamic_cast<transport::ReloadableListener*>(l.get());
    if (reloadable == nullptr) continue;  // a plugin built for ABI 2.0, or nothing to reload
    std::string problem;
    const auto where = l->local_uri().to_string();
    auto r = reloadable->reload(if_changed, problem);
    if (!r) {
      rlog(base::LogLevel::Error, where + ": new TLS credentials refused, the old ones stay: " +
                                      (problem.empty() ? r.error().message() : problem));
    } else if (*r) {
      rlog(base::LogLevel::Info, where + ": TLS credentials reloaded");
    }
  }
}

asio::awaitable<void> Relay::shutdown(std::chrono::milliseconds drain) {
  auto self = impl_;
  if (self->stopping) co_return;
  self->stop_accepting();
  rlog(base::LogLevel::Info, "shutting down: draining " + std::to_string(self->conns.size()) +
                                 " connections for up to " + std::to_string(drain.count()) + " ms");
  for (auto& [id, c] : self->conns) {
    asio::co_spawn(c->local ? self->ex : c->ex, drain_session(c->session, drain),
                   stream::logged("relay", "drain of conn=" + std::to_string(id)));
  }
  asio::steady_timer tick(self->ex);
  const auto deadline = Steady::now() + drain + std::chrono::milliseconds(500);
  while (!self->conns.empty() && Steady::now() < deadline) {
    tick.expires_after(std::chrono::milliseconds(20));
    (void)co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  self->close_all();
  // Let the connection coroutines see their sessions end, and the splices too: a copy loop on
  // a worker may still wait for a write here or for its bandwidth budget (which gives up within
  // detail::kRatePoll once rate_stop is set). Were this executor to stop first, that loop would
  // wait for it for ever, and the worker's frames would keep the relay alive (a leak).
  const auto last = Steady::now() + std::chrono::milliseconds(500);
  while ((!self->conns.empty() || self->live_splices > 0) && Steady::now() < last) {
    tick.expires_after(std::chrono::milliseconds(10));
    (void)co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  rlog(base::LogLevel::Info, "stopped");
}

Stats Relay::stats() const { return impl_->core.stats(); }

std::vector<std::size_t> Relay::loop_connections() const { return impl_->loop_load; }

HttpView Relay::Impl::view() const {
  HttpView v;
  v.relay_id = identity.id();
  v.advertise = o.advertise;
  if (browser && !browser->relays().empty()) {
    v.app_prefix = browser->scheme();
    v.app_suffix = browser->suffix() + "/";
    v.connect_relay = browser->relays().front();
  }
  for (const auto& u : uris) v.listeners.push_back(u.to_string());
  v.now = base::unix_seconds(clock.system_now());
  v.uptime_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(Steady::now() - started).count();
  for (const auto* e : core.leases().list(v.now)) {
    HttpView::LeaseRow row;
    row.id = e->lease.identity ? e->lease.identity->id : std::string();
    row.name = e->lease.name;
    row.alpn = e->lease.alpn;
    row.expires = e->lease.expires;
    row.last_seen = e->last_seen;
    row.metadata = e->lease.metadata;
    row.relayed_streams = core.relayed_streams(row.id);
    v.leases.push_back(std::move(row));
  }
  v.stats = core.stats();
  const auto& m = core.metrics();
  v.answers = m.answers;
  v.refusals = m.refusals;
  v.control_errors = m.control_errors;
  v.accept_errors = m.accept_errors;
  v.fleet = o.directory != nullptr;
  v.directory = m.directory;
  if (o.directory) v.directory_health = o.directory->health();
  v.peering = core.peering();
  v.peer_dials = m.peer_dials;
  v.peer_sessions = core.peer_sessions();
  v.forwarded_by_peer = m.forwarded_by_peer;
  v.route_cache = m.route_cache;
  v.admin = !o.admin_token.empty();
  v.admin_auth_failures = admin_auth_failures;
  for (const auto& b : core.bans()) ++v.bans[to_string(b.kind)];
  v.approval = core.access() == AccessMode::Approval;
  v.pending = core.pending().size();
  v.plugins = o.plugins;
  v.loop_connections = loop_load;
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
