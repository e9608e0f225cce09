// SPDX-License-Identifier: Apache-2.0
#include "relay/browser.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "portal/base/encoding.hpp"
#include "portal/base/uri.hpp"
#include "portal/crypto/sha256.hpp"
#include "portal/platform/paths.hpp"
#include "relay/http.hpp"

namespace portal::relay {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxFile = 16 * 1024 * 1024;  // the module is ~0.5 MB

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<std::string> read_file(const fs::path& p) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  if (ec || size > kMaxFile) return std::nullopt;
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::string data(size, '\0');
  in.read(data.data(), static_cast<std::streamsize>(size));
  if (!in) return std::nullopt;
  return data;
}

std::string header(const transport::HttpRequest& req, std::string_view name) {
  for (const auto& [k, v] : req.headers) {
    if (lower(k) == name) return v;
  }
  return {};
}

std::string json_string(std::string_view s) {
  return boost::json::serialize(boost::json::string(s));
}

void replace_all(std::string& text, std::string_view from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// Where the frontend files are: the configured folder, <prefix>/share/portal/frontend next to
// the executable, or a build tree's build/wasm/frontend (build/<preset>/bin/portal-relay).
std::vector<fs::path> candidates(const std::string& configured) {
  if (!configured.empty()) return {fs::path(configured)};
  std::vector<fs::path> out;
  if (auto exe = platform::executable_path()) {
    const auto bin = exe->parent_path();
    out.push_back(bin.parent_path() / "share" / "portal" / "frontend");
    out.push_back(bin.parent_path().parent_path() / "wasm" / "frontend");
  }
  return out;
}

}  // namespace

std::string app_label(std::string_view host, std::string_view suffix) {
  const std::string h = lower(host);
  if (suffix.empty() || h.size() <= suffix.size() ||
      h.compare(h.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return {};
  }
  std::string label = h.substr(0, h.size() - suffix.size());
  if (label.find('.') != std::string::npos || label.find(':') != std::string::npos) return {};
  return label;
}

BrowserSite::BrowserSite(BrowserOptions o, const std::function<void(const std::string&)>& log) {
  const auto url = base::parse_http_url(o.portal_url);
  if (!url) {
    problem_ = "portal_url '" + o.portal_url + "' is not http(s)://host[:port]";
    log("browser path off: " + problem_);
    return;
  }
  const bool https = url->scheme == "https";
  scheme_ = https ? "https://" : "http://";
  const bool default_port = url->port == (https ? 443 : 80);
  const std::string host_port =
      lower(url->host) + (default_port ? "" : ":" + std::to_string(url->port));
  suffix_ = o.app_hosts.empty() ? "." + host_port : lower(o.app_hosts.substr(1));
  for (const auto& a : o.advertise) {
    if (a.rfind("ws://", 0) == 0 || a.rfind("wss://", 0) == 0) relays_.push_back(a);
  }
  // Hosts that stay the relay's own: reserved names, and the relay's advertised addresses (a
  // relay.<portal host> must keep serving /relay, /metrics and the lease page).
  for (const auto& n : o.reserved_names) not_apps_.push_back(lower(n));
  for (const auto& a : o.advertise) {
    if (auto u = base::parse_uri(a); u && !u->host.empty()) {
      auto l = app_label(u->host + ":" + std::to_string(u->port), suffix_);
      if (l.empty()) l = app_label(u->host, suffix_);
      if (!l.empty()) not_apps_.push_back(l);
    }
  }
  if (relays_.empty()) relays_.push_back((https ? "wss://" : "ws://") + host_port + "/relay");

  // The files of the wasm build (wasm/frontend/bundle.mjs).
  fs::path dir;
  for (const auto& c : candidates(o.frontend_dir)) {
    if (fs::exists(c / "manifest.json")) {
      dir = c;
      break;
    }
  }
  if (dir.empty()) {
    problem_ =
        "the browser client's files are missing (build the wasm preset, or set "
        "frontend_dir; looked for manifest.json in";
    for (const auto& c : candidates(o.frontend_dir)) problem_ += " " + c.string();
    problem_ += ")";
    log(problem_);
    return;
  }
  const auto manifest_text = read_file(dir / "manifest.json");
  boost::json::error_code ec;
  const auto manifest = boost::json::parse(manifest_text.value_or(""), ec);
  const auto* m = manifest.if_object();
  const auto* sdk = m ? m->if_contains("sdk") : nullptr;
  const auto* wasm = m ? m->if_contains("wasm") : nullptr;
  const auto loader = read_file(dir / "loader.html");
  const auto polyfill = read_file(dir / "ws-polyfill.js");
  auto worker = read_file(dir / "service-worker.js");
  if (ec || !sdk || !sdk->is_string() || !wasm || !wasm->is_string() || !loader || !worker ||
      !polyfill) {
    problem_ = (dir / "manifest.json").string() + ": unusable frontend files";
    log(problem_);
    return;
  }
  for (const auto* entry : {sdk, wasm}) {
    const std::string name(entry->as_string());
    auto data = read_file(dir / name);
    const auto dot = name.find('.');
    // Content-addressed: the name is the SHA-256 of the bytes.
    if (!data || dot == std::string::npos ||
        base::hex_encode(crypto::sha256(base::as_bytes(*data))) != name.substr(0, dot)) {
      problem_ = (dir / name).string() + ": missing, or its content does not match its name";
      log(problem_);
      return;
    }
    File f;
    f.content_type =
        name.ends_with(".wasm") ? "application/wasm" : "text/javascript; charset=utf-8";
    f.identity = std::move(*data);
    f.br = read_file(dir / (name + ".br")).value_or("");
    f.gzip = read_file(dir / (name + ".gz")).value_or("");
    files_["/frontend/" + name] = std::move(f);
  }
  loader_ = *loader;
  polyfill_ = *polyfill;
  std::string relays = "[";
  for (std::size_t i = 0; i < relays_.size(); ++i) {
    relays += (i ? ", " : "") + json_string(relays_[i]);
  }
  relays += "]";
  replace_all(*worker, "__PORTAL_RELAYS__", relays);
  replace_all(*worker, "__PORTAL_SDK__", "/frontend/" + std::string(sdk->as_string()));
  replace_all(*worker, "__PORTAL_WASM__", "/frontend/" + std::string(wasm->as_string()));
  worker_ = std::move(*worker);
  log("browser path: app hosts *" + suffix_ + ", files from " + dir.string());
}

transport::HttpResponse BrowserSite::file(const File& f, const transport::HttpRequest& req) const {
  transport::HttpResponse res{200, f.content_type, {}, {}};
  res.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
  res.headers.emplace_back("Access-Control-Allow-Origin", "*");
  res.headers.emplace_back("Vary", "Accept-Encoding");
  const std::string accept = lower(header(req, "accept-encoding"));
  if (!f.br.empty() && accept.find("br") != std::string::npos) {
    res.body = f.br;
    res.headers.emplace_back("Content-Encoding", "br");
  } else if (!f.gzip.empty() && accept.find("gzip") != std::string::npos) {
    res.body = f.gzip;
    res.headers.emplace_back("Content-Encoding", "gzip");
  } else {
    res.body = f.identity;
  }
  return res;
}

transport::HttpResponse BrowserSite::answer(const transport::HttpRequest& req) const {
  const std::string label = app_label(header(req, "host"), suffix_);
  if (label.empty() || std::find(not_apps_.begin(), not_apps_.end(), label) != not_apps_.end()) {
    return transport::HttpResponse{0, {}, {}, {}};  // not an app host
  }
  const std::string_view target = req.target;
  const std::string_view path = target.substr(0, target.find('?'));
  if (!problem_.empty()) {
    transport::HttpResponse res{503,
                                "text/html; charset=utf-8",
                                "<!doctype html><title>Portal: unavailable</title>"
                                "<h1>503: the browser client is not installed on this relay</h1>"
                                "<p>" +
                                    html_escape(problem_) + "</p>\n",
                                {}};
    res.headers.emplace_back("Cache-Control", "no-store");
    return res;
  }
  if (path == "/service-worker.js") {
    transport::HttpResponse res{200, "text/javascript; charset=utf-8", worker_, {}};
    res.headers.emplace_back("Cache-Control", "no-cache, no-store, must-revalidate");
    res.headers.emplace_back("Service-Worker-Allowed", "/");
    return res;
  }
  if (auto it = files_.find(path); it != files_.end()) return file(it->second, req);
  if (path == "/.portal/ws-polyfill.js") {
    transport::HttpResponse res{200, "text/javascript; charset=utf-8", polyfill_, {}};
    res.headers.emplace_back("Cache-Control", "no-cache");
    return res;
  }
  if (path.rfind("/frontend/", 0) == 0) {
    return transport::HttpResponse{404, "text/plain; charset=utf-8", "no such file\n", {}};
  }
  // Everything else (the relay's own paths, /relay included): the loader page, which installs
  // the worker that then answers for the exposed service.
  transport::HttpResponse res{200, "text/html; charset=utf-8", loader_, {}};
  res.headers.emplace_back("Cache-Control", "no-cache, no-store, must-revalidate");
  return res;
}

}  // namespace portal::relay
