// SPDX-License-Identifier: Apache-2.0
#pragma once

// The JS SDK's engine: the client's second driver (client.cpp is the first), compiled to
// WebAssembly. It owns every protocol object of a Portal client (the ClientCore, a yamux session
// per relay, control requests, handshakes and secure channels) and makes every decision: when to
// connect and reconnect, what to renew, how a dial target resolves, which candidate to try.
// JavaScript only moves bytes: it opens the WebSockets the engine asks for, feeds their messages
// in, sends what the engine queues, arms the one timer, and turns connections into streams.
//
// Calls come in through the C functions of exports.cpp. What the engine wants done is queued as
// records (see Out) that JS takes after each call with take_output().

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "portal/base/bytes.hpp"
#include "portal/base/clock.hpp"
#include "portal/base/random.hpp"
#include "portal/client/core.hpp"
#include "portal/control/client.hpp"
#include "portal/handshake/handshake.hpp"
#include "portal/handshake/replay_cache.hpp"
#include "portal/identity/credential.hpp"
#include "portal/secure_channel/secure_channel.hpp"
#include "portal/yamux/session.hpp"

namespace portal::wasm {

/// What the engine asks JS to do, or tells it. Each record is: kind (u8), a (u32), b (u32),
/// length (u32), then `length` bytes, little-endian.
enum class Out : std::uint8_t {
  OpenSocket = 1,  ///< a: relay, b: socket number; bytes: the URL
  Send,            ///< a: relay, b: socket number; bytes: one binary message
  CloseSocket,     ///< a: relay, b: socket number
  Timer,           ///< a: milliseconds from now (0xffffffff: none)
  RelayUp,         ///< a: relay; bytes: the relay's ID
  RelayDown,       ///< a: relay, b: 1 when a connection attempt failed (it was not up); bytes: why
  DialDone,        ///< a: request, b: connection (0: failed); bytes: "CODE\nmessage" or
                   ///< "peerId\nalpn"
  ListenDone,      ///< a: request, b: 1 ok / 0 failed; bytes: "CODE\nmessage" when failed
  Incoming,        ///< a: connection; bytes: "peerId\nalpn"
  Data,            ///< a: connection; bytes: plaintext
  Eof,             ///< a: connection: the peer will send no more
  Closed,          ///< a: connection; bytes: "" or "CODE\nmessage": the connection is gone
  Writable,        ///< a: connection: writes are accepted again
  Log,             ///< a: level (0 debug .. 3 error); bytes: the line
};

struct EngineOptions {
  std::vector<std::string> relays;
  config::ClientTimers timers;
  std::size_t max_buffered_write = 256 * 1024;  ///< per connection, sealed and not yet sent
};

class Engine {
 public:
  Engine(identity::Credential credential, EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // ---- from JS: sockets and time ----
  void socket_opened(std::uint32_t relay, std::uint32_t socket);
  void socket_message(std::uint32_t relay, std::uint32_t socket, base::ByteSpan bytes);
  void socket_closed(std::uint32_t relay, std::uint32_t socket, const std::string& reason);
  void tick();

  // ---- from JS: the API ----
  /// `fresh_identity`: this connection's handshake uses a new identity instead of the client's
  /// (the browser path does, as v1 does).
  std::uint32_t dial(const std::string& target, const std::string& alpn,
                     bool fresh_identity = false);
  std::uint32_t listen(const std::string& name, std::vector<std::string> alpns,
                       const std::string& metadata);
  void stop_listening();
  /// Accepts up to `size` bytes; 0 means "wait for Writable". Closed connections accept nothing.
  std::size_t write(std::uint32_t conn, base::ByteSpan bytes);
  /// JS can take `bytes` more of plaintext.
  void credit(std::uint32_t conn, std::size_t bytes);
  void close_write(std::uint32_t conn);
  void close(std::uint32_t conn);
  /// The application took an incoming connection from the listener's queue.
  void incoming_taken();
  void shutdown();

  [[nodiscard]] const std::string& identity_id() const noexcept { return id_; }
  /// Queues a log line for JS (level 0 debug .. 3 error).
  void log_line(int level, std::string_view line);
  /// The records queued since the last call; valid until the next call into the engine.
  [[nodiscard]] base::ByteSpan take_output();

 private:
  struct Relay;
  struct Task;
  struct Conn;
  struct DialRequest;
  struct ListenRequest;

  base::Now now() const;
  yamux::Time steady() const;
  void emit(Out kind, std::uint32_t a, std::uint32_t b, std::string_view bytes);
  void attempt_failed(std::uint32_t relay, const std::string& why);
  void after();  // applies the core's actions, flushes sessions, re-arms the timer
  void apply_actions();
  void flush(std::uint32_t relay);
  void arm_timer();

  void drop_session(std::uint32_t relay, const std::string& reason);
  void poll_session(std::uint32_t relay);
  void service(std::uint32_t relay, std::uint32_t stream);
  bool pump_input(std::uint32_t relay, std::uint32_t stream, Task& t);
  void finish_task(std::uint32_t relay, std::uint32_t stream, base::ErrorCode error,
                   const std::string& detail);
  std::optional<std::uint32_t> open_task(std::uint32_t relay, Task task);

  void request_done(std::uint32_t relay, std::uint32_t stream, Task& t);
  void handshake_done(std::uint32_t relay, std::uint32_t stream, Task& t);
  void deliver(Conn& c);
  void conn_closed(std::uint32_t conn, base::ErrorCode error, const std::string& detail);

  void dial_step(DialRequest& d);
  void dial_info(std::uint32_t dial, std::size_t slot, std::optional<wire::RelayInfo> info,
                 const std::string& error);
  void dial_lookup(std::uint32_t dial, std::size_t slot,
                   std::optional<wire::LeaseLookupResponse> answer);
  void dial_resolve(DialRequest& d);
  void dial_try_next(DialRequest& d);
  void dial_finish(std::uint32_t dial, std::uint32_t conn, base::ErrorCode error,
                   const std::string& detail);
  void listen_check();

  std::string id_;
  identity::Credential credential_;
  EngineOptions o_;
  base::OsRandom& random_;
  base::SystemClock clock_;
  handshake::ReplayCache replay_;
  std::unique_ptr<client::ClientCore> core_;
  std::vector<std::unique_ptr<Relay>> relays_;
  std::map<std::uint32_t, std::unique_ptr<Conn>> conns_;
  std::map<std::uint32_t, std::unique_ptr<DialRequest>> dials_;
  std::optional<std::uint32_t> listen_request_;
  base::Clock::SteadyTime listen_deadline_{};
  std::vector<std::string> listen_alpns_;
  std::uint32_t next_id_ = 1;
  bool shut_ = false;
  std::vector<base::Byte> out_;
  std::vector<base::Byte> handed_;
};

}  // namespace portal::wasm
