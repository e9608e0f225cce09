// SPDX-License-Identifier: Apache-2.0
#include "tls.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>

#include "portal/base/log.hpp"
#include "portal/base/log_gate.hpp"
#include "portal/base/parse.hpp"
#include "portal/transport/transport.hpp"

namespace portal::plugins::tls {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;

base::ErrorCode invalid() { return transport::make_error_code(transport::Errc::InvalidSetting); }

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The reason of the last OpenSSL error (and the queue cleared), for a problem line.
std::string openssl_reason() {
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  const char* r = ERR_reason_error_string(e);
  return r != nullptr ? r : "OpenSSL error " + std::to_string(e);
}

std::string one_line(const X509_NAME* name) {
  if (name == nullptr) return "?";
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "?";
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data != nullptr && n > 0 ? std::string(data, static_cast<std::size_t>(n)) : "");
  BIO_free(bio);
  return out.empty() ? "(empty)" : out;
}

// SHA-256 of a certificate's SubjectPublicKeyInfo (DER), or nothing.
std::optional<std::array<unsigned char, 32>> spki_sha256(X509* cert) {
  if (cert == nullptr) return std::nullopt;
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
  if (len <= 0) return std::nullopt;
  std::array<unsigned char, 32> out{};
  unsigned int out_len = 0;
  const bool ok = EVP_Digest(der, static_cast<std::size_t>(len), out.data(), &out_len, EVP_sha256(),
                             nullptr) == 1 &&
                  out_len == out.size();
  OPENSSL_free(der);
  if (!ok) return std::nullopt;
  return out;
}

// ALPN protocols in wire form (length-prefixed names).
std::vector<unsigned char> alpn_wire(const std::vector<std::string>& names) {
  std::vector<unsigned char> out;
  for (const auto& n : names) {
    out.push_back(static_cast<unsigned char>(n.size()));
    out.insert(out.end(), n.begin(), n.end());
  }
  return out;
}

// A context with what it refers to (its ALPN list), released together.
struct Owned {
  explicit Owned(ssl::context::method m) : context(m) {}
  ssl::context context;
  std::vector<unsigned char> alpn;
};

int select_alpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                unsigned int in_len, void* arg) {
  const auto* ours = static_cast<const std::vector<unsigned char>*>(arg);
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_len, ours->data(),
                            static_cast<unsigned int>(ours->size()), in,
                            in_len) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no common protocol: go on without ALPN
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

int diagnosis_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Records the first certificate problem of a handshake (and changes no verdict).
int record_failure(int ok, X509_STORE_CTX* store) {
  if (ok == 1) return ok;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* d =
      ssl != nullptr ? static_cast<Diagnosis*>(SSL_get_ex_data(ssl, diagnosis_index())) : nullptr;
  if (d != nullptr && d->verify.empty()) {
    X509* cert = X509_STORE_CTX_get_current_cert(store);
    d->verify = std::string(X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)));
    if (cert != nullptr) {
      d->verify += " (subject " + one_line(X509_get_subject_name(cert)) + ", issuer " +
                   one_line(X509_get_issuer_name(cert)) + ")";
    }
  }
  return ok;
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

bool is_tls_key(std::string_view key) noexcept {
  return key == "cert_file" || key == "key_file" || key == "session_tickets" || key == "ca_file" ||
         key == "spki_sha256" || key == "server_name" || key == "handshake_timeout_ms";
}

base::Result<void> apply(std::string_view key, const std::string& value, Settings& s,
                         std::string& problem) {
  const std::string k(key);
  if (key == "cert_file" || key == "key_file" || key == "ca_file" || key == "server_name") {
    if (value.empty()) {
      problem = k + ": must not be empty";
      return invalid();
    }
    (key == "cert_file"  ? s.cert_file
     : key == "key_file" ? s.key_file
     : key == "ca_file"  ? s.ca_file
                         : s.server_name) = value;
    return {};
  }
  if (key == "session_tickets") {
    if (value != "true" && value != "false") {
      problem = k + ": expected true or false, got '" + value + "'";
      return invalid();
    }
    s.session_tickets = value == "true";
    return {};
  }
  if (key == "handshake_timeout_ms") {
    std::uint32_t n = 0;
    if (!base::parse_unsigned(value, n) || n == 0 || n > 600'000) {
      problem = k + ": expected 1 to 600000 milliseconds, got '" + value + "'";
      return invalid();
    }
    s.handshake_timeout = std::chrono::milliseconds(n);
    return {};
  }
  if (key == "spki_sha256") {
    s.pins.clear();
    std::size_t start = 0;
    while (start <= value.size()) {
      const auto end = std::min(value.find(',', start), value.size());
      const std::string pin = value.substr(start, end - start);
      std::array<unsigned char, 32> bytes{};
      bool ok = pin.size() == 64;
      for (std::size_t i = 0; ok && i < 32; ++i) {
        const int hi = hex_digit(pin[2 * i]);
        const int lo = hex_digit(pin[2 * i + 1]);
        ok = hi >= 0 && lo >= 0;
        bytes[i] = static_cast<unsigned char>(hi << 4 | lo);
      }
      if (!ok) {
        problem =
            k + ": expected comma-separated SHA-256 hex pins (64 digits each), got '" + pin + "'";
        return invalid();
      }
      s.pins.push_back(bytes);
      start = end + 1;
    }
    return {};
  }
  problem = k + ": unknown TLS setting";
  return invalid();
}

base::Result<void> validate(const Settings& s, const std::vector<std::string>& alpn,
                            std::string& problem) {
  if (!s.cert_file.empty() || !s.key_file.empty()) {
    if (auto c = server_context(s, alpn, problem); !c) return c.error();
  }
  if (!s.ca_file.empty()) {
    if (auto c = make_client_context(s, alpn, problem); !c) return c.error();
  }
  return {};
}

base::Result<void> check_scheme(const std::string& uri_text, const std::string& scheme,
                                std::string_view tls_scheme, bool has_tls_keys,
                                std::string_view component) {
  if (scheme == tls_scheme || !has_tls_keys) return {};
  base::log(base::LogLevel::Error, component,
            uri_text + ": TLS settings apply to " + std::string(tls_scheme) + ":// only, not " +
                scheme + "://");
  return invalid();
}

base::Result<std::shared_ptr<ssl::context>> server_context(const Settings& s,
                                                           const std::vector<std::string>& alpn,
                                                           std::string& problem) {
  if (s.cert_file.empty() || s.key_file.empty()) {
    problem = std::string(s.cert_file.empty() ? "cert_file" : "key_file") +
              ": required on a TLS listener (or --tls-cert and --tls-key)";
    return invalid();
  }
  struct stat st {};
  if (::stat(s.key_file.c_str(), &st) != 0) {
    problem = "key_file: " + s.key_file + ": cannot read it";
    return invalid();
  }
  if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    problem = "key_file: " + s.key_file + " is readable by others (mode " + mode +
              "); use 0600, or 0640 for a group such as ssl-cert";
    return invalid();
  }
  auto owned = std::make_shared<Owned>(ssl::context::tls_server);
  SSL_CTX* ctx = owned->context.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (!s.session_tickets) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
  }
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, s.cert_file.c_str()) != 1) {
    problem = "cert_file: " + s.cert_file + ": " + openssl_reason();
    return invalid();
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, s.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    problem =
        "key_file: " + s.key_file +
        (mismatch ? " does not match the certificate in " + s.cert_file : ": " + openssl_reason());
    ERR_clear_error();
    return invalid();
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    problem = "key_file: " + s.key_file + " does not match the certificate in " + s.cert_file;
    return invalid();
  }
  X509* cert = SSL_CTX_get0_certificate(ctx);
  if (cert != nullptr && X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
    problem = "cert_file: " + s.cert_file + ": the certificate has expired (subject " +
              one_line(X509_get_subject_name(cert)) + ")";
    return invalid();
  }
  if (cert != nullptr && X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
    problem = "cert_file: " + s.cert_file + ": the certificate is not valid yet";
    return invalid();
  }
  if (!alpn.empty()) {
    owned->alpn = alpn_wire(alpn);
    SSL_CTX_set_alpn_select_cb(ctx, &select_alpn, &owned->alpn);
  }
  return std::shared_ptr<ssl::context>(owned, &owned->context);
}

namespace {

// What changes when a file is replaced or rewritten (inode, size, modification time).
std::string file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "missing;";
  return std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ";";
}

}  // namespace

std::string ServerCredentials::stamp() const {
  return file_stamp(settings_.cert_file) + file_stamp(settings_.key_file);
}

base::Result<void> ServerCredentials::load(std::string& problem) {
  if (auto r = reload(false, problem); !r) return r.error();
  return {};
}

base::Result<bool> ServerCredentials::reload(bool if_changed, std::string& problem) {
  const std::string now = stamp();
  if (if_changed && current_ && now == stamp_) return false;
  auto next = server_context(settings_, alpn_, problem);
  if (!next) {
    stamp_ = now;  // refused once per change, not at every check
    return base::Result<bool>(boost::system::in_place_error, next.error());
  }
  current_ = std::move(*next);
  stamp_ = now;
  return true;
}

namespace {

// Loading the system store parses every certificate in it (about 20 ms for Debian's bundle), so
// client contexts are shared by the connections that would make the same one: same ca_file
// (unchanged on disk), same ALPN, same SSL_CERT_FILE/SSL_CERT_DIR. An entry is remade after
// kClientContextMaxAge, so a long-running client sees a changed system store.
constexpr auto kClientContextMaxAge = std::chrono::minutes(5);
constexpr std::size_t kClientContextCacheSize = 16;

struct CachedContext {
  std::string stamp;
  std::chrono::steady_clock::time_point made;
  std::shared_ptr<ssl::context> context;
};

std::string client_context_key(const Settings& s, const std::vector<std::string>& alpn) {
  // NUL cannot occur in a path, an ALPN protocol name in our settings, or the environment.
  std::string key = s.ca_file;
  for (const auto& a : alpn) key += '\0' + a;
  key += std::string(2, '\0');
  for (const char* env : {"SSL_CERT_FILE", "SSL_CERT_DIR"}) {
    const char* v = std::getenv(env);
    key += std::string(v != nullptr ? v : "") + '\0';
  }
  return key;
}

}  // namespace

base::Result<std::shared_ptr<ssl::context>> client_context(const Settings& s,
                                                           const std::vector<std::string>& alpn,
                                                           std::string& problem) {
  static std::mutex mutex;
  static std::map<std::string, CachedContext> cache;
  const auto key = client_context_key(s, alpn);
  const auto stamp = s.ca_file.empty() ? std::string() : file_stamp(s.ca_file);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex);
    if (auto it = cache.find(key); it != cache.end() && it->second.stamp == stamp &&
                                   now - it->second.made < kClientContextMaxAge) {
      return it->second.context;
    }
  }
  auto made = make_client_context(s, alpn, problem);
  if (!made) return made.error();
  std::lock_guard lock(mutex);
  if (cache.size() >= kClientContextCacheSize && !cache.contains(key)) cache.clear();
  cache[key] = CachedContext{stamp, now, *made};
  return made;
}

base::Result<std::shared_ptr<ssl::context>> make_client_context(
    const Settings& s, const std::vector<std::string>& alpn, std::string& problem) {
  auto owned = std::make_shared<Owned>(ssl::context::tls_client);
  SSL_CTX* ctx = owned->context.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
  ERR_clear_error();
  // The system store, where OpenSSL looks for it (SSL_CERT_FILE and SSL_CERT_DIR honoured).
  SSL_CTX_set_default_verify_paths(ctx);
  ERR_clear_error();
  if (!s.ca_file.empty() && SSL_CTX_load_verify_locations(ctx, s.ca_file.c_str(), nullptr) != 1) {
    problem = "ca_file: " + s.ca_file + ": " + openssl_reason();
    return invalid();
  }
  if (!alpn.empty()) {
    owned->alpn = alpn_wire(alpn);
    SSL_CTX_set_alpn_protos(ctx, owned->alpn.data(), static_cast<unsigned int>(owned->alpn.size()));
  }
  return std::shared_ptr<ssl::context>(owned, &owned->context);
}

base::Result<void> prepare_client(SSL* ssl, const Settings& s, const std::string& host,
                                  Diagnosis* diagnosis) {
  const std::string& name = s.server_name.empty() ? host : s.server_name;
  const bool ip = is_ip_literal(name);
  // SSL_set_tlsext_host_name() is a macro with an old-style cast.
  if (!ip && SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                      static_cast<void*>(const_cast<char*>(name.c_str()))) != 1) {
    ERR_clear_error();
    return invalid();
  }
  SSL_set_ex_data(ssl, diagnosis_index(), diagnosis);
  if (!s.pins.empty()) {
    // A pinned key replaces the chain and the name (a self-signed relay); checked afterwards.
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    return {};
  }
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                     : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
  if (set != 1) {
    ERR_clear_error();
    return invalid();
  }
  SSL_set_verify(ssl, SSL_VERIFY_PEER, &record_failure);
  return {};
}

bool pins_match(SSL* ssl, const Settings& s) {
  if (s.pins.empty()) return true;
  X509* cert = SSL_get1_peer_certificate(ssl);
  const auto hash = spki_sha256(cert);
  X509_free(cert);
  if (!hash) return false;
  for (const auto& pin : s.pins) {
    if (CRYPTO_memcmp(pin.data(), hash->data(), pin.size()) == 0) return true;
  }
  return false;
}

base::ErrorCode client_outcome(SSL* ssl, const Settings& s, const std::string& where,
                               const base::ErrorCode& handshake, const Diagnosis& diagnosis) {
  if (handshake) {
    base::log(base::LogLevel::Error, "tls", where + ": " + describe_failure(handshake, &diagnosis));
    return transport::make_error_code(transport::Errc::TlsFailed);
  }
  if (!pins_match(ssl, s)) {
    base::log(base::LogLevel::Error, "tls",
              where + ": the relay's public key matches no spki_sha256 pin");
    return transport::make_error_code(transport::Errc::TlsPinMismatch);
  }
  return {};
}

std::string spki_sha256_of_file(const std::string& path, std::string& problem) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    problem = path + ": cannot read it";
    return {};
  }
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  const auto hash = spki_sha256(cert);
  X509_free(cert);
  ERR_clear_error();
  if (!hash) {
    problem = path + ": no PEM certificate in it";
    return {};
  }
  return hex(hash->data(), hash->size());
}

void log_server_failure(const std::string& peer, const base::ErrorCode& e) {
  static std::mutex mutex;
  static base::LogGate gate;
  std::optional<std::string> line;
  {
    std::lock_guard lock(mutex);
    line = gate.pass("handshake with " + (peer.empty() ? std::string("?") : peer) +
                         " failed: " + describe_failure(e, nullptr),
                     std::chrono::steady_clock::now());
  }
  if (line) base::log(base::LogLevel::Warn, "tls", *line);
}

std::string describe_failure(const base::ErrorCode& e, const Diagnosis* diagnosis) {
  if (diagnosis != nullptr && !diagnosis->verify.empty()) {
    return "the relay's certificate was refused: " + diagnosis->verify;
  }
  if (e.category() == asio::error::get_ssl_category()) {
    const int reason = ERR_GET_REASON(static_cast<unsigned long>(e.value()));
    if (reason == SSL_R_HTTP_REQUEST || reason == SSL_R_WRONG_VERSION_NUMBER ||
        reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_HTTPS_PROXY_REQUEST ||
        reason == SSL_R_PACKET_LENGTH_TOO_LONG) {
      return "the peer does not speak TLS (a plaintext peer on a TLS port?): " + e.message();
    }
  }
  if (e == asio::ssl::error::stream_truncated || e == asio::error::eof) {
    return "the peer closed the connection during the TLS handshake (a plaintext peer?)";
  }
  return "TLS handshake failed: " + e.message();
}

}  // namespace portal::plugins::tls
