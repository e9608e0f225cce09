// SPDX-License-Identifier: Apache-2.0
// The client SDK: relay links (connect, health, reconnect with backoff), the lease listener
// (register, renew, answer forwarded requests, handshake, queue), dial and lookup.

#include "portal/client/client.hpp"
#include "portal/cipher/aead_factory.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <deque>
#include <set>

#include "detail/cipher_choice.hpp"
#include "detail/stack_assembly.hpp"
#include "portal/base/log.hpp"
#include "portal/client/control.hpp"
#include "portal/client/core.hpp"
#include "portal/identity/identity.hpp"
#include "portal/lease/name.hpp"
#include "portal/stream/async_signal.hpp"
#include "portal/stream/deadline.hpp"
#include "portal/stream/logged.hpp"

namespace portal::client {

namespace asio = boost::asio;
using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

void clog(base::LogLevel level, const std::string& message) { base::log(level, "client", message); }

// Runs every task concurrently on `ex` and completes when all have finished.
asio::awaitable<void> all_of(asio::any_io_executor ex,
                             std::vector<std::function<asio::awaitable<void>()>> tasks) {
  auto left = std::make_shared<std::size_t>(tasks.size());
  auto done = std::make_shared<stream::AsyncSignal>(ex);
  for (auto& t : tasks) {
    asio::co_spawn(ex, std::move(t), [left, done](std::exception_ptr e) {
      if (e) clog(base::LogLevel::Error, "internal error in a parallel client task");
      if (--*left == 0) done->notify();
    });
  }
  while (*left > 0) co_await done->wait();
}

// A cipher: among the plugins that provide `algorithm` (only `implementation`, when it is set)
// and pass its known answer, the fastest one here (detail::rank_ciphers). A plugin that fails is
// skipped with a warning. Null with `error` set when none is usable.
std::shared_ptr<cipher::AeadFactory> pick_cipher(const detail::StackAssembly& assembly,
                                                 const config::CipherChoice& choice, Stack& stack,
                                                 std::vector<Stack::CipherCandidate>& candidates,
                                                 std::string& error) {
  const std::string& algorithm = choice.algorithm;
  std::vector<std::string> problems;
  auto found = detail::rank_ciphers(*assembly.host, algorithm, choice.implementation, problems);
  stack.warnings.insert(stack.warnings.end(), problems.begin(), problems.end());
  if (found.empty()) {
    const std::string which =
        choice.implementation.empty()
            ? "no cipher plugin provides '" + algorithm + "'"
            : "no cipher plugin '" + choice.implementation + "' provides '" + algorithm + "'";
    error = "ciphers: " + (problems.empty() ? which + assembly.where() : problems.back());
    return nullptr;
  }
  for (const auto& f : found) candidates.push_back({f.plugin_id, f.bytes_per_second});
  return found.front().factory;
}

// Whether any loaded cipher plugin provides `algorithm`.
bool provided(const detail::StackAssembly& assembly, std::string_view algorithm) {
  for (const auto& p : assembly.host->plugins()) {
    if (p->kind() == plugin::Kind::Cipher && p->provides(algorithm)) return true;
  }
  return false;
}

// The config's cipher list resolved to plugins, and the channel mode. The default list is
// chacha20-poly1305 (required: v1 peers speak nothing else), then aes-256-gcm when present.
bool resolve_ciphers(const detail::StackAssembly& assembly, const config::ClientConfig& config,
                     Stack& s, std::string& error) {
  auto list = config.ciphers;
  if (list.empty()) {
    list.push_back({std::string(handshake::kV1Cipher), {}});
    if (provided(assembly, "aes-256-gcm")) list.push_back({"aes-256-gcm", {}});
  }
  s.channel_mode = config.channel == "v1"           ? handshake::ChannelMode::V1
                   : config.channel == "negotiated" ? handshake::ChannelMode::Negotiated
                                                    : handshake::ChannelMode::Auto;
  for (const auto& choice : list) {
    Stack::Cipher c;
    c.algorithm = choice.algorithm;
    c.factory = pick_cipher(assembly, choice, s, c.candidates, error);
    if (!c.factory) return false;
    if (c.algorithm == handshake::kV1Cipher) s.cipher = c.factory;
    s.ciphers.push_back(std::move(c));
  }
  if (!s.cipher && s.channel_mode != handshake::ChannelMode::Negotiated) {
    error = "ciphers: without " + std::string(handshake::kV1Cipher) +
            " no v1 peer can be reached; add it or set \"channel\": \"negotiated\"";
    return false;
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Stack assembly

std::shared_ptr<Stack> assemble(const config::ClientConfig& config, std::string& error) {
  auto s = std::make_shared<Stack>();
  detail::StackAssembly stack(config.plugin_dirs, config.plugin_pins);
  s->warnings = stack.warnings;
  s->mux = stack.mux(config.mux, config.mux_settings, error);
  if (!s->mux) return nullptr;
  s->mux_settings = config.mux_settings;
  if (!resolve_ciphers(stack, config, *s, error)) return nullptr;
  for (const auto& text : config.relays) {
    transport::Settings settings;
    auto tf = stack.transport(text, "relays", config.transport_settings, settings, error);
    if (!tf) return nullptr;
    const auto scheme = transport::parse_uri(text)->scheme;
    if (auto pin = config.relay_pins.find(text); pin != config.relay_pins.end()) {
      auto own = settings;
      own["spki_sha256"] = pin->second;
      std::string problem;
      if (!tf->validate(own, problem)) {
        error = "relay_pins." + text + ": " + problem;
        return nullptr;
      }
      s->relay_settings[text] = std::move(own);
    }
    s->transport_settings[scheme] = std::move(settings);
  }
  s->host = std::move(stack.host);
  return s;
}

void use_ciphers(const Stack& stack, stream::SecureStreamConfig& secure) {
  secure.cipher = stack.cipher;
  secure.algorithm = stack.cipher_name;
  secure.channel_mode = stack.channel_mode;
  secure.ciphers.clear();
  for (const auto& c : stack.ciphers) secure.ciphers.push_back({c.algorithm, c.factory});
}

// ---------------------------------------------------------------------------------------------
// State: the decisions are ClientCore's (core.hpp); this is its Asio driver.

namespace {

// One relay's I/O side. Its state (up, backoff, lease, health) is the core's.
struct Link {
  std::string uri_text;
  transport::Uri uri;
  std::shared_ptr<transport::TransportFactory> transport;
  transport::Settings settings;
  std::shared_ptr<mux::Session> session;  // the core's current session, while it is up
};

}  // namespace

struct Listener::Impl {
  Impl(const asio::any_io_executor& ex) : ready(ex) {}
  std::weak_ptr<Client::Impl> client;
  std::string name;
  std::vector<std::string> alpns;
  std::deque<std::unique_ptr<stream::SecureStream>> queue;
  stream::AsyncSignal ready;
  bool closed = false;
  handshake::ReplayCache replay;

  // Stops accepting: queued connections are closed and a pending accept() wakes with Closed.
  // Returns false when it was already stopped.
  bool stop() noexcept {
    if (closed) return false;
    closed = true;
    for (auto& s : queue) s->close();
    queue.clear();
    ready.notify();
    return true;
  }
};

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
  Impl(asio::any_io_executor executor, identity::Credential credential,
       std::shared_ptr<Stack> plugins, Options options)
      : ex(std::move(executor)),
        cred(std::move(credential)),
        stack(std::move(plugins)),
        o(std::move(options)),
        core_timer(ex),
        changed(ex) {
    secure.credential = &cred;
    use_ciphers(*stack, secure);
    secure.random = o.random;
    secure.clock = o.clock;
    secure.handshake_timeout = milliseconds(o.timers.handshake_timeout_ms);
    ClientCore::Config c;
    c.relays = o.relays;
    c.timers = o.timers;
    c.own_id = cred.id();
    c.random = o.random;
    core = std::make_unique<ClientCore>(std::move(c));
  }

  asio::any_io_executor ex;
  identity::Credential cred;
  std::shared_ptr<Stack> stack;
  Options o;
  stream::SecureStreamConfig secure;
  std::unique_ptr<ClientCore> core;
  std::vector<std::shared_ptr<Link>> links;
  std::shared_ptr<Listener::Impl> listener;
  std::function<void(const RelayEvent&)> on_event;
  asio::steady_timer core_timer;  // the core's next deadline
  stream::AsyncSignal changed;    // after every core call: for those who wait on its state
  bool closed = false;

  milliseconds request_timeout() const { return milliseconds(o.timers.request_timeout_ms); }
  base::Now now() const { return base::now_of(*o.clock); }

  void emit(const Link& l, bool up, const std::string& detail) {
    clog(up ? base::LogLevel::Info : base::LogLevel::Warn,
         "relay " + l.uri_text + (up ? " up (relay " + detail + ")" : " down: " + detail));
    // A copy: the callback may replace itself or close the client while it runs.
    if (auto cb = on_event) {
      try {
        cb(RelayEvent{l.uri_text, up, detail});
      } catch (...) {
        clog(base::LogLevel::Error, "the relay event callback threw; ignored");
      }
    }
  }

  // After every call into the core: performs what it asks for, re-arms its timer, and wakes
  // whoever waits on its state.
  void apply() {
    for (auto& a : core->take_actions()) perform(std::move(a));
    core_timer.cancel();
    changed.notify();
  }

  // A co_spawn completion that logs a task's exception (as stream::logged does) and then tells
  // the core, through `failed`, that the outcome it waits for failed.
  template <class Failed>
  auto reported(const char* task, Failed failed) {
    return [self = shared_from_this(), task, failed](std::exception_ptr e) {
      if (!e) return;
      stream::logged("client", task)(e);
      if (self->closed) return;
      failed();
      self->apply();
    };
  }

  void perform(Action a) {
    auto self = shared_from_this();
    auto& l = *links.at(a.relay);
    switch (a.kind) {
      case Action::Kind::Connect:
        if (closed) return;
        // Each task reports its outcome to the core; one that throws reports a failure, so the
        // core never waits for an outcome that will not come.
        asio::co_spawn(ex, attempt(self, a.relay, a.session),
                       reported("relay connect", [self, i = a.relay, no = a.session] {
                         self->core->connect_failed(i, no, "internal error", self->now());
                       }));
        break;
      case Action::Kind::Register:
        // Not if a callback stopped the listener since the core asked (its delete went first).
        if (!core->listening() || !core->relay(a.relay).registering ||
            core->relay(a.relay).session != a.session) {
          break;
        }
        asio::co_spawn(ex, register_on(self, a.relay, a.session, std::move(a.lease)),
                       reported("lease registration", [self, i = a.relay, no = a.session] {
                         self->core->registered(i, no, std::nullopt, "internal error", self->now());
                       }));
        break;
      case Action::Kind::Delete:
        asio::co_spawn(ex, delete_on(self, a.relay, a.session),
                       reported("lease delete", [self, i = a.relay, no = a.session] {
                         self->core->deleted(i, no, "internal error");
                       }));
        break;
      case Action::Kind::Ping:
        asio::co_spawn(ex, ping(self, a.relay, a.session),
                       reported("health ping", [self, i = a.relay, no = a.session] {
                         self->core->ping_failed(i, no, "internal error", self->now());
                       }));
        break;
      case Action::Kind::Close:
        if (l.session) l.session->close();
        break;
      case Action::Kind::Up: emit(l, true, a.detail); break;
      case Action::Kind::Down:
        l.session.reset();
        if (!closed) emit(l, false, a.detail);
        break;
    }
  }

  // The session for an action of the core's `session` on relay `i`, or null when it is gone.
  std::shared_ptr<mux::Session> session_for(std::size_t i, std::uint64_t session) const {
    if (core->relay(i).session != session) return nullptr;
    return links[i]->session;
  }

  // Wakes at the core's next deadline (or when apply() re-arms it) and lets it act.
  static asio::awaitable<void> timer_loop(std::shared_ptr<Impl> self) {
    while (!self->closed) {
      const auto next = self->core->next_deadline();
      if (next) {
        self->core_timer.expires_after(*next - self->o.clock->steady_now());
      } else {
        self->core_timer.expires_at(Steady::time_point::max());
      }
      (void)co_await self->core_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (self->closed) break;
      self->core->tick(self->now());
      self->apply();
    }
  }

  // ---- relay links ----------------------------------------------------------------------

  // One connection attempt: transport, mux session, RelayInfo (the relay's ID, and proof that
  // it answers). The core then decides what follows (the lease, pings).
  static asio::awaitable<void> attempt(std::shared_ptr<Impl> self, std::size_t i,
                                       std::uint64_t no) {
    auto l = self->links[i];
    auto fail = [&](std::string why) {
      self->core->connect_failed(i, no, std::move(why), self->now());
      self->apply();
    };
    auto st = co_await l->transport->async_connect(self->ex, l->uri, l->settings);
    if (self->closed) co_return;
    if (!st) co_return fail(st.error().message());
    auto session =
        self->stack->mux->create(std::move(*st), mux::Role::Client, self->stack->mux_settings);
    if (!session) co_return fail("mux: " + session.error().message());
    auto info = co_await client::relay_info(**session, self->request_timeout());
    if (self->closed || !info) {
      (*session)->close();
      if (self->closed) co_return;
      co_return fail("RelayInfo: " + info.error().message());
    }
    if (self->core->relay(i).session != no ||
        self->core->relay(i).phase != RelayState::Phase::Connecting) {  // stale
      (*session)->close();
      co_return;
    }
    l->session = *session;
    self->core->connected(i, no, info->identity ? info->identity->id : std::string(), self->now());
    // The watch starts after the core knows the session is up, so that a session that ended
    // already is reported as such (async_wait_closed() returns at once then).
    asio::co_spawn(self->ex, accept_loop(self, i, l->session),
                   stream::logged("client", "accept loop"));
    asio::co_spawn(self->ex, watch(self, i, no, l->session),
                   stream::logged("client", "session end watch"));
    self->apply();
  }

  // Reports the end of a session to the core.
  static asio::awaitable<void> watch(std::shared_ptr<Impl> self, std::size_t i, std::uint64_t no,
                                     std::shared_ptr<mux::Session> session) {
    const auto reason = co_await session->async_wait_closed();
    if (self->closed) co_return;
    self->core->session_closed(i, no, reason ? reason.message() : "session closed", self->now());
    self->apply();
  }

  static asio::awaitable<void> ping(std::shared_ptr<Impl> self, std::size_t i, std::uint64_t no) {
    auto session = self->session_for(i, no);
    if (!session) co_return;
    auto rtt = co_await session->async_ping();  // its deadline is the core's
    if (self->closed) co_return;
    if (rtt) {
      self->core->ping_answered(i, no, self->now());
    } else if (session->is_open()) {  // a closed session is the watch's to report, with its reason
      self->core->ping_failed(i, no, rtt.error().message(), self->now());
    }
    self->apply();
  }

  // ---- the listener ---------------------------------------------------------------------

  static asio::awaitable<void> register_on(std::shared_ptr<Impl> self, std::size_t i,
                                           std::uint64_t no, wire::Lease lease) {
    auto session = self->session_for(i, no);
    if (!session) co_return;
    auto code = co_await update_lease(*session, self->cred, std::move(lease), *self->o.random,
                                      *self->o.clock, self->request_timeout());
    if (self->closed) co_return;
    self->core->registered(i, no, code ? std::optional(*code) : std::nullopt,
                           code ? std::string() : code.error().message(), self->now());
    self->apply();
  }

  static asio::awaitable<void> delete_on(std::shared_ptr<Impl> self, std::size_t i,
                                         std::uint64_t no) {
    auto session = self->session_for(i, no);
    if (!session) {
      self->core->deleted(i, no, {});
      self->apply();
      co_return;
    }
    auto code = co_await delete_lease(*session, self->cred, *self->o.random, *self->o.clock,
                                      self->request_timeout());
    self->core->deleted(i, no, code ? std::string() : code.error().message());
    self->apply();
  }

  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self, std::size_t i,
                                           std::shared_ptr<mux::Session> session) {
    for (;;) {
      auto s = co_await session->async_accept();
      if (!s || self->closed) break;
      asio::co_spawn(self->ex, incoming(self, i, std::move(*s)),
                     stream::logged("client", "incoming connection"));
    }
  }

  // A connection request the relay forwarded (portal-v1 §7 step 4, then §8 as the server).
  static asio::awaitable<void> incoming(std::shared_ptr<Impl> self, std::size_t i,
                                        std::unique_ptr<stream::ByteStream> s) {
    const auto& uri = self->links[i]->uri_text;
    auto in = co_await read_incoming(std::move(s), self->request_timeout());
    if (!in) {
      clog(base::LogLevel::Debug,
           "relay " + uri + ": bad forwarded request: " + in.error().message());
      co_return;
    }
    auto li = self->listener;
    const auto code = !li || li->closed || self->closed
                          ? wire::ResponseCode::Rejected
                          : self->core->incoming_request(in->request.lease_id);
    // An accepted request holds a place in the core's queue until it ends, however it ends
    // (an exception included).
    struct Place {
      ClientCore* core = nullptr;
      bool queued = false;
      ~Place() {
        if (core != nullptr) core->incoming_ended(queued);
      }
    } place{code == wire::ResponseCode::Accepted ? self->core.get() : nullptr};
    auto answered = co_await answer_incoming(std::move(*in), code);
    if (code != wire::ResponseCode::Accepted || !answered || !*answered) co_return;
    auto secure = co_await stream::async_secure_accept(std::move(*answered), self->secure,
                                                       li->alpns, li->replay);
    if (!secure) {
      clog(base::LogLevel::Info,
           "incoming handshake via " + uri + " failed: " + secure.error().message());
      co_return;
    }
    if (li->closed || self->listener != li) {
      (*secure)->close();
      co_return;
    }
    place.queued = true;
    li->queue.push_back(std::move(*secure));
    li->ready.notify();
  }

  // ---- shutting down --------------------------------------------------------------------

  void close_now() noexcept {
    closed = true;
    on_event = nullptr;
    core_timer.cancel();
    changed.notify();
    if (listener) {
      listener->stop();
      listener.reset();
    }
    for (auto& l : links) {
      if (l->session) l->session->close();
    }
  }

  // After li->stop(): deletes its lease on every relay that is up and forgets it.
  asio::awaitable<void> retire(std::shared_ptr<Listener::Impl> li) {
    if (listener != li) co_return;
    auto self = shared_from_this();
    core->stop_listening(now());
    apply();
    const auto deleting = [this] {
      for (std::size_t i = 0; i < core->relay_count(); ++i) {
        if (core->relay(i).deleting) return true;
      }
      return false;
    };
    while (!closed && deleting()) co_await changed.wait();
    if (listener == li) listener.reset();
  }
};

// ---------------------------------------------------------------------------------------------
// Listener

Listener::Listener(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Listener::~Listener() {
  // Dropped without close(): close it in the background (stop accepting, delete the lease), or
  // the client would keep renewing a lease nobody accepts from.
  auto li = impl_;
  if (!li->stop()) return;
  auto client = li->client.lock();
  if (!client || client->listener != li || client->closed) return;
  asio::co_spawn(
      client->ex, [client, li]() -> asio::awaitable<void> { co_await client->retire(li); },
      stream::logged("client", "listener close"));
}

asio::awaitable<base::Result<std::unique_ptr<stream::SecureStream>>> Listener::accept() {
  auto li = impl_;
  for (;;) {
    if (!li->queue.empty()) {
      auto s = std::move(li->queue.front());
      li->queue.pop_front();
      if (auto client = li->client.lock()) client->core->incoming_taken();
      co_return s;
    }
    if (li->closed) co_return make_error_code(Errc::Closed);
    co_await li->ready.wait();
  }
}

asio::awaitable<void> Listener::close() {
  auto li = impl_;
  if (!li->stop()) co_return;
  if (auto client = li->client.lock()) co_await client->retire(li);
}

const std::string& Listener::name() const noexcept { return impl_->name; }
const std::vector<std::string>& Listener::alpns() const noexcept { return impl_->alpns; }

std::vector<std::string> Listener::registered_on() const {
  std::vector<std::string> out;
  auto client = impl_->client.lock();
  if (!client || client->listener != impl_) return out;
  for (std::size_t i = 0; i < client->links.size(); ++i) {
    const auto& r = client->core->relay(i);
    if (r.phase == RelayState::Phase::Up && r.lease_accepted)
      out.push_back(client->links[i]->uri_text);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Client

Client::Client(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() { impl_->close_now(); }

const identity::Credential& Client::credential() const noexcept { return impl_->cred; }

asio::awaitable<base::Result<std::shared_ptr<Client>>> Client::connect(
    asio::any_io_executor executor, identity::Credential credential, std::shared_ptr<Stack> stack,
    Options options, std::string* detail) {
  if (!stack || !stack->host || !stack->mux || (!stack->cipher && stack->ciphers.empty())) {
    co_return make_error_code(Errc::NoRelay);
  }
  if (options.relays.empty()) {
    if (detail) *detail = "no relay given";
    co_return make_error_code(Errc::NoRelay);
  }
  auto impl =
      std::make_shared<Impl>(executor, std::move(credential), std::move(stack), std::move(options));
  for (const auto& text : impl->o.relays) {
    auto l = std::make_shared<Link>();
    l->uri_text = text;
    auto uri = transport::parse_uri(text);
    if (!uri) {
      if (detail) *detail = text + ": " + uri.error().message();
      co_return uri.error();
    }
    auto tf = transport::resolve(*impl->stack->host, text);
    if (!tf) {
      if (detail) *detail = text + ": " + tf.error().message();
      co_return tf.error();
    }
    l->uri = *uri;
    l->transport = *tf;
    if (auto own = impl->stack->relay_settings.find(text);
        own != impl->stack->relay_settings.end()) {
      l->settings = own->second;
    } else if (auto it = impl->stack->transport_settings.find(uri->scheme);
               it != impl->stack->transport_settings.end()) {
      l->settings = it->second;
    }
    impl->links.push_back(std::move(l));
  }
  // Every relay is tried at once; the client starts as soon as one is up (a slow or
  // black-holed relay does not hold it back) and fails only when every first attempt failed.
  // The core then keeps each relay connected.
  asio::co_spawn(executor, Impl::timer_loop(impl), stream::logged("client", "core timer"));
  impl->core->start(impl->now());
  impl->apply();
  while (!impl->core->any_up() && !impl->core->all_attempted()) co_await impl->changed.wait();
  std::string why;
  for (std::size_t i = 0; i < impl->links.size(); ++i) {
    const auto& r = impl->core->relay(i);
    if (r.phase != RelayState::Phase::Up && !r.last_error.empty()) {
      why += (why.empty() ? "" : "; ") + impl->links[i]->uri_text + ": " + r.last_error;
    }
  }
  if (!impl->core->any_up()) {
    impl->close_now();
    if (detail) *detail = why;
    co_return make_error_code(Errc::NoRelay);
  }
  if (!why.empty()) clog(base::LogLevel::Warn, "not connected yet: " + why);
  co_return std::make_shared<Client>(impl);
}

asio::awaitable<base::Result<std::shared_ptr<Listener>>> Client::listen(
    std::string name, std::vector<std::string> alpns, std::string metadata, std::string* detail) {
  auto impl = impl_;
  if (impl->closed) co_return make_error_code(Errc::Closed);
  if (!lease::is_valid_name(name)) co_return make_error_code(Errc::InvalidName);
  if (alpns.empty() ||
      std::any_of(alpns.begin(), alpns.end(), [](const std::string& a) { return a.empty(); })) {
    co_return make_error_code(Errc::InvalidTarget);
  }
  if (impl->listener) co_return make_error_code(Errc::AlreadyListening);
  if (!impl->core->any_up()) co_return make_error_code(Errc::NoRelay);
  auto li = std::make_shared<Listener::Impl>(impl->ex);
  li->client = impl;
  li->name = name;
  li->alpns = alpns;
  impl->listener = li;
  if (auto ok = impl->core->listen(
          LeaseSpec{std::move(name), std::move(alpns), std::move(metadata)}, impl->now());
      !ok) {
    impl->listener.reset();
    co_return ok.error();
  }
  impl->apply();
  // Every relay up now answers (or goes down) before listen() returns.
  const auto registering = [&impl] {
    for (std::size_t i = 0; i < impl->core->relay_count(); ++i) {
      if (impl->core->relay(i).registering) return true;
    }
    return false;
  };
  while (!impl->closed && registering()) co_await impl->changed.wait();
  if (impl->closed || impl->listener != li) co_return make_error_code(Errc::Closed);
  bool any = false;
  std::string why;
  for (std::size_t i = 0; i < impl->links.size(); ++i) {
    const auto& r = impl->core->relay(i);
    if (r.phase != RelayState::Phase::Up) continue;
    any = any || r.lease_accepted;
    if (!r.lease_accepted) {
      why += (why.empty() ? "" : "; ") + impl->links[i]->uri_text + ": " +
             (r.last_code == wire::ResponseCode::Unknown ? std::string("no answer")
                                                         : wire::to_string(r.last_code));
    }
  }
  if (!any) {
    li->closed = true;
    impl->core->stop_listening(impl->now());
    impl->apply();
    impl->listener.reset();
    if (detail) *detail = why;
    co_return make_error_code(Errc::LeaseRefused);
  }
  co_return std::make_shared<Listener>(li);
}

asio::awaitable<std::vector<RelayInfoResult>> Client::relay_info() {
  auto impl = impl_;
  std::vector<std::shared_ptr<Link>> up;
  for (auto& l : impl->links) {
    if (l->session) up.push_back(l);
  }
  // Shared with the tasks: they may outlive this frame if the caller stops waiting.
  auto out = std::make_shared<std::vector<RelayInfoResult>>();
  out->reserve(up.size());
  for (auto& l : up) {
    out->push_back(RelayInfoResult{l->uri_text, make_error_code(Errc::NoRelay)});
  }
  std::vector<std::function<asio::awaitable<void>()>> tasks;
  for (std::size_t i = 0; i < up.size(); ++i) {
    tasks.push_back([impl, l = up[i], out, i]() -> asio::awaitable<void> {
      auto session = l->session;
      if (!session) co_return;
      auto info = co_await client::relay_info(*session, impl->request_timeout());
      (*out)[i].info = std::move(info);
    });
  }
  co_await all_of(impl->ex, std::move(tasks));
  co_return std::move(*out);
}

namespace {

std::vector<Listing> listings_of(const std::vector<RelayInfoResult>& infos) {
  std::vector<Listing> out;
  for (const auto& r : infos) out.push_back(Listing{r.relay, r.info ? &*r.info : nullptr});
  return out;
}

// "relay: error; relay: error" for the relays that did not answer RelayInfo.
std::string unanswered(const std::vector<RelayInfoResult>& infos) {
  std::string out;
  for (const auto& r : infos) {
    if (!r.info) out += (out.empty() ? "" : "; ") + r.relay + ": " + r.info.error().message();
  }
  return out;
}

// ADR 0016: each relay that advertises lookups and does not list `target` is asked for it, in
// parallel; its answer then stands for its listing. A failed lookup leaves the RelayInfo as is.
asio::awaitable<void> look_up(const std::shared_ptr<Client::Impl>& impl,
                              std::vector<RelayInfoResult>& infos, const std::string& target) {
  const auto needed = lookups_needed(listings_of(infos), target);
  if (needed.empty()) co_return;
  auto answers =
      std::make_shared<std::vector<std::optional<wire::LeaseLookupResponse>>>(needed.size());
  std::vector<std::function<asio::awaitable<void>()>> tasks;
  for (std::size_t k = 0; k < needed.size(); ++k) {
    std::shared_ptr<mux::Session> session;
    for (const auto& l : impl->links) {
      if (l->uri_text == infos[needed[k]].relay) session = l->session;
    }
    if (!session) continue;
    tasks.push_back([impl, session, answers, k, target]() -> asio::awaitable<void> {
      auto answer = co_await client::lease_lookup(*session, target, impl->request_timeout());
      if (answer) (*answers)[k] = std::move(*answer);
    });
  }
  co_await all_of(impl->ex, std::move(tasks));
  for (std::size_t k = 0; k < needed.size(); ++k) {
    auto& info = infos[needed[k]].info;
    if ((*answers)[k] && info) info = with_lookup(std::move(*info), *(*answers)[k]);
  }
}

}  // namespace

asio::awaitable<base::Result<Found>> Client::lookup(std::string name) {
  auto infos = co_await relay_info();
  co_await look_up(impl_, infos, name);
  if (infos.empty()) co_return make_error_code(Errc::NoRelay);
  auto found = resolve_target(listings_of(infos), name);
  if (found) co_return std::move(found->front());
  // Not found anywhere: when no relay answered at all, say so instead.
  const bool any_answer = std::any_of(infos.begin(), infos.end(),
                                      [](const RelayInfoResult& r) { return bool(r.info); });
  if (!any_answer && found.error() == Errc::NotFound) co_return infos.front().info.error();
  co_return found.error();
}

asio::awaitable<base::Result<std::unique_ptr<stream::SecureStream>>> Client::dial(
    std::string target, std::string alpn, std::string* detail) {
  auto impl = impl_;
  if (impl->closed) co_return make_error_code(Errc::Closed);
  if (target.empty() || alpn.empty()) co_return make_error_code(Errc::InvalidTarget);
  auto infos = co_await relay_info();
  if (infos.empty()) co_return make_error_code(Errc::NoRelay);
  co_await look_up(impl, infos, target);

  const std::string unreachable = unanswered(infos);
  const bool any_answer = std::any_of(infos.begin(), infos.end(),
                                      [](const RelayInfoResult& r) { return bool(r.info); });
  if (!any_answer) {
    if (detail) *detail = "no relay answered RelayInfo: " + unreachable;
    co_return infos.front().info.error();
  }
  std::string why;
  auto resolved = resolve_target(listings_of(infos), target, &why);
  if (!resolved) {
    if (detail) {
      *detail = why;
      if (resolved.error() == Errc::NotFound) {
        *detail += " on " + std::to_string(infos.size()) + " connected relay(s)";
      }
      if (!unreachable.empty()) *detail += " (no answer from " + unreachable + ")";
    }
    co_return resolved.error();
  }
  const auto candidates = plan_dial(*resolved, alpn, [&impl](const std::string& relay) {
    for (const auto& l : impl->links) {
      if (l->uri_text == relay) return l->session != nullptr;
    }
    return false;
  });

  base::ErrorCode last;
  std::string tried;
  auto note = [&](const Found& c, const std::string& what) {
    tried += (tried.empty() ? "" : "; ") + c.relay + ": " + what;
  };
  for (auto& candidate : candidates) {
    const Found& c = candidate.found;
    if (!candidate.skipped.empty()) {
      last = candidate.error;
      note(c, candidate.skipped);
      continue;
    }
    const std::string lease_id = c.lease.identity->id;
    std::shared_ptr<mux::Session> session;
    for (auto& l : impl->links) {
      if (l->uri_text == c.relay) session = l->session;
    }
    if (!session) {
      last = make_error_code(Errc::NoRelay);
      note(c, "went down");
      continue;
    }
    auto dialed = co_await request_connection(*session, lease_id, impl->cred.identity(),
                                              impl->request_timeout());
    if (!dialed) {
      last = dialed.error();
      note(c, "connection request: " + last.message());
      continue;
    }
    if (dialed->code == wire::ResponseCode::Rejected) {
      last = make_error_code(Errc::HolderRefused);
      note(c, "the lease holder refused (REJECTED)");
      continue;
    }
    if (dialed->code != wire::ResponseCode::Accepted) {
      last = make_error_code(Errc::LeaseGone);
      note(c, std::string("the relay answered ") + wire::to_string(dialed->code));
      continue;
    }
    auto secure = co_await stream::async_secure_connect(std::move(dialed->stream), impl->secure,
                                                        lease_id, alpn);
    if (!secure) {
      last = secure.error();
      note(c, "handshake: " + last.message());
      continue;
    }
    co_return std::move(*secure);
  }
  if (detail) *detail = tried;
  co_return last;
}

std::vector<RelayStatus> Client::relays() const {
  std::vector<RelayStatus> out;
  for (std::size_t i = 0; i < impl_->links.size(); ++i) {
    const auto& r = impl_->core->relay(i);
    out.push_back(RelayStatus{impl_->links[i]->uri_text, r.phase == RelayState::Phase::Up,
                              r.relay_id, r.last_error});
  }
  return out;
}

void Client::on_relay_event(std::function<void(const RelayEvent&)> callback) {
  impl_->on_event = std::move(callback);
}

asio::awaitable<void> Client::close() {
  auto impl = impl_;
  if (impl->closed) co_return;
  if (auto li = impl->listener) {
    li->stop();
    co_await impl->retire(li);
  }
  impl->close_now();
}

}  // namespace portal::client
