// SPDX-License-Identifier: Apache-2.0
// The transport conformance suites (kit/) on the shipped transports, loaded from the build tree's
// plugin folder: tcp:// and tls:// (portal-transport-tcp), ws:// and wss:// (portal-transport-ws).
#include "portal/conformance/transport.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "support/scale.hpp"

namespace {

using portal::conformance::TransportParams;

std::filesystem::path plugin_file(const std::string& name) {
  return std::filesystem::path(PORTAL_BUILD_PLUGIN_DIR) / (name + ".so");
}

// A CA and a certificate for 127.0.0.1 signed by it, made with the openssl command. Every test
// runs in its own process (gtest_discover_tests), so the files are kept in the build tree and
// made again only when older than a day (they are valid for two): made in a private directory,
// then renamed into place, so concurrent processes never see a partial set.
std::filesystem::path pki() {
  static const std::filesystem::path dir = [] {
    namespace fs = std::filesystem;
    const fs::path final_dir = PORTAL_CONFORMANCE_PKI_DIR;
    std::error_code ec;
    const auto made = fs::last_write_time(final_dir / "relay.pem", ec);
    if (!ec && fs::file_time_type::clock::now() - made < std::chrono::hours(24)) return final_dir;
    fs::create_directories(final_dir.parent_path());
    std::string tmpl = final_dir.string() + ".XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp " + tmpl);
    const std::string p = tmpl;
    std::ofstream(p + "/san") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    const std::string curve = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    for (const std::string& args :
         {"req -x509 " + curve + " -keyout ca.key -out ca.pem -days 2 -subj '/CN=Conformance CA'",
          "req " + curve + " -keyout relay.key -out relay.csr -subj '/CN=relay'",
          std::string("x509 -req -in relay.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                      "-out relay.pem -days 2 -extfile san")}) {
      const std::string cmd = "cd '" + p + "' && openssl " + args + " >/dev/null 2>&1";
      if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl " + args + ": failed");
    }
    ::chmod((p + "/ca.key").c_str(), 0600);
    ::chmod((p + "/relay.key").c_str(), 0600);
    // Replace a stale set; if another process got there first, use its set.
    const fs::path old = final_dir.string() + ".old." + std::to_string(::getpid());
    fs::rename(final_dir, old, ec);
    fs::rename(p, final_dir, ec);
    fs::remove_all(ec ? fs::path(p) : old, ec);
    fs::remove_all(old, ec);
    return final_dir;
  }();
  return dir;
}

portal::transport::Settings server_tls() {
  return {{"cert_file", (pki() / "relay.pem").string()},
          {"key_file", (pki() / "relay.key").string()}};
}

portal::transport::Settings client_tls() { return {{"ca_file", (pki() / "ca.pem").string()}}; }

TransportParams tcp() {
  TransportParams p;
  p.name = "tcp";
  p.plugin = plugin_file("portal-transport-tcp");
  p.listen_uri = "tcp://127.0.0.1:0";
  p.large_transfer_bytes = portal::test::scaled(4u << 20, 1u << 20);
  p.bad_connect_uris = {"tcp://127.0.0.1:0", "tcp://0.0.0.0:0"};
  p.idle_settings = {{"idle_timeout_ms", "300"}};
  p.idle_timeout = std::chrono::milliseconds(300);
  return p;
}

TransportParams tls() {
  TransportParams p = tcp();
  p.name = "tls";
  p.listen_uri = "tls://127.0.0.1:0";
  p.listen_settings = server_tls();
  p.connect_settings = client_tls();
  p.bad_connect_uris = {"tls://127.0.0.1:0"};
  return p;
}

TransportParams ws() {
  TransportParams p;
  p.name = "ws";
  p.plugin = plugin_file("portal-transport-ws");
  p.listen_uri = "ws://127.0.0.1:0/relay";
  p.large_transfer_bytes = portal::test::scaled(4u << 20, 1u << 20);
  p.half_close = false;  // WebSocket: async_shutdown_write is the closing handshake
  p.bad_connect_uris = {"ws://127.0.0.1:0/relay"};
  p.idle_settings = {{"idle_timeout_ms", "300"}};
  p.idle_timeout = std::chrono::milliseconds(300);
  return p;
}

TransportParams wss() {
  TransportParams p = ws();
  p.name = "wss";
  p.listen_uri = "wss://127.0.0.1:0/relay";
  p.listen_settings = server_tls();
  p.connect_settings = client_tls();
  p.bad_connect_uris = {"wss://127.0.0.1:0/relay"};
  return p;
}

}  // namespace

PORTAL_TRANSPORT_CONFORMANCE(Shipped, ::testing::Values(tcp(), tls(), ws(), wss()));
PORTAL_TRANSPORT_IDLE_CONFORMANCE(Shipped, ::testing::Values(tcp(), tls(), ws(), wss()));
