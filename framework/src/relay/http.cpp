// SPDX-License-Identifier: Apache-2.0
#include "relay/http.hpp"

#include <boost/json.hpp>

#include <cctype>
#include <chrono>
#include <sstream>

#include "portal/version.hpp"
#include "portal/wire/control.hpp"

namespace portal::relay {
namespace {

namespace json = boost::json;
using transport::HttpRequest;
using transport::HttpResponse;

std::string_view path_of(const HttpRequest& req) {
  std::string_view t = req.target;
  return t.substr(0, t.find('?'));
}

bool readable(const HttpRequest& req) {
  return req.method.empty() || req.method == "GET" || req.method == "HEAD";
}

HttpResponse not_allowed() {
  HttpResponse r{405, "text/plain; charset=utf-8", "method not allowed\n", {}};
  r.headers.emplace_back("Allow", "GET, HEAD");
  return r;
}

HttpResponse json_response(const json::value& v) {
  HttpResponse r{200, "application/json", json::serialize(v), {}};
  r.body.push_back('\n');
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

const char* type_name(std::uint32_t t) {
  switch (static_cast<wire::PacketType>(t)) {
    case wire::PacketType::RelayInfoRequest: return "relay_info";
    case wire::PacketType::LeaseUpdateRequest: return "lease_update";
    case wire::PacketType::LeaseDeleteRequest: return "lease_delete";
    case wire::PacketType::ConnectionRequest: return "connection";
    case wire::PacketType::LeaseLookupRequest: return "lease_lookup";
    default: return "other";
  }
}

const char* code_name(std::uint32_t c) {
  switch (static_cast<wire::ResponseCode>(c)) {
    case wire::ResponseCode::Unknown: return "unknown";
    case wire::ResponseCode::Accepted: return "accepted";
    case wire::ResponseCode::InvalidExpires: return "invalid_expires";
    case wire::ResponseCode::InvalidIdentity: return "invalid_identity";
    case wire::ResponseCode::InvalidName: return "invalid_name";
    case wire::ResponseCode::InvalidAlpn: return "invalid_alpn";
    case wire::ResponseCode::Rejected: return "rejected";
  }
  return "other";
}

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

void metric(std::ostringstream& o, const char* name, const char* type, const char* help) {
  o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

std::string duration(std::int64_t seconds) {
  if (seconds < 0) return "-";
  if (seconds < 120) return std::to_string(seconds) + " s";
  if (seconds < 7200) return std::to_string(seconds / 60) + " min";
  return std::to_string(seconds / 3600) + " h";
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string label_escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

bool hidden(const std::string& metadata) {
  if (metadata.empty()) return false;
  boost::system::error_code ec;
  const json::value v = json::parse(metadata, ec);
  if (ec || !v.is_object()) return false;
  const auto* hide = v.as_object().if_contains("hide");
  return hide != nullptr && hide->is_bool() && hide->as_bool();
}

HttpResponse http_healthz(const HttpView& v, const HttpRequest& req) {
  if (!readable(req)) return not_allowed();
  // Degraded is still 200: the relay serves its local leases, and a health check must not
  // restart it for an outage of the shared directory (ADR 0015 §5).
  if (v.fleet && !v.stats.directory_available) {
    return HttpResponse{200, "application/json", "{\"status\":\"degraded\"}", {}};
  }
  return HttpResponse{200, "application/json", "{\"status\":\"ok\"}", {}};
}

HttpResponse http_metrics(const HttpView& v, const HttpRequest& req) {
  if (!readable(req)) return not_allowed();
  std::ostringstream o;
  metric(o, "portal_leases", "gauge", "Leases in the table.");
  o << "portal_leases " << v.stats.leases << '\n';
  metric(o, "portal_connections", "gauge", "Open relay connections (mux sessions).");
  o << "portal_connections " << v.stats.connections << '\n';
  metric(o, "portal_connections_total", "counter", "Relay connections accepted.");
  o << "portal_connections_total " << v.stats.connections_total << '\n';
  metric(o, "portal_loop_connections", "gauge",
         "Accepted sockets on each event loop (loop 0 runs the relay's state too).");
  for (std::size_t i = 0; i < v.loop_connections.size(); ++i) {
    o << "portal_loop_connections{loop=\"" << i << "\"} " << v.loop_connections[i] << '\n';
  }
  metric(o, "portal_relayed_streams", "gauge", "Spliced streams now.");
  o << "portal_relayed_streams " << v.stats.relayed_streams << '\n';
  metric(o, "portal_relayed_streams_total", "counter", "Streams spliced.");
  o << "portal_relayed_streams_total " << v.stats.relayed_streams_total << '\n';
  metric(o, "portal_relayed_bytes_total", "counter", "Bytes relayed, by direction.");
  o << "portal_relayed_bytes_total{direction=\"to_holder\"} " << v.stats.bytes_to_holder << '\n';
  o << "portal_relayed_bytes_total{direction=\"to_dialer\"} " << v.stats.bytes_to_dialer << '\n';
  metric(o, "portal_requests_total", "counter", "Control requests answered, by type and result.");
  for (const auto& [key, n] : v.answers) {
    o << "portal_requests_total{type=\"" << type_name(key.first) << "\",result=\""
      << code_name(key.second) << "\"} " << n << '\n';
  }
  metric(o, "portal_control_errors_total", "counter",
         "Control streams closed on malformed input, by reason.");
  for (const auto& [reason, n] : v.control_errors) {
    o << "portal_control_errors_total{reason=\"" << label_escape(reason) << "\"} " << n << '\n';
  }
  metric(o, "portal_accept_errors_total", "counter",
         "Failed accepts, by reason (descriptors: out of file descriptors).");
  for (const auto& [reason, n] : v.accept_errors) {
    o << "portal_accept_errors_total{reason=\"" << label_escape(reason) << "\"} " << n << '\n';
  }
  if (v.fleet) {
    metric(o, "portal_directory_available", "gauge",
           "1 while the fleet directory answers, 0 while it is unreachable.");
    o << "portal_directory_available " << (v.stats.directory_available ? 1 : 0) << '\n';
    metric(o, "portal_directory_replies_total", "counter",
           "Fleet directory replies, by operation and status.");
    for (const auto& [key, n] : v.directory) {
      o << "portal_directory_replies_total{op=\"" << label_escape(key.first) << "\",status=\""
        << label_escape(key.second) << "\"} " << n << '\n';
    }
    const auto& h = v.directory_health;
    metric(o, "portal_directory_connected", "gauge",
           "1 while the directory client holds a connection that answered its last request.");
    o << "portal_directory_connected " << (h.connected ? 1 : 0) << '\n';
    metric(o, "portal_directory_queued", "gauge", "Directory requests waiting or in flight.");
    o << "portal_directory_queued " << h.queued << '\n';
    metric(o, "portal_directory_latency_seconds", "gauge",
           "Submit to reply of the directory's last successful answer.");
    o << "portal_directory_latency_seconds "
      << std::chrono::duration<double>(h.last_latency).count() << '\n';
    metric(o, "portal_directory_reconnects_total", "counter",
           "Connections the directory client made after its first.");
    o << "portal_directory_reconnects_total " << h.reconnects << '\n';
  }
  if (v.peering) {
    metric(o, "portal_peer_sessions", "gauge",
           "Fleet peer sessions open: dialed by this relay (out) or by a peer (in).");
    o << "portal_peer_sessions{direction=\"out\"} " << v.stats.peer_sessions_out << '\n';
    o << "portal_peer_sessions{direction=\"in\"} " << v.stats.peer_sessions_in << '\n';
    metric(o, "portal_peer_dials_total", "counter", "Peer session dials, by result.");
    for (const char* result : {"ok", "failed"}) {
      const auto it = v.peer_dials.find(result);
      o << "portal_peer_dials_total{result=\"" << result << "\"} "
        << (it == v.peer_dials.end() ? 0 : it->second) << '\n';
    }
    metric(o, "portal_forwarded_streams", "gauge",
           "Splices running now whose lease is held on a peer relay.");
    o << "portal_forwarded_streams " << v.stats.forwarded_streams << '\n';
    metric(o, "portal_forwarded_streams_total", "counter",
           "Splices started to leases held on peer relays.");
    o << "portal_forwarded_streams_total " << v.stats.forwarded_streams_total << '\n';
    metric(o, "portal_route_cache_total", "counter",
           "Forwards to a peer relay's lease, by whether a recent route was used (hit) or the "
           "directory asked (miss).");
    for (const char* result : {"hit", "miss"}) {
      const auto it = v.route_cache.find(result);
      o << "portal_route_cache_total{result=\"" << result << "\"} "
        << (it == v.route_cache.end() ? 0 : it->second) << '\n';
    }
    metric(o, "portal_peer_session_open", "gauge",
           "Open peer sessions, by peer relay ID and direction (IDs come from fleet.peers).");
    for (const auto& p : v.peer_sessions) {
      o << "portal_peer_session_open{relay=\"" << label_escape(p.relay) << "\",direction=\""
        << (p.outbound ? "out" : "in") << "\"} 1\n";
    }
    metric(o, "portal_forwarded_streams_by_peer_total", "counter",
           "Splices started to leases held on each peer relay.");
    for (const auto& [relay, n] : v.forwarded_by_peer) {
      o << "portal_forwarded_streams_by_peer_total{relay=\"" << label_escape(relay) << "\"} " << n
        << '\n';
    }
  }
  metric(o, "portal_refusals_total", "counter", "Refusals by limit.");
  for (const auto& [limit, n] : v.refusals) {
    o << "portal_refusals_total{limit=\"" << label_escape(limit) << "\"} " << n << '\n';
  }
  metric(o, "portal_bans", "gauge", "Operator bans in force, by kind.");
  for (const char* kind : {"identity", "name", "address"}) {
    const auto it = v.bans.find(kind);
    o << "portal_bans{kind=\"" << kind << "\"} " << (it == v.bans.end() ? 0 : it->second) << '\n';
  }
  if (v.approval) {
    metric(o, "portal_pending_approvals", "gauge",
           "Identities waiting for an operator's approval.");
    o << "portal_pending_approvals " << v.pending << '\n';
  }
  if (v.admin) {
    metric(o, "portal_admin_auth_failures_total", "counter",
           "Admin API requests refused for a missing or wrong bearer token.");
    o << "portal_admin_auth_failures_total " << v.admin_auth_failures << '\n';
  }
  // --- Bandwidth (ADR 0017 §4) ---
  metric(o, "portal_rate_limited_total", "counter",
         "Chunks of relayed bytes held back by a bandwidth limit, by scope (lease or relay).");
  o << "portal_rate_limited_total{scope=\"lease\"} " << v.stats.rate_waits_lease << '\n';
  o << "portal_rate_limited_total{scope=\"relay\"} " << v.stats.rate_waits_relay << '\n';
  metric(o, "portal_rate_limited_seconds_total", "counter",
         "Seconds relayed bytes waited for a bandwidth limit, by scope (lease or relay).");
  o << "portal_rate_limited_seconds_total{scope=\"lease\"} " << v.stats.rate_wait_seconds_lease
    << '\n';
  o << "portal_rate_limited_seconds_total{scope=\"relay\"} " << v.stats.rate_wait_seconds_relay
    << '\n';
  // --- end of bandwidth ---
  metric(o, "portal_plugin_info", "gauge", "Loaded plugins.");
  for (const auto& p : v.plugins) {
    o << "portal_plugin_info{id=\"" << label_escape(p.id) << "\",kind=\"" << label_escape(p.kind)
      << "\",version=\"" << label_escape(p.version) << "\"} 1\n";
  }
  metric(o, "portal_build_info", "gauge", "This relay's version.");
  o << "portal_build_info{version=\"" << label_escape(kVersion) << "\",wire=\""
    << label_escape(kWireProtocol) << "\"} 1\n";
  metric(o, "portal_uptime_seconds", "gauge", "Seconds since the relay started.");
  o << "portal_uptime_seconds " << v.uptime_seconds << '\n';
  return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", o.str(), {}};
}

HttpResponse http_api_leases(const HttpView& v, const HttpRequest& req) {
  if (!readable(req)) return not_allowed();
  json::array leases;
  for (const auto& l : v.leases) {
    if (hidden(l.metadata)) continue;
    leases.push_back(json::object{{"id", l.id},
                                  {"name", l.name},
                                  {"alpn", strings(l.alpn)},
                                  {"expires", l.expires},
                                  {"ttl", l.expires - v.now},
                                  {"last_seen", l.last_seen},
                                  {"metadata", l.metadata},
                                  {"relayed_streams", l.relayed_streams}});
  }
  return json_response(json::object{{"leases", std::move(leases)}});
}

HttpResponse http_api_relay(const HttpView& v, const HttpRequest& req) {
  if (!readable(req)) return not_allowed();
  json::array plugins;
  for (const auto& p : v.plugins) {
    plugins.push_back(json::object{{"id", p.id}, {"kind", p.kind}, {"version", p.version}});
  }
  return json_response(json::object{{"id", v.relay_id},
                                    {"version", kVersion},
                                    {"wire_protocol", kWireProtocol},
                                    {"advertise", strings(v.advertise)},
                                    {"listeners", strings(v.listeners)},
                                    {"leases", v.stats.leases},
                                    {"connections", v.stats.connections},
                                    {"relayed_streams", v.stats.relayed_streams},
                                    {"uptime_seconds", v.uptime_seconds},
                                    {"plugins", std::move(plugins)}});
}

HttpResponse http_index(const HttpView& v, const HttpRequest& req) {
  if (path_of(req) != "/") return HttpResponse{404, "text/plain; charset=utf-8", "not found\n", {}};
  if (!readable(req)) return not_allowed();
  std::ostringstream o;
  o << "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width\">"
       "<title>Portal relay</title><style>"
       "body{font:15px/1.5 system-ui,sans-serif;margin:2em auto;max-width:64rem;padding:0 1em;"
       "color:#222}h1{font-size:1.4em}table{border-collapse:collapse;width:100%}"
       "td,th{border-bottom:1px solid #ddd;padding:.4em .6em;text-align:left}"
       "th{background:#f6f6f6}code{font-size:.9em}a{color:#0b5cad}"
       "button{font:inherit;font-size:.85em;padding:.1em .5em;cursor:pointer}"
       "</style></head><body>\n"
    << "<h1>Portal relay</h1>\n<p>Relay ID <code>" << html_escape(v.relay_id) << "</code> · "
    << html_escape(kVersion) << "</p>\n";
  if (!v.advertise.empty()) {
    o << "<p>Addresses:";
    for (const auto& a : v.advertise) o << " <code>" << html_escape(a) << "</code>";
    o << "</p>\n";
  }
  std::size_t shown = 0;
  std::ostringstream rows;
  for (const auto& l : v.leases) {
    if (hidden(l.metadata)) continue;
    ++shown;
    std::string alpn;
    for (const auto& a : l.alpn) alpn += (alpn.empty() ? "" : ", ") + a;
    std::string name = l.name.empty() ? "(unnamed)" : html_escape(l.name);
    // The browser path: each named lease's page (DNS labels are lower case).
    if (!v.app_prefix.empty() && !l.name.empty()) {
      std::string label = l.name;
      for (auto& c : label) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      name =
          "<a href=\"" + html_escape(v.app_prefix + label + v.app_suffix) + "\">" + name + "</a>";
    }
    std::string copy;
    if (!v.connect_relay.empty()) {
      const std::string command =
          "portal connect " + l.id + " --relay " + v.connect_relay + " --listen 127.0.0.1:8080";
      copy =
          " <button type=\"button\" title=\"" + html_escape(command) +
          "\" onclick=\"navigator.clipboard.writeText(this.title)\">copy portal connect</button>";
    }
    rows << "<tr><td>" << name << "</td><td><code>" << html_escape(l.id) << "</code>" << copy
         << "</td><td>" << html_escape(alpn) << "</td><td>" << duration(l.expires - v.now)
         << "</td><td>" << duration(v.now - l.last_seen) << " ago</td></tr>\n";
  }
  o << "<h2>Leases (" << shown << ")</h2>\n";
  if (shown == 0) {
    o << "<p>No leases.</p>\n";
  } else {
    o << "<table><tr><th>Name</th><th>ID</th><th>ALPN</th><th>Expires in</th><th>Last seen</th>"
         "</tr>\n"
      << rows.str() << "</table>\n";
  }
  o << "</body></html>\n";
  return HttpResponse{200, "text/html; charset=utf-8", o.str(), {}};
}

}  // namespace portal::relay
