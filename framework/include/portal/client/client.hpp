// SPDX-License-Identifier: Apache-2.0
#pragma once

// The client SDK (portal-v1 §6.7, §7, §8, §11): one identity, a list of relays, leases kept
// registered and renewed on every relay, end-to-end encrypted streams in both directions.
//
//   auto stack = client::assemble(config, error);                 // plugins, mux, cipher
//   auto c = co_await client::Client::connect(ex, credential, stack, options);
//   auto l = co_await (*c)->listen("my-service", {"http/1.1"});   // lease on every relay
//   auto s = co_await (*l)->accept();                             // a SecureStream
//   auto d = co_await (*c)->dial("my-service", "http/1.1");       // by name or by ID
//
// Threading: a client and everything it owns run on one executor (an io_context run by one
// thread, or a strand); call every member from it. portal/client/blocking.hpp wraps a client
// for programs without an event loop. No thread per relay or per stream. Destroy the client (and
// its streams) before the io_context it runs on, and keep its Stack (the loaded plugins) alive
// until that io_context is gone. Calls are not cancellable: await them to completion (each is
// bounded by the configured timeouts).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "portal/base/clock.hpp"
#include "portal/base/export.hpp"
#include "portal/base/random.hpp"
#include "portal/base/result.hpp"
#include "portal/cipher/aead_factory.hpp"
#include "portal/client/errors.hpp"
#include "portal/client/resolve.hpp"
#include "portal/config/client_config.hpp"
#include "portal/identity/credential.hpp"
#include "portal/mux/mux.hpp"
#include "portal/plugin/host.hpp"
#include "portal/secure_stream/secure_stream.hpp"
#include "portal/transport/transport.hpp"
#include "portal/wire/control.hpp"

namespace portal::client {

/// What a client runs on: the loaded plugins and the factories resolved from them.
struct Stack {
  std::unique_ptr<plugin::Host> host;  ///< keeps the plugins loaded
  /// The mux plugin's factory: one session over each relay connection.
  std::shared_ptr<mux::MuxFactory> mux;
  /// Validated settings for `mux`, passed to every session it creates.
  mux::Settings mux_settings;
  /// The v1 channel's cipher factory (chacha20-poly1305); null when the config's `ciphers` leave
  /// it out (then `channel_mode` is Negotiated).
  std::shared_ptr<cipher::AeadFactory> cipher;
  /// The v1 channel's AEAD; v1 peers speak only "chacha20-poly1305".
  std::string cipher_name = "chacha20-poly1305";
  /// One plugin that provides an algorithm, with its speed measured at assembly.
  struct CipherCandidate {
    std::string plugin_id;        ///< the plugin's descriptor id, e.g. "portal.cipher.openssl"
    double bytes_per_second = 0;  ///< sealing 16 KiB messages, measured once (0: not measured)
  };
  /// One algorithm of the client's cipher list, resolved to a plugin.
  struct Cipher {
    std::string algorithm;                         ///< e.g. "aes-256-gcm"
    std::shared_ptr<cipher::AeadFactory> factory;  ///< the active implementation
    /// Every plugin that provides it (or the configured one), the active one first. When there
    /// are several, each was timed for a few milliseconds and the fastest made active.
    std::vector<CipherCandidate> candidates;
  };
  /// The end-to-end ciphers in preference order: what the negotiated channel offers.
  std::vector<Cipher> ciphers;
  /// Which channel to speak (config key `channel`).
  handshake::ChannelMode channel_mode = handshake::ChannelMode::Auto;
  std::map<std::string, transport::Settings, std::less<>> transport_settings;  ///< by scheme
  /// By relay URI, where one differs from its scheme's (a relay's own pins).
  std::map<std::string, transport::Settings, std::less<>> relay_settings;
  std::vector<std::string> warnings;  ///< plugin files that were refused, one line each
};

/// Loads the plugins of `config` and resolves the mux, the cipher and the transport of every
/// relay in `config.relays`, validating every setting. On failure returns null and sets `error`
/// to one line naming the key or plugin at fault.
[[nodiscard]] PORTAL_API std::shared_ptr<Stack> assemble(const config::ClientConfig& config,
                                                         std::string& error);

/// Sets the cipher fields of `secure` from `stack`: the v1 cipher, the channel mode and the
/// negotiated channel's cipher list, as the client's own streams use them.
PORTAL_API void use_ciphers(const Stack& stack, stream::SecureStreamConfig& secure);

/// What Client::connect() needs besides the credential and the Stack.
struct Options {
  std::vector<std::string> relays;  ///< relay URIs (config::normalize_relay_uri applied)
  /// Lease TTL and renewal, health checks, reconnect back-off, request and handshake deadlines.
  config::ClientTimers timers;
  /// Source of nonces, ephemeral keys and reconnect jitter; must outlive the client. Only tests
  /// replace the OS CSPRNG.
  base::RandomSource* random = &base::OsRandom::instance();
  /// Source of the timestamps in signed requests and handshakes, and of timer readings; must
  /// outlive the client.
  base::Clock* clock = &base::SystemClock::instance();
};

/// A relay going up (connected, leases registered) or down (with the reason).
struct RelayEvent {
  std::string relay;  ///< its URI
  /// True: the relay is connected and the listener's lease (if any) registered on it; false: it
  /// went down.
  bool up = false;
  std::string detail;  ///< why it went down, or the relay's ID when it came up
};

/// One relay's state, as Client::relays() reports it.
struct RelayStatus {
  /// The relay's URI, as in Options::relays.
  std::string relay;
  /// True while a mux session to the relay is open; false while it is being (re)connected.
  bool up = false;
  std::string relay_id;    ///< from RelayInfo, once known
  std::string last_error;  ///< why the last attempt or session failed
};

/// The answer of one relay to RelayInfo.
struct RelayInfoResult {
  /// The relay's URI, as in Options::relays.
  std::string relay;
  /// Its answer, or why there is none (the request's error, its timeout, or Errc::NoRelay when
  /// the session went away first).
  base::Result<wire::RelayInfo> info;
};

/// One lease, registered on every relay of its client while it is open.
class PORTAL_API Listener {
 public:
  struct Impl;
  /// Made by Client::listen() only (Impl is private to the SDK).
  explicit Listener(std::shared_ptr<Impl> impl);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();  ///< closes the listener in the background if close() was not awaited

  /// The next incoming connection, after a successful end-to-end handshake (peer() is the
  /// dialer's authenticated identity, alpn() the negotiated protocol).
  /// Errors: Errc::Closed once the listener or the client is closed.
  boost::asio::awaitable<base::Result<std::unique_ptr<stream::SecureStream>>> accept();

  /// Stops accepting, deletes the lease on every connected relay (signed LeaseDelete), and fails
  /// pending accept() calls with Errc::Closed. Idempotent.
  boost::asio::awaitable<void> close();

  /// The lease name given to Client::listen() (may be empty: an unnamed lease, reached by ID).
  [[nodiscard]] const std::string& name() const noexcept;
  /// The application protocols the lease accepts, as given to Client::listen().
  [[nodiscard]] const std::vector<std::string>& alpns() const noexcept;
  /// The relays that accepted the lease at the last registration or renewal.
  [[nodiscard]] std::vector<std::string> registered_on() const;

 private:
  std::shared_ptr<Impl> impl_;
};

/// A connection to a set of relays under one identity: publishes one lease (listen()), dials
/// others' (dial()), and keeps every relay connected, renewing and reconnecting in the
/// background. Shared ownership: Listener and background tasks hold it. Everything runs on the
/// executor given to connect(), which must be single-threaded; call every member from it.
/// Destroy the client before its io_context, and keep the Stack alive until the io_context is
/// gone. For programs without an event loop, see BlockingClient.
class PORTAL_API Client {
 public:
  struct Impl;

  /// Connects to every relay of `options` (in parallel) and starts the renewal, health and
  /// reconnect machinery. Completes as soon as one relay is up (a slow relay does not hold it
  /// back); fails only when every relay's first attempt failed (Errc::NoRelay; `detail`, when
  /// given, gets one line per relay with its error). Relays not up keep being retried.
  static boost::asio::awaitable<base::Result<std::shared_ptr<Client>>> connect(
      boost::asio::any_io_executor executor, identity::Credential credential,
      std::shared_ptr<Stack> stack, Options options, std::string* detail = nullptr);

  /// Made by connect() only (Impl is private to the SDK).
  explicit Client(std::shared_ptr<Impl> impl);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();  ///< closes everything at once (use close() to delete leases first)

  /// The identity the client signs its leases and handshakes with (the one given to connect()).
  [[nodiscard]] const identity::Credential& credential() const noexcept;

  /// Registers a lease for this client's identity on every connected relay, and on every relay
  /// that connects later, renewing it at the configured cadence. Fails when the name is invalid
  /// (Errc::InvalidName), a listener is already open (Errc::AlreadyListening), no relay is
  /// connected (Errc::NoRelay), or no relay accepted the lease (Errc::LeaseRefused; `detail`
  /// gets each relay's answer). `metadata` is v1's JSON text (may be empty).
  boost::asio::awaitable<base::Result<std::shared_ptr<Listener>>> listen(
      std::string name, std::vector<std::string> alpns, std::string metadata = {},
      std::string* detail = nullptr);

  /// Opens an end-to-end encrypted stream to `target` with one ALPN. A target of the form of an
  /// ID (any letter case) is dialed as that ID; anything else is resolved as a name, exact match
  /// first, then case-insensitively, afresh on every call (resolve_target(), resolve.hpp). A
  /// relay whose RelayInfo does not list the target but advertises lease lookups is asked for it
  /// (docs/adr/0016-lease-lookup.md), and lists what it answers. Every relay that lists the lease
  /// is tried in turn until one works.
  /// Errors: Errc::NotFound, Errc::Ambiguous (the name matches more than one identity),
  /// Errc::HolderRefused, Errc::LeaseGone, Errc::NoRelay, handshake errors (with the reason);
  /// `detail` gets one line per relay tried, or the candidate IDs.
  boost::asio::awaitable<base::Result<std::unique_ptr<stream::SecureStream>>> dial(
      std::string target, std::string alpn, std::string* detail = nullptr);

  /// The lease named `name` (as dial() resolves it, lease lookups included) on the first connected
  /// relay listing it.
  /// Errors: Errc::NotFound, Errc::Ambiguous, Errc::NoRelay.
  boost::asio::awaitable<base::Result<Found>> lookup(std::string name);

  /// RelayInfo from every connected relay, in parallel.
  boost::asio::awaitable<std::vector<RelayInfoResult>> relay_info();

  /// Every relay and whether it is connected.
  [[nodiscard]] std::vector<RelayStatus> relays() const;

  /// Called on the client's executor whenever a relay goes up or down. Capture the client
  /// weakly, if at all (a strong reference would keep it alive forever); an exception thrown
  /// by the callback is logged and ignored.
  void on_relay_event(std::function<void(const RelayEvent&)> callback);

  /// Closes the listener (deleting its lease), then every relay session. Idempotent.
  boost::asio::awaitable<void> close();

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace portal::client
