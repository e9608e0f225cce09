// SPDX-License-Identifier: Apache-2.0
#pragma once

// TLS for the transport plugins (OpenSSL through Boost.Asio's SSL streams): settings, server and
// client contexts, and the client's verification (system store plus an optional CA file, host
// name always checked, or SPKI pins instead for self-signed relays). OpenSSL and asio/ssl stay in
// the .cpp files; this header only names the types.

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "portal/base/result.hpp"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl
struct ssl_st;

namespace portal::plugins::tls {

/// The TLS settings of a transport scheme (`tls`, `wss`), all optional:
///   cert_file             a PEM certificate followed by its chain (listeners: required)
///   key_file              its PEM private key (listeners: required; refused when readable by
///                         others; group-readable is allowed, as Debian's ssl-cert group needs)
///   session_tickets       (false) TLS session tickets on a listener
///   ca_file               PEM CAs trusted besides the system store (SSL_CERT_FILE and
///                         SSL_CERT_DIR are honoured, as OpenSSL does)
///   spki_sha256           comma-separated hex SHA-256 pins of the server's public key; a match
///                         replaces chain and host name verification (self-signed relays)
///   server_name           the name sent as SNI and verified (default: the URI's host)
///   handshake_timeout_ms  (10000) the TLS handshake of one connection
struct Settings {
  std::string cert_file;
  std::string key_file;
  bool session_tickets = false;
  std::string ca_file;
  std::vector<std::array<unsigned char, 32>> pins;
  std::string server_name;
  std::chrono::milliseconds handshake_timeout{10'000};
};

/// Whether `key` is one of the keys above.
[[nodiscard]] bool is_tls_key(std::string_view key) noexcept;

/// Applies one key. Errors: transport::Errc::InvalidSetting, with `problem` naming the key.
[[nodiscard]] base::Result<void> apply(std::string_view key, const std::string& value,
                                       Settings& settings, std::string& problem);

/// The checks a transport's validate() owes its TLS settings: a listener's certificate and key
/// are loaded now (readable, matching, not expired), a client's ca_file too. Errors as
/// server_context() and client_context().
[[nodiscard]] base::Result<void> validate(const Settings& settings,
                                          const std::vector<std::string>& alpn,
                                          std::string& problem);

/// TLS keys belong to the TLS scheme (`tls_scheme`): on the plaintext one they would be silently
/// ignored, so `uri` with `has_tls_keys` on another scheme is refused with one line logged under
/// `component`. Errors: transport::Errc::InvalidSetting.
[[nodiscard]] base::Result<void> check_scheme(const std::string& uri_text,
                                              const std::string& scheme,
                                              std::string_view tls_scheme, bool has_tls_keys,
                                              std::string_view component);

/// A listener's context: TLS 1.2 at least (1.3 preferred), session tickets as set, and the
/// protocols of `alpn` offered (empty: no ALPN). Checks that both files are readable, that the
/// key is not world-readable and matches the certificate, and that the certificate is valid now.
/// Errors: transport::Errc::InvalidSetting, with `problem` one line naming the file.
[[nodiscard]] base::Result<std::shared_ptr<boost::asio::ssl::context>> server_context(
    const Settings& settings, const std::vector<std::string>& alpn, std::string& problem);

/// A listener's context that can be replaced while connections use the old one: each
/// connection takes current() when it starts and keeps it.
class ServerCredentials {
 public:
  ServerCredentials(Settings settings, std::vector<std::string> alpn)
      : settings_(std::move(settings)), alpn_(std::move(alpn)) {}
  /// Loads the files. Errors as server_context().
  [[nodiscard]] base::Result<void> load(std::string& problem);
  /// Loads them again (with `if_changed`, only when the certificate or key file changed: inode,
  /// size or modification time). On a problem the current context stays.
  [[nodiscard]] base::Result<bool> reload(bool if_changed, std::string& problem);
  [[nodiscard]] std::shared_ptr<boost::asio::ssl::context> current() const { return current_; }

 private:
  [[nodiscard]] std::string stamp() const;
  Settings settings_;
  std::vector<std::string> alpn_;
  std::shared_ptr<boost::asio::ssl::context> current_;
  std::string stamp_;  // of the files current_ was made from
};

/// A client's context: TLS 1.2 at least, the system store and `ca_file`, and `alpn` offered.
/// Shared by the connections that would make the same one (same ca_file unchanged on disk, same
/// ALPN and SSL_CERT_FILE/SSL_CERT_DIR), for at most five minutes: loading the system store
/// costs about 20 ms. Errors: transport::Errc::InvalidSetting (an unreadable or invalid ca_file).
[[nodiscard]] base::Result<std::shared_ptr<boost::asio::ssl::context>> client_context(
    const Settings& settings, const std::vector<std::string>& alpn, std::string& problem);
/// A new client context, as client_context() describes, never shared.
[[nodiscard]] base::Result<std::shared_ptr<boost::asio::ssl::context>> make_client_context(
    const Settings& settings, const std::vector<std::string>& alpn, std::string& problem);

/// What went wrong in a client handshake, for its one error line.
struct Diagnosis {
  std::string verify;  ///< the first certificate problem: reason, subject and issuer
};

/// Sets up one client connection before its handshake: SNI and host name verification for
/// `host` (or settings.server_name), or, with pins, no chain verification (checked after the
/// handshake with pins_match()). `diagnosis` must outlive the handshake.
[[nodiscard]] base::Result<void> prepare_client(ssl_st* ssl, const Settings& settings,
                                                const std::string& host, Diagnosis* diagnosis);

/// After a client handshake with pins: whether the server's public key matches one of them.
[[nodiscard]] bool pins_match(ssl_st* ssl, const Settings& settings);

/// The outcome of a client handshake with `where` (a URI, for the log line): nothing when it
/// succeeded and the pins (if any) match; otherwise the reason is logged in one line and the
/// error is transport::Errc::TlsFailed or TlsPinMismatch.
[[nodiscard]] base::ErrorCode client_outcome(ssl_st* ssl, const Settings& settings,
                                             const std::string& where,
                                             const base::ErrorCode& handshake,
                                             const Diagnosis& diagnosis);

/// The hex SHA-256 of the SubjectPublicKeyInfo of the first certificate in PEM file `path`
/// (what spki_sha256 pins), or an empty string with `problem` set.
[[nodiscard]] std::string spki_sha256_of_file(const std::string& path, std::string& problem);

/// Logs a listener's failed handshake with `peer` ("tls" component, warn), at most one line a
/// second per process with the number left out: a flood of plaintext peers buys no log volume.
void log_server_failure(const std::string& peer, const base::ErrorCode& e);

/// One line for a failed handshake: the certificate problem when there was one, a plaintext peer
/// on a TLS port, or the OpenSSL reason.
[[nodiscard]] std::string describe_failure(const base::ErrorCode& e, const Diagnosis* diagnosis);

}  // namespace portal::plugins::tls
