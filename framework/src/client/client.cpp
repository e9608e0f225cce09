// SPDX-License-Identifier: Apache-2.0
// The client SDK: relay links (connect, health, reconnect with backoff), the lease listener
// (register, renew, answer forwarded requests, handshake, queue), dial and lookup.

#include "portal/client/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <deque>
#include <set>

#include "detail/stack_assembly.hpp"
#include "portal/base/log.hpp"
#include "portal/client/control.hpp"
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

const char* code_name(wire::ResponseCode code) {
  switch (code) {
    case wire::ResponseCode::Accepted: return "ACCEPTED";
    case wire::ResponseCode::Rejected: return "REJECTED";
    case wire::ResponseCode::InvalidIdentity: return "INVALID_IDENTITY";
    case wire::ResponseCode::InvalidName: return "INVALID_NAME";
    default: return "UNKNOWN";
  }
}

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
  s->cipher = stack.find<cipher::AeadFactory>(plugin::Kind::Cipher, config.cipher, "cipher",
                                              "cipher", error);
  if (!s->cipher) return nullptr;
  s->cipher_name = config.cipher;
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

// ---------------------------------------------------------------------------------------------
// State

namespace {

struct Link {
  std::string uri_text;
  transport::Uri uri;
  std::shared_ptr<transport::TransportFactory> transport;
  transport::Settings settings;
  std::shared_ptr<mux::Session> session;  // null while down
  bool up = false;
  std::string relay_id;
  std::string last_error;
  bool lease_accepted = false;  // the listener's lease, on the current session
  wire::ResponseCode last_code = wire::ResponseCode::Unknown;
  std::unique_ptr<asio::steady_timer> wait;  // reconnect delay and health interval
};

}  // namespace

struct Listener::Impl {
  Impl(const asio::any_io_executor& ex, std::size_t limit) : ready(ex), queue_limit(limit) {}
  std::weak_ptr<Client::Impl> client;
  std::string name;
  std::vector<std::string> alpns;
  std::string metadata;
  std::deque<std::unique_ptr<stream::SecureStream>> queue;
  stream::AsyncSignal ready;
  std::size_t queue_limit;
  std::size_t handshaking = 0;
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
        renew_timer(ex) {
    secure.credential = &cred;
    secure.cipher = stack->cipher;
    secure.algorithm = stack->cipher_name;
    secure.random = o.random;
    secure.clock = o.clock;
    secure.handshake_timeout = milliseconds(o.timers.handshake_timeout_ms);
  }

  asio::any_io_executor ex;
  identity::Credential cred;
  std::shared_ptr<Stack> stack;
  Options o;
  stream::SecureStreamConfig secure;
  std::vector<std::shared_ptr<Link>> links;
  std::shared_ptr<Listener::Impl> listener;
  std::function<void(const RelayEvent&)> on_event;
  asio::steady_timer renew_timer;
  bool closed = false;

  milliseconds request_timeout() const { return milliseconds(o.timers.request_timeout_ms); }

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

  // The next reconnect delay: `base` varied by ± jitter percent.
  milliseconds jittered(milliseconds base) {
    std::uint32_t r = 0;
    base::Byte b[4]{};
    if (o.random->fill(b)) {
      r = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
          std::uint32_t{b[3]};
    }
    const double u = static_cast<double>(r) / 4294967295.0;  // [0, 1]
    const double j = o.timers.reconnect_jitter_percent / 100.0;
    return milliseconds(
        static_cast<std::int64_t>(static_cast<double>(base.count()) * (1.0 + j * (2 * u - 1))));
  }

  // ---- relay links ----------------------------------------------------------------------

  // One connection attempt: transport, mux session, RelayInfo (the relay's ID, and proof that
  // it answers), then the listener's lease.
  asio::awaitable<bool> attempt(std::shared_ptr<Link> l) {
    auto st = co_await l->transport->async_connect(ex, l->uri, l->settings);
    if (closed) co_return false;
    if (!st) {
      l->last_error = st.error().message();
      co_return false;
    }
    auto session = stack->mux->create(std::move(*st), mux::Role::Client, stack->mux_settings);
    if (!session) {
      l->last_error = "mux: " + session.error().message();
      co_return false;
    }
    auto info = co_await client::relay_info(**session, request_timeout());
    if (closed || !info) {
      (*session)->close();
      l->last_error = closed ? "closed" : "RelayInfo: " + info.error().message();
      co_return false;
    }
    l->session = *session;
    l->relay_id = info->identity ? info->identity->id : std::string();
    l->up = true;
    l->last_error.clear();
    l->lease_accepted = false;
    emit(*l, true, l->relay_id);
    asio::co_spawn(ex, accept_loop(shared_from_this(), l, l->session),
                   stream::logged("client", "accept loop"));
    if (listener && !listener->closed) co_await register_on(l);
    co_return true;
  }

  // Keeps one relay connected for the client's lifetime.
  static asio::awaitable<void> run_link(std::shared_ptr<Impl> self, std::shared_ptr<Link> l,
                                        bool connected) {
    auto backoff = milliseconds(self->o.timers.reconnect_initial_ms);
    const auto max = milliseconds(self->o.timers.reconnect_max_ms);
    while (!self->closed) {
      if (!connected) {
        l->wait->expires_after(self->jittered(backoff));
        (void)co_await l->wait->async_wait(asio::as_tuple(asio::use_awaitable));
        if (self->closed) break;
        if (!co_await self->attempt(l)) {
          clog(base::LogLevel::Debug, "relay " + l->uri_text + ": " + l->last_error);
          backoff = std::min(backoff * 2, max);
          continue;
        }
      }
      connected = false;
      backoff = milliseconds(self->o.timers.reconnect_initial_ms);
      auto session = l->session;
      asio::co_spawn(self->ex, health_loop(self, l, session),
                     stream::logged("client", "health ping"));
      const auto reason = co_await session->async_wait_closed();
      if (l->session == session) {
        l->session.reset();
        l->up = false;
        l->lease_accepted = false;
        l->last_error = reason ? reason.message() : "session closed";
        if (!self->closed) self->emit(*l, false, l->last_error);
      }
    }
  }

  // Pings the relay every health interval; a ping that fails or takes longer than the health
  // timeout ends the session (and run_link reconnects).
  static asio::awaitable<void> health_loop(std::shared_ptr<Impl> self, std::shared_ptr<Link> l,
                                           std::shared_ptr<mux::Session> session) {
    auto timer = std::make_shared<asio::steady_timer>(self->ex);
    // Wake early when the session ends, so a dead session does not keep this loop waiting.
    asio::co_spawn(
        self->ex,
        [session, timer]() -> asio::awaitable<void> {
          (void)co_await session->async_wait_closed();
          timer->cancel();
        },
        stream::logged("client", "session end watch"));
    while (!self->closed && session->is_open()) {
      timer->expires_after(milliseconds(self->o.timers.health_interval_ms));
      (void)co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
      if (self->closed || !session->is_open()) break;
      base::Result<std::chrono::nanoseconds> rtt = std::chrono::nanoseconds{0};
      bool timed_out = false;
      {
        stream::Deadline deadline(self->ex, milliseconds(self->o.timers.health_timeout_ms),
                                  [session] { session->close(); });
        rtt = co_await session->async_ping();
        timed_out = deadline.expired();
      }
      if (!rtt || timed_out) {
        clog(base::LogLevel::Warn,
             "relay " + l->uri_text + ": health ping failed: " +
                 (timed_out ? std::string("no answer in time") : rtt.error().message()));
        session->close();
        break;
      }
    }
  }

  // ---- the listener ---------------------------------------------------------------------

  asio::awaitable<wire::ResponseCode> register_on(std::shared_ptr<Link> l) {
    auto li = listener;
    auto session = l->session;
    if (!li || li->closed || !session) co_return wire::ResponseCode::Unknown;
    wire::Lease lease;
    lease.name = li->name;
    lease.alpn = li->alpns;
    lease.metadata = li->metadata;
    lease.expires = base::unix_seconds(o.clock->system_now()) + o.timers.lease_ttl_s;
    auto code = co_await update_lease(*session, cred, std::move(lease), *o.random, *o.clock,
                                      request_timeout());
    // Went down meanwhile, or the listener closed (its delete must not be undone here).
    if (l->session != session || li->closed) co_return wire::ResponseCode::Unknown;
    const auto got = code ? *code : wire::ResponseCode::Unknown;
    const bool accepted = got == wire::ResponseCode::Accepted;
    if (accepted != l->lease_accepted || got != l->last_code) {
      if (accepted) {
        clog(base::LogLevel::Info, "lease '" + li->name + "' registered on " + l->uri_text);
      } else {
        clog(base::LogLevel::Warn,
             "lease '" + li->name + "' not registered on " + l->uri_text + ": " +
                 (code ? std::string(code_name(got)) : code.error().message()));
      }
    }
    l->lease_accepted = accepted;
    l->last_code = got;
    co_return got;
  }

  static asio::awaitable<void> renew_loop(std::shared_ptr<Impl> self) {
    while (!self->closed) {
      self->renew_timer.expires_after(milliseconds(self->o.timers.renew_interval_ms));
      (void)co_await self->renew_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (self->closed) break;
      if (!self->listener || self->listener->closed) continue;
      std::vector<std::function<asio::awaitable<void>()>> tasks;
      for (auto& l : self->links) {
        if (!l->up) continue;
        tasks.push_back(
            [self, l]() -> asio::awaitable<void> { (void)co_await self->register_on(l); });
      }
      co_await all_of(self->ex, std::move(tasks));
    }
  }

  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self, std::shared_ptr<Link> l,
                                           std::shared_ptr<mux::Session> session) {
    for (;;) {
      auto s = co_await session->async_accept();
      if (!s || self->closed) break;
      asio::co_spawn(self->ex, incoming(self, l, std::move(*s)),
                     stream::logged("client", "incoming connection"));
    }
  }

  // A connection request the relay forwarded (portal-v1 §7 step 4, then §8 as the server).
  static asio::awaitable<void> incoming(std::shared_ptr<Impl> self, std::shared_ptr<Link> l,
                                        std::unique_ptr<stream::ByteStream> s) {
    auto in = co_await read_incoming(std::move(s), self->request_timeout());
    if (!in) {
      clog(base::LogLevel::Debug,
           "relay " + l->uri_text + ": bad forwarded request: " + in.error().message());
      co_return;
    }
    auto li = self->listener;
    wire::ResponseCode code = wire::ResponseCode::Accepted;
    if (!li || li->closed || in->request.lease_id != self->cred.id()) {
      code = wire::ResponseCode::Rejected;
    } else if (li->queue.size() + li->handshaking >= li->queue_limit) {
      clog(base::LogLevel::Warn, "incoming connection refused: " + std::to_string(li->queue_limit) +
                                     " connections already wait for accept()");
      code = wire::ResponseCode::Rejected;
    }
    auto answered = co_await answer_incoming(std::move(*in), code);
    if (!answered || !*answered) co_return;
    ++li->handshaking;
    auto secure = co_await stream::async_secure_accept(std::move(*answered), self->secure,
                                                       li->alpns, li->replay);
    --li->handshaking;
    if (!secure) {
      clog(base::LogLevel::Info,
           "incoming handshake via " + l->uri_text + " failed: " + secure.error().message());
      co_return;
    }
    if (li->closed) {
      (*secure)->close();
      co_return;
    }
    li->queue.push_back(std::move(*secure));
    li->ready.notify();
  }

  // ---- shutting down --------------------------------------------------------------------

  void close_now() noexcept {
    closed = true;
    on_event = nullptr;
    renew_timer.cancel();
    if (listener) {
      listener->stop();
      listener.reset();
    }
    for (auto& l : links) {
      if (l->wait) l->wait->cancel();
      if (l->session) l->session->close();
    }
  }

  asio::awaitable<void> delete_everywhere() {
    std::vector<std::function<asio::awaitable<void>()>> tasks;
    auto self = shared_from_this();
    for (auto& l : links) {
      // Every connected relay, also where a registration was still in flight (a relay that
      // does not hold the lease answers INVALID_IDENTITY).
      if (!l->up) continue;
      tasks.push_back([self, l]() -> asio::awaitable<void> {
        auto session = l->session;
        if (!session) co_return;
        auto code = co_await delete_lease(*session, self->cred, *self->o.random, *self->o.clock,
                                          self->request_timeout());
        l->lease_accepted = false;
        if (!code) {
          clog(base::LogLevel::Warn,
               "lease delete on " + l->uri_text + " failed: " + code.error().message());
        }
      });
    }
    co_await all_of(ex, std::move(tasks));
  }

  // After li->stop(): deletes its lease on every relay and forgets it.
  asio::awaitable<void> retire(std::shared_ptr<Listener::Impl> li) {
    if (listener != li) co_return;
    co_await delete_everywhere();
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
  for (const auto& l : client->links) {
    if (l->up && l->lease_accepted) out.push_back(l->uri_text);
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
  if (!stack || !stack->host || !stack->mux || !stack->cipher) {
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
      if (detail) *detail = text + ": not scheme://host:port[/path]";
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
    l->wait = std::make_unique<asio::steady_timer>(executor);
    impl->links.push_back(std::move(l));
  }
  // Every relay is tried at once; the client starts as soon as one is up (a slow or
  // black-holed relay does not hold it back) and fails only when every first attempt failed.
  // Each link then keeps itself connected.
  auto attempted = std::make_shared<std::size_t>(0);
  auto changed = std::make_shared<stream::AsyncSignal>(executor);
  for (auto& l : impl->links) {
    asio::co_spawn(
        executor,
        [impl, l, attempted, changed]() -> asio::awaitable<void> {
          bool ok = false;
          try {
            ok = co_await impl->attempt(l);
          } catch (...) {
            // Counted as attempted whatever happens, or connect() would wait forever.
            ++*attempted;
            changed->notify();
            throw;
          }
          ++*attempted;
          changed->notify();
          if (!impl->closed) co_await Impl::run_link(impl, l, ok);
        },
        stream::logged("client", "relay link"));
  }
  const auto any_up = [&] {
    return std::any_of(impl->links.begin(), impl->links.end(),
                       [](const std::shared_ptr<Link>& l) { return l->up; });
  };
  while (!any_up() && *attempted < impl->links.size()) co_await changed->wait();
  std::string why;
  for (const auto& l : impl->links) {
    if (!l->up && !l->last_error.empty()) {
      why += (why.empty() ? "" : "; ") + l->uri_text + ": " + l->last_error;
    }
  }
  if (!any_up()) {
    impl->close_now();
    if (detail) *detail = why;
    co_return make_error_code(Errc::NoRelay);
  }
  if (!why.empty()) clog(base::LogLevel::Warn, "not connected yet: " + why);
  asio::co_spawn(executor, Impl::renew_loop(impl), stream::logged("client", "lease renewal"));
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
  auto li = std::make_shared<Listener::Impl>(impl->ex, impl->o.timers.accept_queue);
  li->client = impl;
  li->name = std::move(name);
  li->alpns = std::move(alpns);
  li->metadata = std::move(metadata);
  impl->listener = li;

  std::vector<std::function<asio::awaitable<void>()>> tasks;
  for (auto& l : impl->links) {
    if (!l->up) continue;
    tasks.push_back([impl, l]() -> asio::awaitable<void> { (void)co_await impl->register_on(l); });
  }
  if (tasks.empty()) {
    impl->listener.reset();
    co_return make_error_code(Errc::NoRelay);
  }
  co_await all_of(impl->ex, std::move(tasks));
  bool any = false;
  std::string why;
  for (const auto& l : impl->links) {
    if (!l->up) continue;
    any = any || l->lease_accepted;
    if (!l->lease_accepted) {
      why += (why.empty() ? "" : "; ") + l->uri_text + ": " +
             (l->last_code == wire::ResponseCode::Unknown ? std::string("no answer")
                                                          : code_name(l->last_code));
    }
  }
  if (!any) {
    li->closed = true;
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
    if (l->up) up.push_back(l);
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

}  // namespace

asio::awaitable<base::Result<Found>> Client::lookup(std::string name) {
  auto infos = co_await relay_info();
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
  const std::vector<Found>& candidates = *resolved;

  base::ErrorCode last;
  std::string tried;
  auto note = [&](const Found& c, const std::string& what) {
    tried += (tried.empty() ? "" : "; ") + c.relay + ": " + what;
  };
  for (auto& c : candidates) {
    const std::string lease_id = c.lease.identity->id;
    if (std::find(c.lease.alpn.begin(), c.lease.alpn.end(), alpn) == c.lease.alpn.end()) {
      last = make_error_code(handshake::Errc::NoCommonAlpn);
      note(
          c, "the lease offers ALPN " +
                 [&] {
                   std::string a;
                   for (const auto& x : c.lease.alpn) a += (a.empty() ? "" : ",") + x;
                   return a.empty() ? std::string("(none)") : a;
                 }() +
                 ", not " + alpn);
      continue;
    }
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
      note(c, std::string("the relay answered ") + code_name(dialed->code));
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
  for (const auto& l : impl_->links) {
    out.push_back(RelayStatus{l->uri_text, l->up, l->relay_id, l->last_error});
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
