// SPDX-License-Identifier: Apache-2.0
// The C functions portal.mjs calls. Strings are NUL-terminated UTF-8; lists are newline-separated.
// Every function checks its handle and arguments: a wrong call from JS is refused, never UB.
#include <emscripten/emscripten.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine.hpp"
#include "portal/base/log.hpp"
#include "portal/base/random.hpp"
#include "portal/identity/credential.hpp"

using portal::wasm::Engine;

namespace {

std::vector<std::string> lines(const char* text) {
  std::vector<std::string> out;
  if (text == nullptr) return out;
  std::string cur;
  for (const char* p = text; *p != '\0'; ++p) {
    if (*p == '\n') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(*p);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string str(const char* s) { return s == nullptr ? std::string() : std::string(s); }

// The last string handed to JS (an ID): valid until the next call that returns one.
std::string g_text;

// Log lines (the cores log through base::log) go to the engine being called, as Log records.
Engine* g_current = nullptr;

class Current {
 public:
  explicit Current(Engine* e) : previous_(g_current) {
    static const bool installed = [] {
      portal::base::set_log_sink(
          [](portal::base::LogLevel level, std::string_view component, std::string_view line) {
            if (g_current == nullptr) return;
            g_current->log_line(static_cast<int>(level),
                                std::string(component) + ": " + std::string(line));
          });
      return true;
    }();
    (void)installed;
    g_current = e;
  }
  ~Current() { g_current = previous_; }
  Current(const Current&) = delete;
  Current& operator=(const Current&) = delete;

 private:
  Engine* previous_;
};

}  // namespace

extern "C" {

// The smallest value of each timer, in the order of config::ClientTimers (the native client
// config refuses the same, client_config.cpp).
constexpr std::uint32_t kTimerMinimum[10] = {1, 100, 100, 100, 10, 10, 0, 100, 100, 1};
constexpr const char* kTimerName[10] = {
    "leaseTtlS",          "renewIntervalMs", "healthIntervalMs",       "healthTimeoutMs",
    "reconnectInitialMs", "reconnectMaxMs",  "reconnectJitterPercent", "requestTimeoutMs",
    "handshakeTimeoutMs", "acceptQueue"};

/// Why `timers` (10 values, as for portal_engine_new) cannot be used, or "" when they can.
EMSCRIPTEN_KEEPALIVE const char* portal_check_timers(const std::uint32_t* timers) {
  g_text.clear();
  for (int i = 0; i < 10; ++i) {
    if (timers[i] < kTimerMinimum[i]) {
      g_text = std::string("timers.") + kTimerName[i] + " must be at least " +
               std::to_string(kTimerMinimum[i]);
      break;
    }
  }
  if (g_text.empty() && timers[6] > 100)
    g_text = "timers.reconnectJitterPercent must be at most 100";
  if (g_text.empty() && timers[5] < timers[4]) {
    g_text = "timers.reconnectMaxMs must be at least timers.reconnectInitialMs";
  }
  return g_text.c_str();
}

/// A new client. `seed`: 32 bytes, or null for a fresh identity. `timers`: null, or 10 values in
/// the order of config::ClientTimers, checked with portal_check_timers first. Returns null when
/// the seed or the timers are unusable.
EMSCRIPTEN_KEEPALIVE Engine* portal_engine_new(const std::uint8_t* seed, const char* relays,
                                               const std::uint32_t* timers) {
  auto credential =
      seed != nullptr ? portal::identity::Credential::from_seed(portal::base::ByteSpan(seed, 32))
                      : portal::identity::Credential::generate(portal::base::OsRandom::instance());
  if (!credential) return nullptr;
  portal::wasm::EngineOptions o;
  o.relays = lines(relays);
  if (timers != nullptr) {
    if (*portal_check_timers(timers) != '\0') return nullptr;
    auto& t = o.timers;
    t.lease_ttl_s = timers[0];
    t.renew_interval_ms = timers[1];
    t.health_interval_ms = timers[2];
    t.health_timeout_ms = timers[3];
    t.reconnect_initial_ms = timers[4];
    t.reconnect_max_ms = timers[5];
    t.reconnect_jitter_percent = timers[6];
    t.request_timeout_ms = timers[7];
    t.handshake_timeout_ms = timers[8];
    t.accept_queue = timers[9];
  }
  return new Engine(std::move(*credential), std::move(o));
}

EMSCRIPTEN_KEEPALIVE void portal_engine_free(Engine* e) { delete e; }

EMSCRIPTEN_KEEPALIVE const char* portal_engine_id(Engine* e) {
  g_text = e != nullptr ? e->identity_id() : std::string();
  return g_text.c_str();
}

/// The ID of the identity a 32-byte seed makes ("" when the seed is unusable).
EMSCRIPTEN_KEEPALIVE const char* portal_identity_of_seed(const std::uint8_t* seed) {
  auto c = portal::identity::Credential::from_seed(portal::base::ByteSpan(seed, 32));
  g_text = c ? c->identity().id : std::string();
  return g_text.c_str();
}

/// Fills 32 bytes with a fresh seed from the platform's randomness. Returns 0 on success.
EMSCRIPTEN_KEEPALIVE int portal_random_seed(std::uint8_t* out) {
  return portal::base::OsRandom::instance().fill(portal::base::MutableByteSpan(out, 32)) ? 0 : -1;
}

EMSCRIPTEN_KEEPALIVE const std::uint8_t* portal_take_output(Engine* e, std::uint32_t* size) {
  if (e == nullptr || size == nullptr) return nullptr;
  auto out = e->take_output();
  *size = static_cast<std::uint32_t>(out.size());
  return out.data();
}

EMSCRIPTEN_KEEPALIVE void portal_socket_opened(Engine* e, std::uint32_t relay, std::uint32_t s) {
  Current current(e);
  if (e == nullptr) return;
  e->socket_opened(relay, s);
}
EMSCRIPTEN_KEEPALIVE void portal_socket_message(Engine* e, std::uint32_t relay, std::uint32_t s,
                                                const std::uint8_t* data, std::uint32_t size) {
  Current current(e);
  if (e == nullptr) return;
  e->socket_message(relay, s, portal::base::ByteSpan(data, size));
}
EMSCRIPTEN_KEEPALIVE void portal_socket_closed(Engine* e, std::uint32_t relay, std::uint32_t s,
                                               const char* reason) {
  Current current(e);
  if (e == nullptr) return;
  e->socket_closed(relay, s, str(reason));
}
EMSCRIPTEN_KEEPALIVE void portal_tick(Engine* e) {
  Current current(e);
  if (e == nullptr) return;
  e->tick();
}

EMSCRIPTEN_KEEPALIVE std::uint32_t portal_dial(Engine* e, const char* target, const char* alpn,
                                               int fresh_identity) {
  Current current(e);
  if (e == nullptr) return 0;
  return e->dial(str(target), str(alpn), fresh_identity != 0);
}
EMSCRIPTEN_KEEPALIVE std::uint32_t portal_listen(Engine* e, const char* name, const char* alpns,
                                                 const char* metadata) {
  Current current(e);
  if (e == nullptr) return 0;
  return e->listen(str(name), lines(alpns), str(metadata));
}
EMSCRIPTEN_KEEPALIVE void portal_stop_listening(Engine* e) {
  Current current(e);
  if (e == nullptr) return;
  e->stop_listening();
}
EMSCRIPTEN_KEEPALIVE void portal_incoming_taken(Engine* e) {
  Current current(e);
  if (e == nullptr) return;
  e->incoming_taken();
}

EMSCRIPTEN_KEEPALIVE std::uint32_t portal_write(Engine* e, std::uint32_t conn,
                                                const std::uint8_t* data, std::uint32_t size) {
  Current current(e);
  if (e == nullptr) return 0;
  return static_cast<std::uint32_t>(e->write(conn, portal::base::ByteSpan(data, size)));
}
EMSCRIPTEN_KEEPALIVE void portal_credit(Engine* e, std::uint32_t conn, std::uint32_t bytes) {
  Current current(e);
  if (e == nullptr) return;
  e->credit(conn, bytes);
}
EMSCRIPTEN_KEEPALIVE void portal_close_write(Engine* e, std::uint32_t conn) {
  Current current(e);
  if (e == nullptr) return;
  e->close_write(conn);
}
EMSCRIPTEN_KEEPALIVE void portal_close(Engine* e, std::uint32_t conn) {
  Current current(e);
  if (e == nullptr) return;
  e->close(conn);
}
EMSCRIPTEN_KEEPALIVE void portal_shutdown(Engine* e) {
  Current current(e);
  if (e == nullptr) return;
  e->shutdown();
}

}  // extern "C"
