// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the relay's HTTP surface as a client reaches it. The input's first byte picks the
// listener (the relay's ws:// listener or its http:// admin listener), the limits, how the bytes
// arrive (all at once, in small reads, or stopping after each header block as a client that waits
// for answers) and whether the peer is a trusted proxy; the rest is
// what the client sends on one connection. The ws transport's own connection code runs it
// (plugins/transport-ws/ws_testing.hpp: Beast's request parser with the listener's limits, the
// gate, the routes, the upgrade), on an in-memory stream, with the relay's real route handlers
// registered as Relay::serve() and Relay::serve_admin() register them: the browser path's gate
// (BrowserSite::answer, with frontend files written at start), the pages and JSON renderers,
// and the admin API (bearer token, then ops::answer_admin on a relay core in virtual time).
// Checked: what the server writes starts with a well-formed status line, an upgraded stream
// reads no more than was sent and knows its peer, and no exception escapes the connection.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "portal/base/encoding.hpp"
#include "portal/base/log.hpp"
#include "portal/crypto/sha256.hpp"
#include "portal/relay/core.hpp"
#include "relay/admin.hpp"
#include "relay/browser.hpp"
#include "relay/http.hpp"
#include "ws_testing.hpp"

using namespace portal;
namespace fs = std::filesystem;
using transport::HttpRequest;
using transport::HttpResponse;

namespace {

constexpr const char* kToken = "fuzz-admin-token-0123456789abcdef";

void write_file(const fs::path& p, std::string_view text) {
  std::ofstream out(p, std::ios::binary);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

std::string content_name(std::string_view bytes, std::string_view ext) {
  return base::hex_encode(crypto::sha256(base::as_bytes(bytes))) + std::string(ext);
}

// The browser client's files (what the wasm preset builds), small: written once per process.
const fs::path& frontend_dir() {
  static const fs::path dir = [] {
    const auto d =
        fs::temp_directory_path() / ("portal-fuzz-frontend-" + std::to_string(::getpid()));
    fs::create_directories(d);
    const std::string sdk = "export const sdk = 1;\n";
    const std::string wasm = std::string("\0asm\1\0\0\0", 8);
    const auto sdk_name = content_name(sdk, ".mjs");
    const auto wasm_name = content_name(wasm, ".wasm");
    write_file(d / sdk_name, sdk);
    write_file(d / (sdk_name + ".br"), "br-bytes");
    write_file(d / (sdk_name + ".gz"), "gz-bytes");
    write_file(d / wasm_name, wasm);
    write_file(d / "loader.html", "<!doctype html><title>loader</title>\n");
    write_file(d / "ws-polyfill.js", "/* polyfill */\n");
    write_file(d / "service-worker.js",
               "const relays = __PORTAL_RELAYS__; import('__PORTAL_SDK__'); '__PORTAL_WASM__';\n");
    write_file(d / "manifest.json",
               "{\"sdk\": \"" + sdk_name + "\", \"wasm\": \"" + wasm_name + "\"}\n");
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(frontend_dir(), ec);
    });
    return d;
  }();
  return dir;
}

const relay::BrowserSite& browser_site() {
  static const relay::BrowserSite site(
      relay::BrowserOptions{"http://localhost:4017",
                            {},
                            frontend_dir().string(),
                            {"ws://relay.localhost:4017/relay", "tcp://127.0.0.1:4018"},
                            {"www", "admin"}},
      [](const std::string&) {});
  return site;
}

// A snapshot with leases whose names and metadata need escaping, one of them hidden.
const relay::HttpView& view() {
  static const relay::HttpView v = [] {
    relay::HttpView h;
    h.relay_id = "RELAYIDRELAYIDRELAYIDRELAY";
    h.advertise = {"ws://relay.localhost:4017/relay"};
    h.listeners = {"ws://127.0.0.1:4017/relay"};
    h.now = 1'762'473'600;
    h.uptime_seconds = 4000;
    h.leases.push_back({"AAAAAAAAAAAAAAAAAAAAAAAAAA",
                        "web<script>\"&'",
                        {"http/1.1", "x\ny"},
                        h.now + 30,
                        h.now - 3,
                        "{\"description\":\"<b>\"}",
                        2});
    h.leases.push_back(
        {"BBBBBBBBBBBBBBBBBBBBBBBBBB", "hidden", {}, h.now + 30, h.now, "{\"hide\":true}", 0});
    h.leases.push_back(
        {"CCCCCCCCCCCCCCCCCCCCCCCCCC", "bad-meta", {}, h.now + 30, h.now, "{not json", 0});
    h.answers[{1, 1}] = 3;
    h.refusals["not_allowed"] = 1;
    h.admin = true;
    h.bans["address"] = 1;
    h.approval = true;
    h.pending = 1;
    h.app_prefix = "http://";
    h.app_suffix = ".localhost:4017/";
    h.connect_relay = "ws://relay.localhost:4017/relay";
    return h;
  }();
  return v;
}

const identity::Credential& relay_identity() {
  static const auto id = *identity::Credential::from_seed(base::Bytes(32, 7));
  return id;
}

bool status_line_ok(std::string_view written) {
  // Every answer starts "HTTP/1.1 NNN " (or HTTP/1.0 for a 1.0 request); only the first is
  // checked in full, the rest must at least be where a previous answer ended.
  if (written.empty()) return true;
  if (written.size() < 13) return false;
  if (written.substr(0, 7) != "HTTP/1.") return false;
  for (std::size_t i = 9; i < 12; ++i) {
    if (written[i] < '0' || written[i] > '9') return false;
  }
  return written[12] == ' ';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The admin API logs every change, and route handlers log their failures: quiet, unless
  // PORTAL_FUZZ_DEBUG is set (which also prints what the server wrote).
  static const bool debug = std::getenv("PORTAL_FUZZ_DEBUG") != nullptr;
  static const bool quiet = [] {
    if (!debug) base::set_log_level(base::LogLevel::Off);
    return true;
  }();
  (void)quiet;
  const std::uint8_t flags = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  base::ManualClock clock{base::Clock::SystemTime{std::chrono::seconds{1'762'473'600}}};
  relay::CoreOptions o;
  o.access = relay::AccessMode::Approval;
  o.log = [](base::LogLevel, const std::string&) {};
  relay::Core core(relay_identity(), o, relay::now_of(clock));

  const bool admin_listener = (flags & 1) != 0;
  const bool noindex = (flags & 2) != 0;
  auto tagged = [noindex](HttpResponse r) {
    if (noindex && r.status != 0) r.headers.emplace_back("X-Robots-Tag", "noindex, nofollow");
    return r;
  };
  auto page = [tagged](HttpResponse (*render)(const relay::HttpView&, const HttpRequest&)) {
    return [tagged, render](const HttpRequest& req) { return tagged(render(view(), req)); };
  };

  plugins::ws::testing::Connection c;
  c.http_only = admin_listener;
  if ((flags & 4) != 0) {  // small limits: the refusals are reached
    c.options.max_request_bytes = 512;
    c.options.max_message_size = 256;
    c.options.max_write_message = 100;
  }
  static constexpr std::size_t kChunks[] = {0, 1, 7, 300};
  c.read_chunk = kChunks[(flags >> 3) & 3];
  c.via_proxy = (flags & 32) != 0;
  if ((flags & 64) != 0) {  // a client that waits for each answer (and for the 101)
    for (auto at = input.find("\r\n\r\n"); at != std::string_view::npos;
         at = input.find("\r\n\r\n", at + 4)) {
      c.stops.push_back(at + 4);
    }
  }
  c.hooks.trusted_proxy = [](const std::string& a) { return a.rfind("192.0.2.", 0) == 0; };
  c.hooks.admit = [](const stream::PeerInfo& peer) -> std::shared_ptr<void> {
    if (peer.address == "203.0.113.66") return nullptr;  // a client over its limit
    return std::make_shared<int>(0);
  };

  // As Relay::serve() (the relay's listener) and Relay::serve_admin() register them.
  c.routes.emplace_back("/healthz", page(&relay::http_healthz));
  c.routes.emplace_back("/metrics", page(&relay::http_metrics));
  c.routes.emplace_back("/api/leases", page(&relay::http_api_leases));
  c.routes.emplace_back("/api/relay", page(&relay::http_api_relay));
  if (!admin_listener) {
    c.routes.emplace_back("/", page(&relay::http_index));
    if (noindex) {
      c.routes.emplace_back("/robots.txt", [tagged](const HttpRequest&) {
        return tagged(
            HttpResponse{200, "text/plain; charset=utf-8", "User-agent: *\nDisallow: /\n", {}});
      });
    }
    c.routes.emplace_back(
        "*", [tagged](const HttpRequest& req) { return tagged(browser_site().answer(req)); });
  } else {
    c.routes.emplace_back("/api/admin/", [&](const HttpRequest& req) -> HttpResponse {
      if (!relay::ops::bearer_matches(kToken, req)) {
        return HttpResponse{401, "application/json", "{\"error\":\"token\"}\n", {}};
      }
      // Named members: a field added to AdminHost must be given here too.
      relay::ops::AdminHost host{
          .core = core,
          .now = relay::now_of(clock),
          .address_of = [&core](relay::ConnectionId id) { return core.connection_address(id); },
          .save_bans = [] { return std::string(); },
          .save_approval = [](const std::string&) { return std::string(); },
          .set_rate = [&core, &clock](const std::string& id, std::uint64_t n) -> std::string {
            return core.set_lease_rate(id, n, relay::now_of(clock)) ? "" : "the rate table is full";
          },
          .reload = [] { return std::string("reload: nothing to reload here"); }};
      clock.advance(std::chrono::seconds(1));
      return relay::ops::answer_admin(host, req);
    });
  }

  const auto out = plugins::ws::testing::serve_connection(c, input);
  if (debug) {
    std::fprintf(stderr, "--- wrote %zu bytes%s (peer %s), stream read %zu bytes\n%s\n",
                 out.written.size(), out.upgraded ? ", upgraded" : "", out.peer.c_str(),
                 out.received.size(), out.written.substr(0, 4000).c_str());
  }
  if (!status_line_ok(out.written)) std::abort();
  // An upgraded stream hands out message payloads only: never more than the client sent.
  if (out.received.size() > input.size()) std::abort();
  if (out.upgraded && out.peer.empty()) std::abort();
  return 0;
}
