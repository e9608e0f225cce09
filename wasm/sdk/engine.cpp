// SPDX-License-Identifier: Apache-2.0
#include "engine.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <utility>

#include "chacha20_poly1305.hpp"
#include "portal/client/errors.hpp"
#include "portal/client/resolve.hpp"
#include "portal/handshake/errors.hpp"
#include "portal/lease/name.hpp"

namespace portal::wasm {
namespace {

using namespace std::chrono_literals;
using Steady = base::Clock::SteadyTime;

constexpr std::size_t kReadChunk = 64 * 1024;

std::chrono::milliseconds ms(std::uint32_t v) { return std::chrono::milliseconds(v); }

// The code JS sees in PortalError.code: the C++ SDK's error names, in JS style.
std::string code_of(const base::ErrorCode& e) {
  const std::string_view category = e.category().name();
  if (category == "portal.client") {
    switch (static_cast<client::Errc>(e.value())) {
      case client::Errc::NoRelay: return "NO_RELAY";
      case client::Errc::NotFound: return "NOT_FOUND";
      case client::Errc::HolderRefused: return "REJECTED";
      case client::Errc::LeaseGone: return "LEASE_GONE";
      case client::Errc::LeaseRefused: return "LEASE_REFUSED";
      case client::Errc::AlreadyListening: return "ALREADY_LISTENING";
      case client::Errc::InvalidName: return "INVALID_NAME";
      case client::Errc::InvalidTarget: return "INVALID_TARGET";
      case client::Errc::Timeout: return "TIMEOUT";
      case client::Errc::Closed: return "CLOSED";
      case client::Errc::Ambiguous: return "AMBIGUOUS";
    }
  }
  if (category == "portal.handshake") return "HANDSHAKE_FAILED";
  if (category == "portal.yamux") return "CONNECTION_LOST";
  if (category == "portal.control" || category == "portal.wire" ||
      category == "portal.secure_channel") {
    return "PROTOCOL_ERROR";
  }
  return "ERROR";
}

std::string failure(const base::ErrorCode& e, const std::string& detail) {
  return code_of(e) + "\n" + e.message() + (detail.empty() ? "" : ": " + detail);
}

template <class T>
void put_le32(std::vector<base::Byte>& out, T v) {
  const auto x = static_cast<std::uint32_t>(v);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<base::Byte>(x >> (8 * i)));
}

// Both handshakes offer or take the negotiated channel with the one cipher this build has.
handshake::Negotiation negotiation() {
  return {handshake::ChannelMode::Auto, {std::string(plugins::chacha::kAlgorithm)}};
}

}  // namespace

// One yamux stream's job. It moves through stages; the bytes a stage leaves unsent move to
// `carry`, so that they go out before the next stage's.
struct Engine::Task {
  enum class Kind { Info, Lookup, Register, Delete, Connect, Incoming, ClientHs, ServerHs, Secure };
  Kind kind = Kind::Info;
  std::uint64_t session = 0;  // the core's session number when it started
  std::uint32_t owner = 0;    // the dial it serves (Info for a dial, Lookup, Connect, ClientHs)
  std::size_t slot = 0;       // the dial's listing slot (Info, Lookup)
  std::optional<control::ClientRequest> request;
  std::optional<control::IncomingConnection> incoming;
  std::unique_ptr<handshake::ClientHandshake> client_hs;
  std::unique_ptr<handshake::ServerHandshake> server_hs;
  std::uint32_t conn = 0;                            // Secure
  std::string lease_id;                              // Connect, ClientHs
  std::shared_ptr<const identity::Credential> self;  // Connect, ClientHs: who dials
  base::Bytes carry;                                 // output of an earlier stage
  base::Bytes in;                                    // read from the stream, not yet consumed
  std::size_t in_pos = 0;
  std::optional<Steady> deadline;
  bool counted = false;  // holds a place in the core's incoming queue
  bool eof_fed = false;
  bool gone = false;  // yamux released the stream (both sides closed); only delivery is left

  base::ByteSpan input() const { return base::ByteSpan(in).subspan(in_pos); }
  void consumed(std::size_t n) {
    in_pos += n;
    if (in_pos == in.size()) {
      in.clear();
      in_pos = 0;
    }
  }
};

struct Engine::Conn {
  std::uint32_t id = 0;  // JS's handle
  std::uint32_t relay = 0;
  std::uint32_t stream = 0;
  std::optional<secure_channel::SecureChannel> channel;
  std::string peer;
  std::string alpn;
  std::size_t credit = 0;
  bool write_blocked = false;
  bool close_write = false;
  bool fin_sent = false;
  bool eof_sent = false;
};

struct Engine::Relay {
  std::string url;
  std::uint32_t socket = 0;   // the current socket's number (0: none)
  std::uint64_t session = 0;  // the core's number for the current attempt or session
  std::unique_ptr<yamux::Session> mux;
  bool up = false;
  std::optional<Steady> connect_deadline;
  std::map<std::uint32_t, Task> tasks;
};

struct Engine::DialRequest {
  std::uint32_t id = 0;
  std::shared_ptr<const identity::Credential> self;  // the client's, or a fresh one
  std::string target;
  std::string alpn;
  // Listing: RelayInfo from every relay up; LookingUp: lease lookups (ADR 0016) from the relays
  // that advertise them and do not list the target.
  enum class Phase { WaitRelay, Listing, LookingUp, Connecting } phase = Phase::WaitRelay;
  std::vector<std::string> names;
  std::vector<std::uint32_t> relay_of;  // each slot's relay index
  std::vector<bool> looked_up;          // LookingUp: the slot's lookup ended
  std::vector<std::optional<wire::RelayInfo>> infos;
  std::vector<std::string> errors;
  std::size_t outstanding = 0;
  std::vector<client::DialCandidate> candidates;
  std::size_t next = 0;
  std::string tried;
  base::ErrorCode last;
  Steady deadline{};
};

Engine::Engine(identity::Credential credential, EngineOptions options)
    : id_(credential.identity().id),
      credential_(std::move(credential)),
      o_(std::move(options)),
      random_(base::OsRandom::instance()) {
  client::ClientCore::Config c;
  c.relays = o_.relays;
  c.timers = o_.timers;
  c.own_id = id_;
  c.random = &random_;
  core_ = std::make_unique<client::ClientCore>(std::move(c));
  for (const auto& url : o_.relays) {
    auto r = std::make_unique<Relay>();
    r->url = url;
    relays_.push_back(std::move(r));
  }
  core_->start(now());
  after();
}

Engine::~Engine() = default;

base::Now Engine::now() const { return base::now_of(clock_); }
yamux::Time Engine::steady() const { return clock_.steady_now(); }

void Engine::emit(Out kind, std::uint32_t a, std::uint32_t b, std::string_view bytes) {
  out_.push_back(static_cast<base::Byte>(kind));
  put_le32(out_, a);
  put_le32(out_, b);
  put_le32(out_, bytes.size());
  out_.insert(out_.end(), bytes.begin(), bytes.end());
}

base::ByteSpan Engine::take_output() {
  handed_.swap(out_);
  out_.clear();
  return handed_;
}

// ---- after every call ------------------------------------------------------------------------

void Engine::after() {
  // Actions produce events that produce actions: run until the core is quiet (bounded: each
  // round needs a new outcome from the core).
  for (int round = 0; round < 16; ++round) {
    apply_actions();
    for (std::uint32_t i = 0; i < relays_.size(); ++i) {
      if (relays_[i]->mux) poll_session(i);
    }
    if (!core_->has_actions()) break;
  }
  for (std::uint32_t i = 0; i < relays_.size(); ++i) flush(i);
  arm_timer();
}

void Engine::apply_actions() {
  for (auto& a : core_->take_actions()) {
    const auto i = static_cast<std::uint32_t>(a.relay);
    Relay& r = *relays_.at(a.relay);
    switch (a.kind) {
      case client::Action::Kind::Connect: {
        if (r.socket != 0) emit(Out::CloseSocket, i, r.socket, {});
        r.mux.reset();
        r.tasks.clear();
        r.up = false;
        r.session = a.session;
        r.socket = next_id_++;
        r.connect_deadline = now().steady + ms(o_.timers.request_timeout_ms);
        emit(Out::OpenSocket, i, r.socket, r.url);
        break;
      }
      case client::Action::Kind::Register: {
        if (!r.mux || r.session != a.session) {
          core_->registered(a.relay, a.session, std::nullopt, "the session is gone", now());
          break;
        }
        auto request = control::ClientRequest::lease_update(credential_, a.lease, random_,
                                                            clock_.system_now());
        if (!request) {
          core_->registered(a.relay, a.session, std::nullopt, request.error().message(), now());
          break;
        }
        Task t;
        t.kind = Task::Kind::Register;
        t.session = a.session;
        t.request.emplace(std::move(*request));
        if (!open_task(i, std::move(t))) {
          core_->registered(a.relay, a.session, std::nullopt, "cannot open a stream", now());
        }
        break;
      }
      case client::Action::Kind::Delete: {
        auto request =
            control::ClientRequest::lease_delete(credential_, random_, clock_.system_now());
        if (!r.mux || r.session != a.session || !request) {
          core_->deleted(a.relay, a.session, {});
          break;
        }
        Task t;
        t.kind = Task::Kind::Delete;
        t.session = a.session;
        t.request.emplace(std::move(*request));
        if (!open_task(i, std::move(t))) core_->deleted(a.relay, a.session, "cannot open a stream");
        break;
      }
      case client::Action::Kind::Ping: {
        if (!r.mux || r.session != a.session) break;
        if (auto p = r.mux->ping(steady()); !p) {
          core_->ping_failed(a.relay, a.session, p.error().message(), now());
        }
        break;
      }
      case client::Action::Kind::Close:
        if (r.session == a.session) drop_session(i, a.detail);
        break;
      case client::Action::Kind::Up: emit(Out::RelayUp, i, 0, a.detail); break;
      case client::Action::Kind::Down: emit(Out::RelayDown, i, 0, a.detail); break;
    }
  }
  // A relay that came up may be what a dial waits for; one that went down may end a listen.
  std::vector<std::uint32_t> waiting;
  for (auto& [id, d] : dials_) {
    if (d->phase == DialRequest::Phase::WaitRelay) waiting.push_back(id);
  }
  for (auto id : waiting) {
    if (auto it = dials_.find(id); it != dials_.end()) dial_step(*it->second);
  }
  listen_check();
}

void Engine::flush(std::uint32_t relay) {
  Relay& r = *relays_.at(relay);
  if (!r.mux || r.socket == 0) return;
  const auto out = r.mux->pending_output();
  if (out.empty()) return;
  emit(Out::Send, relay, r.socket, base::as_chars(out));
  r.mux->consume_output(out.size());
}

void Engine::arm_timer() {
  std::optional<Steady> next = core_->next_deadline();
  auto consider = [&next](std::optional<Steady> t) {
    if (t && (!next || *t < *next)) next = t;
  };
  for (auto& r : relays_) {
    consider(r->connect_deadline);
    if (r->mux) consider(r->mux->poll_deadline());
    for (auto& [id, t] : r->tasks) consider(t.deadline);
  }
  for (auto& [id, d] : dials_) {
    if (d->phase == DialRequest::Phase::WaitRelay) consider(d->deadline);
  }
  if (listen_request_) consider(listen_deadline_);
  std::optional<std::uint32_t> wanted;
  if (next && !shut_) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*next - steady()).count();
    wanted = static_cast<std::uint32_t>(std::clamp<std::int64_t>(left, 0, 0x7fffffff));
  }
  // Always re-arm: JS keeps one timer and replaces it.
  emit(Out::Timer, wanted.value_or(0xffffffffu), 0, {});
}

// ---- sockets -----------------------------------------------------------------------------------

void Engine::socket_opened(std::uint32_t relay, std::uint32_t socket) {
  if (relay >= relays_.size() || shut_) return;
  Relay& r = *relays_[relay];
  if (r.socket != socket) return;
  yamux::Config config;
  // The core judges health (health_timeout_ms); yamux must not drop a slower answer first.
  config.ping_timeout = ms(o_.timers.health_timeout_ms);
  r.mux = std::make_unique<yamux::Session>(yamux::Role::Client, config, steady());
  Task t;
  t.kind = Task::Kind::Info;
  t.session = r.session;
  t.request.emplace(control::ClientRequest::relay_info());
  if (!open_task(relay, std::move(t))) {
    attempt_failed(relay, "cannot open a stream");
    drop_session(relay, "cannot open a stream");
  }
  after();
}

void Engine::socket_message(std::uint32_t relay, std::uint32_t socket, base::ByteSpan bytes) {
  if (relay >= relays_.size() || shut_) return;
  Relay& r = *relays_[relay];
  if (r.socket != socket || !r.mux) return;
  if (auto in = r.mux->handle_input(bytes, steady()); !in) {
    log_line(2, "relay " + r.url + ": " + in.error().message());
  }
  poll_session(relay);
  after();
}

void Engine::socket_closed(std::uint32_t relay, std::uint32_t socket, const std::string& reason) {
  if (relay >= relays_.size()) return;
  Relay& r = *relays_[relay];
  if (r.socket != socket) return;
  r.socket = 0;  // already closed: nothing to ask JS to close
  const std::string why = reason.empty() ? "the relay closed the connection" : reason;
  if (r.up) {
    core_->session_closed(relay, r.session, why, now());
  } else {
    attempt_failed(relay, why);
  }
  drop_session(relay, why);
  after();
}

// A connection attempt failed: the core schedules the next one; JS hears of it (b = 1: the relay
// was not up), so that connect() can tell when every relay has had its first try.
void Engine::attempt_failed(std::uint32_t relay, const std::string& why) {
  const Relay& r = *relays_.at(relay);
  const auto& state = core_->relay(relay);
  const bool counts =
      state.phase == client::RelayState::Phase::Connecting && state.session == r.session;
  core_->connect_failed(relay, r.session, why, now());
  if (counts) emit(Out::RelayDown, relay, 1, why);
}

void Engine::log_line(int level, std::string_view line) {
  emit(Out::Log, static_cast<std::uint32_t>(level), 0, line);
}

void Engine::drop_session(std::uint32_t relay, const std::string& reason) {
  Relay& r = *relays_.at(relay);
  if (r.socket != 0) emit(Out::CloseSocket, relay, r.socket, {});
  r.socket = 0;
  r.up = false;
  r.connect_deadline.reset();
  if (r.mux) r.mux->handle_transport_closed(make_error_code(yamux::Errc::SessionClosed));
  r.mux.reset();
  // Every task ends; each tells its owner. The session's own RelayInfo is the caller's to report.
  std::vector<std::uint32_t> streams;
  for (auto& [id, t] : r.tasks) {
    if (t.kind != Task::Kind::Info || t.owner != 0) streams.push_back(id);
  }
  for (auto id : streams) {
    finish_task(relay, id, make_error_code(yamux::Errc::SessionClosed),
                "relay " + r.url + ": " + reason);
  }
  r.tasks.clear();
}

void Engine::poll_session(std::uint32_t relay) {
  Relay& r = *relays_.at(relay);
  for (int guard = 0; r.mux && guard < 100000; ++guard) {
    auto ev = r.mux->poll_event();
    if (!ev) break;
    switch (ev->type) {
      case yamux::EventType::StreamIncoming: {
        auto id = r.mux->accept();
        if (!id) break;
        Task t;
        t.kind = Task::Kind::Incoming;
        t.session = r.session;
        t.incoming.emplace();
        t.deadline = now().steady + ms(o_.timers.request_timeout_ms);
        r.tasks.emplace(*id, std::move(t));
        service(relay, *id);
        break;
      }
      case yamux::EventType::StreamAcked:
      case yamux::EventType::StreamReadable:
      case yamux::EventType::StreamWritable:
      case yamux::EventType::StreamEof:
        if (r.tasks.count(ev->stream) != 0) {
          service(relay, ev->stream);
        } else {
          // A finished job's stream: read and drop what the relay still sends.
          std::array<base::Byte, 4096> sink{};
          while (r.mux->read(ev->stream, sink) > 0) {
          }
        }
        break;
      case yamux::EventType::StreamReset:
        finish_task(relay, ev->stream, make_error_code(yamux::Errc::StreamReset), "");
        break;
      case yamux::EventType::StreamClosed: {
        // Both sides are done, but a connection may still hold bytes it read for JS: it ends
        // once they are delivered (service() closes it then).
        auto t = r.tasks.find(ev->stream);
        if (t != r.tasks.end() && t->second.kind == Task::Kind::Secure) {
          t->second.gone = true;
          service(relay, ev->stream);
        } else {
          finish_task(relay, ev->stream, {}, "");
        }
        break;
      }
      case yamux::EventType::PingReply: core_->ping_answered(relay, r.session, now()); break;
      case yamux::EventType::GoAwayReceived: break;
      case yamux::EventType::SessionClosed: {
        const std::string why = r.mux->error() ? r.mux->error().message() : "session closed";
        if (r.up) {
          core_->session_closed(relay, r.session, why, now());
        } else {
          attempt_failed(relay, why);
        }
        drop_session(relay, why);
        return;
      }
    }
  }
}

std::optional<std::uint32_t> Engine::open_task(std::uint32_t relay, Task task) {
  Relay& r = *relays_.at(relay);
  if (!r.mux) return std::nullopt;
  auto id = r.mux->open(steady());
  if (!id) return std::nullopt;
  if (!task.deadline) task.deadline = now().steady + ms(o_.timers.request_timeout_ms);
  r.tasks.emplace(*id, std::move(task));
  service(relay, *id);
  return *id;
}

// ---- one stream
// ----------------------------------------------------------------------------------

void Engine::service(std::uint32_t relay, std::uint32_t stream) {
  Relay& r = *relays_.at(relay);
  for (int round = 0; round < 64 && r.mux; ++round) {
    auto it = r.tasks.find(stream);
    if (it == r.tasks.end()) return;
    Task& t = it->second;
    bool progress = false;
    // Output: an earlier stage's leftovers first, then the current stage's.
    auto send = [&](base::ByteSpan out) -> std::optional<std::size_t> {
      if (out.empty()) return 0;
      auto n = r.mux->write(stream, out);
      if (!n) return std::nullopt;
      if (*n > 0) progress = true;
      return *n;
    };
    std::optional<std::size_t> sent = 0;
    if (t.gone) {
      // Nothing more can be written on a released stream.
    } else if (!t.carry.empty()) {
      sent = send(t.carry);
      if (sent) t.carry.erase(t.carry.begin(), t.carry.begin() + static_cast<long>(*sent));
    } else {
      // Every stage's core has the same output pair: pending_output() and consume_output(n).
      auto send_from = [&](auto& core) {
        sent = send(core.pending_output());
        if (sent) core.consume_output(*sent);
      };
      switch (t.kind) {
        case Task::Kind::Info:
        case Task::Kind::Lookup:
        case Task::Kind::Register:
        case Task::Kind::Delete:
        case Task::Kind::Connect: send_from(*t.request); break;
        case Task::Kind::Incoming: send_from(*t.incoming); break;
        case Task::Kind::ClientHs: send_from(*t.client_hs); break;
        case Task::Kind::ServerHs: send_from(*t.server_hs); break;
        case Task::Kind::Secure: {
          auto c = conns_.find(t.conn);
          if (c == conns_.end()) break;
          Conn& conn = *c->second;
          send_from(*conn.channel);
          const std::size_t pending = conn.channel->pending_output().size();
          if (conn.close_write && !conn.fin_sent && pending == 0) {
            conn.fin_sent = true;
            (void)r.mux->close_stream(stream, steady());
          }
          if (conn.write_blocked && pending < o_.max_buffered_write / 2) {
            conn.write_blocked = false;
            emit(Out::Writable, t.conn, 0, {});
          }
          break;
        }
      }
    }
    if (!sent) {
      finish_task(relay, stream, make_error_code(yamux::Errc::StreamClosed), "write failed");
      return;
    }
    if (pump_input(relay, stream, t)) progress = true;
    if (!progress) return;
  }
}

// Reads what the current stage can use and feeds it. Returns whether anything moved. May end the
// task (the caller re-finds it).
bool Engine::pump_input(std::uint32_t relay, std::uint32_t stream, Task& t) {
  Relay& r = *relays_.at(relay);
  bool progress = false;
  // A secure connection reads only while its plaintext is taken: a reader that stops stops the
  // yamux window. Every other stage reads what arrives.
  auto wants_more = [&]() {
    if (t.kind != Task::Kind::Secure) return true;
    auto c = conns_.find(t.conn);
    return c != conns_.end() && c->second->channel->readable().empty() && t.input().empty();
  };
  if (wants_more() && r.mux->readable(stream) > 0) {
    std::array<base::Byte, kReadChunk> buf{};
    const std::size_t n = r.mux->read(stream, buf);
    if (n > 0) {
      t.in.insert(t.in.end(), buf.begin(), buf.begin() + static_cast<long>(n));
      progress = true;
    }
  }
  const bool at_eof = r.mux->eof(stream);
  auto fail = [&](base::ErrorCode e, const std::string& detail) {
    finish_task(relay, stream, e, detail);
    return true;
  };
  // Feeds what was read to the stage's core (`handle`: its handle_input). False when the core
  // refused the bytes: the task has failed and is gone.
  auto feed = [&](auto&& handle) {
    if (t.input().empty()) return true;
    auto used = handle(t.input());
    if (!used) {
      fail(used.error(), "");
      return false;
    }
    if (*used > 0) progress = true;
    t.consumed(*used);
    return true;
  };
  switch (t.kind) {
    case Task::Kind::Info:
    case Task::Kind::Lookup:
    case Task::Kind::Register:
    case Task::Kind::Delete:
    case Task::Kind::Connect: {
      if (!feed([&](base::ByteSpan in) { return t.request->handle_input(in); })) return true;
      if (!t.request->done() && !t.request->error() && at_eof && t.input().empty() && !t.eof_fed) {
        t.eof_fed = true;
        t.request->handle_eof();
        progress = true;
      }
      if (t.request->done() || t.request->error()) {
        request_done(relay, stream, t);
        return true;
      }
      break;
    }
    case Task::Kind::Incoming: {
      if (!feed([&](base::ByteSpan in) { return t.incoming->handle_input(in); })) return true;
      if (!t.incoming->has_request() && at_eof && t.input().empty()) {
        return fail(make_error_code(control::Errc::ClosedWithoutAnswer), "");
      }
      if (t.incoming->has_request()) {
        const auto& req = *t.incoming->request();
        const auto code = listen_request_ || core_->listening()
                              ? core_->incoming_request(req.lease_id)
                              : wire::ResponseCode::Rejected;
        (void)t.incoming->answer(code);
        t.carry.assign(t.incoming->pending_output().begin(), t.incoming->pending_output().end());
        t.incoming.reset();
        if (code != wire::ResponseCode::Accepted) {
          // Send the answer, then half-close; the relay ends the stream.
          (void)r.mux->write(stream, t.carry);
          (void)r.mux->close_stream(stream, steady());
          r.tasks.erase(stream);
          return true;
        }
        t.counted = true;
        t.kind = Task::Kind::ServerHs;
        t.server_hs = std::make_unique<handshake::ServerHandshake>(
            credential_, listen_alpns_, replay_, random_, handshake::Limits{}, negotiation());
        t.deadline = now().steady + ms(o_.timers.handshake_timeout_ms);
        progress = true;
      }
      break;
    }
    case Task::Kind::ClientHs:
    case Task::Kind::ServerHs: {
      auto run = [&](auto& hs) -> bool {
        if (!feed([&](base::ByteSpan in) { return hs.handle_input(in, clock_.system_now()); })) {
          return true;
        }
        if (hs.state() != handshake::State::Established && at_eof && t.input().empty()) {
          hs.handle_eof();
          return fail(
              hs.error() ? hs.error() : make_error_code(handshake::Errc::PeerClosedDuringHandshake),
              "");
        }
        if (hs.state() == handshake::State::Established) {
          handshake_done(relay, stream, t);
          return true;
        }
        return false;
      };
      if (t.kind == Task::Kind::ClientHs ? run(*t.client_hs) : run(*t.server_hs)) return true;
      break;
    }
    case Task::Kind::Secure: {
      auto c = conns_.find(t.conn);
      if (c == conns_.end()) break;
      Conn& conn = *c->second;
      while (conn.channel->readable().empty() && !t.input().empty()) {
        auto used = conn.channel->handle_input(t.input());
        if (!used) {
          conn_closed(t.conn, used.error(), "");
          return true;
        }
        if (*used == 0) break;
        t.consumed(*used);
        progress = true;
      }
      const std::size_t before = conn.channel->readable().size();
      deliver(conn);
      if (conn.channel->readable().size() != before) progress = true;
      if (at_eof && t.input().empty() && conn.channel->readable().empty() && !conn.eof_sent) {
        // A frame cut short by the end of the stream is an error, not an end.
        if (auto end = conn.channel->handle_eof(); !end) {
          conn_closed(t.conn, end.error(), "");
          return true;
        }
        conn.eof_sent = true;
        emit(Out::Eof, t.conn, 0, {});
        progress = true;
      }
      if (t.gone && conn.eof_sent) {
        conn_closed(t.conn, {}, "");
        return true;
      }
      break;
    }
  }
  return progress;
}

void Engine::deliver(Conn& c) {
  while (c.credit > 0 && !c.channel->readable().empty()) {
    const auto data = c.channel->readable();
    const std::size_t n = std::min(c.credit, data.size());
    emit(Out::Data, c.id, 0, base::as_chars(data.first(n)));
    c.channel->consume(n);
    c.credit -= n;
  }
}

void Engine::request_done(std::uint32_t relay, std::uint32_t stream, Task& t) {
  Relay& r = *relays_.at(relay);
  const base::ErrorCode error = t.request->error();
  const std::string why = error ? error.message() : std::string();
  switch (t.kind) {
    case Task::Kind::Info:
      if (t.owner == 0) {
        if (t.session != r.session) break;
        if (error) {
          attempt_failed(relay, "RelayInfo: " + why);
          drop_session(relay, "RelayInfo: " + why);
          return;
        }
        const auto& info = t.request->relay_info_response();
        r.up = true;
        r.connect_deadline.reset();
        core_->connected(relay, r.session,
                         info && info->identity ? info->identity->id : std::string(), now());
      } else {
        std::optional<wire::RelayInfo> info;
        if (!error) info = t.request->relay_info_response();
        const auto owner = t.owner;
        const auto slot = t.slot;
        (void)r.mux->close_stream(stream, steady());
        r.tasks.erase(stream);
        dial_info(owner, slot, std::move(info), why);
        return;
      }
      break;
    case Task::Kind::Lookup: {
      std::optional<wire::LeaseLookupResponse> answer;
      if (!error) answer = t.request->lease_lookup_response();
      const auto owner = t.owner;
      const auto slot = t.slot;
      (void)r.mux->close_stream(stream, steady());
      r.tasks.erase(stream);
      dial_lookup(owner, slot, std::move(answer));
      return;
    }
    case Task::Kind::Register:
      core_->registered(relay, t.session,
                        error ? std::nullopt : std::optional<wire::ResponseCode>(t.request->code()),
                        why, now());
      break;
    case Task::Kind::Delete: core_->deleted(relay, t.session, why); break;
    case Task::Kind::Connect: {
      auto d = dials_.find(t.owner);
      if (d == dials_.end()) break;
      DialRequest& dial = *d->second;
      const auto code = t.request->code();
      const std::string where = r.url + ": ";
      if (error) {
        dial.last = error;
        dial.tried += (dial.tried.empty() ? "" : "; ") + where + "connection request: " + why;
      } else if (code == wire::ResponseCode::Accepted) {
        // The stream now carries the end-to-end handshake; bytes after the answer are its.
        t.kind = Task::Kind::ClientHs;
        t.request.reset();
        t.client_hs = std::make_unique<handshake::ClientHandshake>(
            *t.self, t.lease_id, dial.alpn, random_, handshake::Limits{}, negotiation());
        if (auto s = t.client_hs->start(clock_.system_now()); !s) {
          dial.last = s.error();
          dial.tried +=
              (dial.tried.empty() ? "" : "; ") + where + "handshake: " + s.error().message();
          r.mux->reset(stream);
          r.tasks.erase(stream);
          dial_try_next(dial);
          return;
        }
        t.deadline = now().steady + ms(o_.timers.handshake_timeout_ms);
        return;  // service() goes on with the handshake
      } else if (code == wire::ResponseCode::Rejected) {
        dial.last = make_error_code(client::Errc::HolderRefused);
        dial.tried +=
            (dial.tried.empty() ? "" : "; ") + where + "the lease holder refused (REJECTED)";
      } else {
        dial.last = make_error_code(client::Errc::LeaseGone);
        dial.tried += (dial.tried.empty() ? "" : "; ") + where + "the relay answered " +
                      wire::to_string(code);
      }
      r.mux->reset(stream);
      r.tasks.erase(stream);
      dial_try_next(dial);
      return;
    }
    default: break;
  }
  // Done: half-close (the v1 SDK closes the stream after the answer) and forget the job.
  if (r.mux) (void)r.mux->close_stream(stream, steady());
  r.tasks.erase(stream);
}

void Engine::handshake_done(std::uint32_t relay, std::uint32_t stream, Task& t) {
  const bool dialer = t.kind == Task::Kind::ClientHs;
  auto keys = dialer ? t.client_hs->take_result() : t.server_hs->take_result();
  // The handshake's unsent bytes (ServerInit) go out before the first frame.
  const auto hs_out = dialer ? t.client_hs->pending_output() : t.server_hs->pending_output();
  t.carry.insert(t.carry.end(), hs_out.begin(), hs_out.end());
  base::ErrorCode error;
  std::optional<secure_channel::SecureChannel> channel;
  if (!keys) {
    error = keys.error();
  } else {
    auto& factory = plugins::chacha::factory();
    auto enc = factory.create(plugins::chacha::kAlgorithm, keys->encrypt_key.span());
    auto dec = factory.create(plugins::chacha::kAlgorithm, keys->decrypt_key.span());
    if (!enc || !dec) {
      error = !enc ? enc.error() : dec.error();
    } else {
      // The negotiated channel (docs/adr/0014) with peers that offer or take it; v1 with the
      // others. The only cipher here is chacha20-poly1305 (Crypto++), so it is the one agreed.
      std::shared_ptr<cipher::Aead> e(std::move(*enc));
      std::shared_ptr<cipher::Aead> d(std::move(*dec));
      auto ch = keys->channel == handshake::kNegotiatedChannelVersion
                    ? secure_channel::SecureChannel::create_negotiated(std::move(e), std::move(d))
                    : secure_channel::SecureChannel::create(std::move(e), std::move(d), random_);
      if (!ch) {
        error = ch.error();
      } else {
        channel.emplace(std::move(*ch));
      }
    }
  }
  if (error) {
    finish_task(relay, stream, error, "");
    return;
  }
  const std::uint32_t id = next_id_++;
  auto c = std::make_unique<Conn>();
  c->id = id;
  c->relay = relay;
  c->stream = stream;
  c->channel = std::move(channel);
  c->peer = keys->peer.id;
  c->alpn = keys->alpn;
  const std::string describe = c->peer + "\n" + c->alpn;
  conns_.emplace(id, std::move(c));
  const auto owner = t.owner;
  const bool counted = t.counted;
  t.kind = Task::Kind::Secure;
  t.conn = id;
  t.client_hs.reset();
  t.server_hs.reset();
  t.deadline.reset();
  t.counted = false;
  if (dialer) {
    dial_finish(owner, id, {}, describe);
  } else {
    if (counted) core_->incoming_ended(true);
    emit(Out::Incoming, id, 0, describe);
  }
}

// A task ends: its owner hears why. `error` empty: the stream closed normally.
void Engine::finish_task(std::uint32_t relay, std::uint32_t stream, base::ErrorCode error,
                         const std::string& detail) {
  Relay& r = *relays_.at(relay);
  auto it = r.tasks.find(stream);
  if (it == r.tasks.end()) return;
  Task t = std::move(it->second);
  r.tasks.erase(it);
  if (r.mux && error) r.mux->reset(stream);
  const base::ErrorCode e = error ? error : make_error_code(yamux::Errc::StreamClosed);
  const std::string why = e.message() + (detail.empty() ? "" : " (" + detail + ")");
  switch (t.kind) {
    case Task::Kind::Info:
      if (t.owner == 0) {
        if (t.session == r.session && !r.up) {
          attempt_failed(relay, "RelayInfo: " + why);
          drop_session(relay, "RelayInfo: " + why);
        }
      } else {
        dial_info(t.owner, t.slot, std::nullopt, why);
      }
      break;
    case Task::Kind::Lookup: dial_lookup(t.owner, t.slot, std::nullopt); break;
    case Task::Kind::Register: core_->registered(relay, t.session, std::nullopt, why, now()); break;
    case Task::Kind::Delete: core_->deleted(relay, t.session, why); break;
    case Task::Kind::Connect:
    case Task::Kind::ClientHs: {
      auto d = dials_.find(t.owner);
      if (d == dials_.end()) break;
      d->second->last = e;
      d->second->tried += (d->second->tried.empty() ? "" : "; ") + r.url + ": " +
                          (t.kind == Task::Kind::Connect ? "connection request: " : "handshake: ") +
                          why;
      dial_try_next(*d->second);
      break;
    }
    case Task::Kind::Incoming: break;
    case Task::Kind::ServerHs:
      if (t.counted) core_->incoming_ended(false);
      log_line(1, "incoming handshake via " + r.url + " failed: " + why);
      break;
    case Task::Kind::Secure: conn_closed(t.conn, error, detail); break;
  }
}

void Engine::conn_closed(std::uint32_t conn, base::ErrorCode error, const std::string& detail) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  const Conn& c = *it->second;
  Relay& r = *relays_.at(c.relay);
  if (r.mux && error) r.mux->reset(c.stream);
  r.tasks.erase(c.stream);
  conns_.erase(it);
  emit(Out::Closed, conn, 0, error ? failure(error, detail) : std::string());
}

// ---- timers ----------------------------------------------------------------------------------

void Engine::tick() {
  if (shut_) return;
  const auto t = now();
  core_->tick(t);
  for (std::uint32_t i = 0; i < relays_.size(); ++i) {
    Relay& r = *relays_[i];
    if (r.connect_deadline && *r.connect_deadline <= t.steady) {
      r.connect_deadline.reset();
      attempt_failed(i, "no answer in time");
      drop_session(i, "no answer in time");
      continue;
    }
    if (r.mux) {
      r.mux->handle_timeout(t.steady);
      poll_session(i);
    }
    std::vector<std::uint32_t> expired;
    for (auto& [id, task] : r.tasks) {
      if (task.deadline && *task.deadline <= t.steady) expired.push_back(id);
    }
    for (auto id : expired) {
      finish_task(i, id, make_error_code(client::Errc::Timeout), "");
    }
  }
  // A listen() that no relay answered in time (none came up, or a registration hangs).
  if (listen_request_ && listen_deadline_ <= t.steady) {
    const auto id = *listen_request_;
    listen_request_.reset();
    core_->stop_listening(t);
    const bool any_up = std::any_of(relays_.begin(), relays_.end(),
                                    [](const std::unique_ptr<Relay>& r) { return r->up; });
    emit(Out::ListenDone, id, 0,
         failure(make_error_code(any_up ? client::Errc::Timeout : client::Errc::NoRelay),
                 "no relay answered the lease registration in time"));
  }
  std::vector<std::uint32_t> late;
  for (auto& [id, d] : dials_) {
    if (d->phase == DialRequest::Phase::WaitRelay && d->deadline <= t.steady) late.push_back(id);
  }
  for (auto id : late) {
    std::string why;
    for (std::size_t i = 0; i < relays_.size(); ++i) {
      const auto& state = core_->relay(i);
      why += (why.empty() ? "" : "; ") + relays_[i]->url + ": " +
             (state.last_error.empty() ? "not connected" : state.last_error);
    }
    dial_finish(id, 0, make_error_code(client::Errc::NoRelay), why);
  }
  after();
}

// ---- dial ----------------------------------------------------------------------------------

std::uint32_t Engine::dial(const std::string& target, const std::string& alpn,
                           bool fresh_identity) {
  const std::uint32_t id = next_id_++;
  auto d = std::make_unique<DialRequest>();
  d->id = id;
  // The client's own identity (not owned), or one made for this connection only.
  d->self = std::shared_ptr<const identity::Credential>(std::shared_ptr<void>(), &credential_);
  if (fresh_identity) {
    if (auto fresh = identity::Credential::generate(random_)) {
      d->self = std::make_shared<const identity::Credential>(std::move(*fresh));
    }
  }
  d->target = target;
  d->alpn = alpn;
  d->deadline = now().steady + ms(o_.timers.request_timeout_ms);
  dials_.emplace(id, std::move(d));
  if (shut_) {
    dial_finish(id, 0, make_error_code(client::Errc::Closed), "");
  } else if (target.empty() || alpn.empty()) {
    dial_finish(id, 0, make_error_code(client::Errc::InvalidTarget), "");
  } else {
    dial_step(*dials_.at(id));
  }
  after();
  return id;
}

// Waiting for a relay: a dial made while every relay is down (at start, or while the core
// reconnects) waits for one, up to the request timeout, instead of failing at once.
void Engine::dial_step(DialRequest& d) {
  if (d.phase != DialRequest::Phase::WaitRelay) return;
  std::vector<std::uint32_t> up;
  for (std::uint32_t i = 0; i < relays_.size(); ++i) {
    if (relays_[i]->up && relays_[i]->mux) up.push_back(i);
  }
  if (up.empty()) return;
  d.phase = DialRequest::Phase::Listing;
  d.names.clear();
  d.infos.assign(up.size(), std::nullopt);
  d.errors.assign(up.size(), std::string());
  d.outstanding = up.size();
  for (std::size_t k = 0; k < up.size(); ++k) d.names.push_back(relays_[up[k]]->url);
  d.relay_of = up;
  const std::uint32_t id = d.id;
  for (std::size_t k = 0; k < up.size(); ++k) {
    Task t;
    t.kind = Task::Kind::Info;
    t.owner = id;
    t.slot = k;
    t.request.emplace(control::ClientRequest::relay_info());
    if (!open_task(up[k], std::move(t))) dial_info(id, k, std::nullopt, "cannot open a stream");
    if (dials_.count(id) == 0) return;  // finished meanwhile
  }
}

void Engine::dial_info(std::uint32_t dial, std::size_t slot, std::optional<wire::RelayInfo> info,
                       const std::string& error) {
  auto it = dials_.find(dial);
  if (it == dials_.end()) return;
  DialRequest& d = *it->second;
  if (d.phase != DialRequest::Phase::Listing || slot >= d.infos.size()) return;
  if (d.infos[slot] || !d.errors[slot].empty()) return;  // answered already
  d.infos[slot] = std::move(info);
  d.errors[slot] = d.infos[slot] ? std::string() : (error.empty() ? "no answer" : error);
  if (--d.outstanding > 0) return;

  std::vector<client::Listing> listings;
  std::string unreachable;
  for (std::size_t k = 0; k < d.infos.size(); ++k) {
    listings.push_back(client::Listing{d.names[k], d.infos[k] ? &*d.infos[k] : nullptr});
    if (!d.infos[k]) unreachable += (unreachable.empty() ? "" : ", ") + d.names[k];
  }
  if (unreachable.size() > 0 &&
      std::none_of(d.infos.begin(), d.infos.end(), [](const auto& x) { return x.has_value(); })) {
    dial_finish(dial, 0, make_error_code(client::Errc::NoRelay),
                "no relay answered RelayInfo: " + unreachable);
    return;
  }
  // ADR 0016: the relays that advertise lease lookups and do not list the target are asked.
  const auto needed = client::lookups_needed(listings, d.target);
  if (!needed.empty()) {
    d.phase = DialRequest::Phase::LookingUp;
    d.looked_up.assign(d.infos.size(), true);
    for (const auto k : needed) d.looked_up[k] = false;
    d.outstanding = needed.size();
    for (const auto k : needed) {
      Task t;
      t.kind = Task::Kind::Lookup;
      t.owner = dial;
      t.slot = k;
      t.request.emplace(control::ClientRequest::lease_lookup(d.target));
      if (!open_task(d.relay_of[k], std::move(t))) dial_lookup(dial, k, std::nullopt);
      if (dials_.count(dial) == 0 || d.phase != DialRequest::Phase::LookingUp) return;
    }
    return;
  }
  dial_resolve(d);
}

// A lookup ended (nothing: it failed, and the relay's RelayInfo stays its listing); once every
// lookup ended, the target is resolved.
void Engine::dial_lookup(std::uint32_t dial, std::size_t slot,
                         std::optional<wire::LeaseLookupResponse> answer) {
  auto it = dials_.find(dial);
  if (it == dials_.end()) return;
  DialRequest& d = *it->second;
  if (d.phase != DialRequest::Phase::LookingUp || slot >= d.looked_up.size()) return;
  if (d.looked_up[slot]) return;  // ended already
  d.looked_up[slot] = true;
  if (answer && d.infos[slot])
    d.infos[slot] = client::with_lookup(std::move(*d.infos[slot]), *answer);
  if (--d.outstanding > 0) return;
  dial_resolve(d);
}

void Engine::dial_resolve(DialRequest& d) {
  const std::uint32_t dial = d.id;
  std::vector<client::Listing> listings;
  std::string unreachable;
  for (std::size_t k = 0; k < d.infos.size(); ++k) {
    listings.push_back(client::Listing{d.names[k], d.infos[k] ? &*d.infos[k] : nullptr});
    if (!d.infos[k]) unreachable += (unreachable.empty() ? "" : ", ") + d.names[k];
  }
  std::string why;
  auto resolved = client::resolve_target(listings, d.target, &why);
  if (!resolved) {
    if (resolved.error() == client::Errc::NotFound) {
      why += " on " + std::to_string(d.infos.size()) + " connected relay(s)";
    }
    if (!unreachable.empty()) why += " (no answer from " + unreachable + ")";
    dial_finish(dial, 0, resolved.error(), why);
    return;
  }
  d.candidates = client::plan_dial(*resolved, d.alpn, [this](const std::string& relay) {
    for (const auto& r : relays_) {
      if (r->url == relay) return r->up && r->mux != nullptr;
    }
    return false;
  });
  d.next = 0;
  d.phase = DialRequest::Phase::Connecting;
  dial_try_next(d);
}

void Engine::dial_try_next(DialRequest& d) {
  const std::uint32_t id = d.id;
  while (d.next < d.candidates.size()) {
    const auto& candidate = d.candidates[d.next++];
    const auto& c = candidate.found;
    auto note = [&d, &c](const std::string& what) {
      d.tried += (d.tried.empty() ? "" : "; ") + c.relay + ": " + what;
    };
    if (!candidate.skipped.empty()) {
      d.last = candidate.error;
      note(candidate.skipped);
      continue;
    }
    std::optional<std::uint32_t> relay;
    for (std::uint32_t i = 0; i < relays_.size(); ++i) {
      if (relays_[i]->url == c.relay && relays_[i]->up && relays_[i]->mux) relay = i;
    }
    if (!relay) {
      d.last = make_error_code(client::Errc::NoRelay);
      note("went down");
      continue;
    }
    Task t;
    t.kind = Task::Kind::Connect;
    t.owner = id;
    t.lease_id = c.lease.identity->id;
    t.self = d.self;
    t.request.emplace(control::ClientRequest::connection(t.lease_id, t.self->identity()));
    if (open_task(*relay, std::move(t))) return;
    if (dials_.count(id) == 0) return;
    d.last = make_error_code(client::Errc::NoRelay);
    note("cannot open a stream");
  }
  dial_finish(id, 0, d.last ? d.last : make_error_code(client::Errc::NotFound), d.tried);
}

void Engine::dial_finish(std::uint32_t dial, std::uint32_t conn, base::ErrorCode error,
                         const std::string& detail) {
  auto it = dials_.find(dial);
  if (it == dials_.end()) return;
  // `detail` may be the dial's own `tried`: the record is built before the dial is dropped.
  const std::string record = conn != 0 ? detail : failure(error, detail);
  dials_.erase(it);
  emit(Out::DialDone, dial, conn, record);
}

// ---- listen --------------------------------------------------------------------------------

std::uint32_t Engine::listen(const std::string& name, std::vector<std::string> alpns,
                             const std::string& metadata) {
  const std::uint32_t id = next_id_++;
  auto fail = [&](client::Errc e, const std::string& detail) {
    emit(Out::ListenDone, id, 0, failure(make_error_code(e), detail));
    after();
    return id;
  };
  if (shut_) return fail(client::Errc::Closed, "");
  if (!lease::is_valid_name(name)) return fail(client::Errc::InvalidName, name);
  if (alpns.empty()) return fail(client::Errc::InvalidTarget, "a lease needs an ALPN");
  if (listen_request_ || core_->listening()) return fail(client::Errc::AlreadyListening, "");
  listen_alpns_ = alpns;
  if (auto ok = core_->listen(client::LeaseSpec{name, std::move(alpns), metadata}, now()); !ok) {
    return fail(client::Errc::AlreadyListening, ok.error().message());
  }
  listen_request_ = id;
  listen_deadline_ = now().steady + ms(o_.timers.request_timeout_ms);
  after();
  return id;
}

// A listen() answers once no relay that is up still has its registration in flight: fine when
// one accepted, LEASE_REFUSED (with every relay's answer) when none did. While no relay is up it
// waits: the core registers on each relay as it comes up.
void Engine::listen_check() {
  if (!listen_request_) return;
  bool any_up = false;
  bool accepted = false;
  std::string why;
  for (std::size_t i = 0; i < relays_.size(); ++i) {
    const auto& s = core_->relay(i);
    if (s.phase != client::RelayState::Phase::Up) continue;
    any_up = true;
    if (s.registering) return;
    if (s.lease_accepted) {
      accepted = true;
    } else {
      why += (why.empty() ? "" : "; ") + relays_[i]->url + ": " +
             (s.last_code == wire::ResponseCode::Unknown ? std::string("no answer")
                                                         : wire::to_string(s.last_code));
    }
  }
  if (!any_up) return;
  const auto id = *listen_request_;
  listen_request_.reset();
  if (accepted) {
    emit(Out::ListenDone, id, 1, {});
    return;
  }
  core_->stop_listening(now());
  emit(Out::ListenDone, id, 0, failure(make_error_code(client::Errc::LeaseRefused), why));
}

void Engine::stop_listening() {
  if (listen_request_) {
    emit(Out::ListenDone, *listen_request_, 0,
         failure(make_error_code(client::Errc::Closed), "the listener was closed"));
    listen_request_.reset();
  }
  core_->stop_listening(now());
  after();
}

void Engine::incoming_taken() {
  core_->incoming_taken();
  after();
}

// ---- connections ---------------------------------------------------------------------------

std::size_t Engine::write(std::uint32_t conn, base::ByteSpan bytes) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return 0;
  Conn& c = *it->second;
  if (c.close_write) return 0;
  const std::size_t pending = c.channel->pending_output().size();
  if (pending >= o_.max_buffered_write) {
    c.write_blocked = true;
    return 0;
  }
  const std::size_t n = std::min(bytes.size(), o_.max_buffered_write - pending);
  if (auto w = c.channel->write(bytes.first(n)); !w) {
    conn_closed(conn, w.error(), "");
    after();
    return 0;
  }
  service(c.relay, c.stream);
  after();
  return n;
}

void Engine::credit(std::uint32_t conn, std::size_t bytes) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  c.credit += bytes;
  service(c.relay, c.stream);
  after();
}

void Engine::close_write(std::uint32_t conn) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  c.close_write = true;
  c.channel->close_write();
  service(c.relay, c.stream);
  after();
}

void Engine::close(std::uint32_t conn) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  Relay& r = *relays_.at(it->second->relay);
  const auto stream = it->second->stream;
  if (r.mux) r.mux->reset(stream);
  r.tasks.erase(stream);
  conns_.erase(it);
  after();
}

void Engine::shutdown() {
  if (shut_) return;
  // A pending listen() ends CLOSED, before stopping the lease could make it look answered.
  if (listen_request_) {
    emit(Out::ListenDone, *listen_request_, 0, failure(make_error_code(client::Errc::Closed), ""));
    listen_request_.reset();
  }
  core_->stop_listening(now());
  apply_actions();
  for (std::uint32_t i = 0; i < relays_.size(); ++i) flush(i);
  shut_ = true;
  std::vector<std::uint32_t> ids;
  for (auto& [id, c] : conns_) ids.push_back(id);
  for (auto id : ids) conn_closed(id, make_error_code(client::Errc::Closed), "");
  std::vector<std::uint32_t> dials;
  for (auto& [id, d] : dials_) dials.push_back(id);
  for (auto id : dials) dial_finish(id, 0, make_error_code(client::Errc::Closed), "");
  for (std::uint32_t i = 0; i < relays_.size(); ++i) {
    Relay& r = *relays_[i];
    if (r.socket != 0) emit(Out::CloseSocket, i, r.socket, {});
    r.socket = 0;
    r.mux.reset();
    r.tasks.clear();
  }
  emit(Out::Timer, 0xffffffffu, 0, {});
}

}  // namespace portal::wasm
