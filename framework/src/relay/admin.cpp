// SPDX-License-Identifier: Apache-2.0
#include "admin.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "portal/base/bytes.hpp"
#include "portal/base/log.hpp"
#include "portal/crypto/sha256.hpp"

namespace portal::relay::ops {
namespace {

namespace json = boost::json;
using transport::HttpRequest;
using transport::HttpResponse;

std::string errno_text() { return std::strerror(errno); }

// Reads a whole file of at most `limit` bytes. False with `problem` set; `missing` tells a file
// that does not exist apart.
bool read_bounded(const std::string& path, std::uintmax_t limit, std::string& out,
                  std::string& problem, bool* missing = nullptr) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (missing != nullptr && errno == ENOENT) {
      *missing = true;
      return false;
    }
    problem = path + ": " + errno_text();
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    problem = path + ": not a regular file";
    return false;
  }
  if (static_cast<std::uintmax_t>(st.st_size) > limit) {
    problem = path + ": larger than " + std::to_string(limit) + " bytes";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    problem = path + ": cannot open it: " + errno_text();
    return false;
  }
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  if (out.size() > limit) {  // grew meanwhile
    problem = path + ": larger than " + std::to_string(limit) + " bytes";
    return false;
  }
  return true;
}

// Writes `content` to `path` atomically: a temporary file in the same directory (mode 0600),
// fsync, rename over `path`, fsync of the directory. A failure leaves `path` as it was.
bool write_atomically(const std::string& path, const std::string& content, std::string& problem) {
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) {
    problem = path + ": cannot create a temporary file beside it: " + errno_text();
    return false;
  }
  bool ok = ::fchmod(fd, 0600) == 0;
  std::size_t done = 0;
  while (ok && done < content.size()) {
    const auto n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const std::string why = ok ? std::string() : errno_text();
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    problem = path + ": cannot write it: " + (ok ? errno_text() : why);
    ::unlink(tmp.c_str());
    return false;
  }
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  if (const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY); d >= 0) {
    (void)::fsync(d);
    ::close(d);
  }
  return true;
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

bool id_form(std::string& id) {
  Ban b{Ban::Kind::Identity, id, 0, {}};
  if (!normalize_ban(b).empty()) return false;
  id = b.value;
  return true;
}

std::string utc(std::int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// --- HTTP helpers ------------------------------------------------------------------------------

HttpResponse answer(unsigned status, const json::value& body) {
  return HttpResponse{status, "application/json", json::serialize(body) + "\n", {}};
}
HttpResponse failure(unsigned status, const std::string& why) {
  return answer(status, json::object{{"error", why}});
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The query string's parameters, percent-decoded ('+' is a space); false when it is malformed
// or names a parameter twice.
bool parse_query(std::string_view target, std::map<std::string, std::string>& out) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return true;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    std::string parts[2];
    const std::string_view raw[2] = {pair.substr(0, eq), eq == std::string_view::npos
                                                             ? std::string_view()
                                                             : pair.substr(eq + 1)};
    for (int i = 0; i < 2; ++i) {
      for (std::size_t k = 0; k < raw[i].size(); ++k) {
        const char c = raw[i][k];
        if (c == '+') {
          parts[i] += ' ';
        } else if (c == '%') {
          if (k + 2 >= raw[i].size() || hex(raw[i][k + 1]) < 0 || hex(raw[i][k + 2]) < 0) {
            return false;
          }
          parts[i] += static_cast<char>(hex(raw[i][k + 1]) * 16 + hex(raw[i][k + 2]));
          k += 2;
        } else {
          parts[i] += c;
        }
      }
    }
    if (!out.emplace(std::move(parts[0]), std::move(parts[1])).second) return false;
  }
  return true;
}

json::object ban_json(const Ban& b) {
  return json::object{
      {"kind", to_string(b.kind)}, {"value", b.value}, {"since", b.since}, {"reason", b.reason}};
}

void admin_log(const std::string& what) { base::log(base::LogLevel::Info, "admin", what); }

}  // namespace

bool read_allowed_file(const std::string& path, std::set<std::string>& ids, std::string& problem) {
  std::string text;
  if (!read_bounded(path, kMaxOperatorFile, text, problem)) return false;
  std::set<std::string> out;
  std::size_t line_no = 0;
  std::size_t at = 0;
  while (at <= text.size()) {
    const auto nl = text.find('\n', at);
    std::string_view line(text.data() + at, (nl == std::string::npos ? text.size() : nl) - at);
    at = nl == std::string::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    if (const auto hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    std::string id = trim(line);
    if (id.empty()) continue;
    if (!id_form(id)) {
      problem = path + ":" + std::to_string(line_no) + ": '" + id.substr(0, 64) +
                "' is not an identity ID (26 characters of base32)";
      return false;
    }
    out.insert(std::move(id));
    if (out.size() > kMaxAllowedIds) {
      problem = path + ": more than " + std::to_string(kMaxAllowedIds) + " identity IDs";
      return false;
    }
  }
  ids = std::move(out);
  return true;
}

bool add_to_allowed_file(const std::string& path, const std::string& id, std::int64_t unix_now,
                         std::string& problem) {
  std::string text;
  bool missing = false;
  if (!read_bounded(path, kMaxOperatorFile, text, problem, &missing) && !missing) return false;
  if (!text.empty() && text.back() != '\n') text += '\n';
  text += id + "  # approved through the admin API, " + utc(unix_now) + "\n";
  return write_atomically(path, text, problem);
}

bool read_bans_file(const std::string& path, OperatorState& state, std::string& problem) {
  std::string text;
  bool missing = false;
  if (!read_bounded(path, kMaxOperatorFile, text, problem, &missing)) {
    if (!missing) return false;
    state = {};
    return true;
  }
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    problem = path + ": not a JSON object" + (ec ? " (" + ec.message() + ")" : std::string());
    return false;
  }
  OperatorState out;
  for (const auto& [key, value] : v.as_object()) {
    if (key == "bans") {
      if (!value.is_array()) {
        problem = path + ": bans: expected an array";
        return false;
      }
      const auto& list = value.as_array();
      if (list.size() > kMaxBans) {
        problem = path + ": more than " + std::to_string(kMaxBans) + " bans";
        return false;
      }
      for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string where = path + ": bans[" + std::to_string(i) + "]";
        const auto* o = list[i].if_object();
        const auto* kind = o ? o->if_contains("kind") : nullptr;
        const auto* val = o ? o->if_contains("value") : nullptr;
        if (!kind || !kind->is_string() || !val || !val->is_string()) {
          problem = where + ": expected {\"kind\", \"value\"} strings";
          return false;
        }
        const auto k = ban_kind(std::string_view(kind->as_string()));
        if (!k) {
          problem = where + ": kind must be identity, name or address";
          return false;
        }
        Ban b{*k, std::string(val->as_string()), 0, {}};
        if (const auto* since = o->if_contains("since"); since && since->is_int64()) {
          b.since = since->as_int64();
        }
        if (const auto* reason = o->if_contains("reason"); reason && reason->is_string()) {
          b.reason = std::string(reason->as_string());
        }
        if (auto why = normalize_ban(b); !why.empty()) {
          problem = where + ": " + why;
          return false;
        }
        out.bans.push_back(std::move(b));
      }
    } else if (key == "rates") {
      if (!value.is_object()) {
        problem = path + ": rates: expected an object";
        return false;
      }
      for (const auto& [id, n] : value.as_object()) {
        std::string key_id(id);
        if (!id_form(key_id) || !(n.is_uint64() || (n.is_int64() && n.as_int64() > 0))) {
          problem = path + ": rates: '" + key_id.substr(0, 64) +
                    "' must be an identity ID with a positive byte rate";
          return false;
        }
        out.rates[key_id] =
            n.is_uint64() ? n.as_uint64() : static_cast<std::uint64_t>(n.as_int64());
      }
      if (out.rates.size() > kMaxBans) {
        problem = path + ": more than " + std::to_string(kMaxBans) + " rates";
        return false;
      }
    } else {
      problem = path + ": " + std::string(key) + ": unknown key";
      return false;
    }
  }
  state = std::move(out);
  return true;
}

bool write_bans_file(const std::string& path, const OperatorState& state, std::string& problem) {
  json::array bans;
  for (const auto& b : state.bans) bans.push_back(ban_json(b));
  json::object rates;
  for (const auto& [id, n] : state.rates) rates[id] = n;
  const json::object root{{"bans", std::move(bans)}, {"rates", std::move(rates)}};
  return write_atomically(path, json::serialize(root) + "\n", problem);
}

bool read_token_file(const std::string& path, std::string& token, std::string& problem) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    problem = path + ": " + errno_text();
    return false;
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    problem = path + ": readable by others (mode " + [&] {
      char buf[8];
      std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return std::string(buf);
    }() + "); make it 0600 (chmod 600)";
    return false;
  }
  std::string text;
  if (!read_bounded(path, kMaxTokenFile, text, problem)) return false;
  text = trim(std::string_view(text).substr(0, text.find_last_not_of("\n") + 1));
  const bool printable = std::all_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  if (text.size() < 16 || !printable) {
    problem = path + ": the token must be at least 16 printable characters without spaces";
    return false;
  }
  token = std::move(text);
  return true;
}

FileStamp stamp_of(const std::string& path) noexcept {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return FileStamp{static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                       static_cast<std::int64_t>(st.st_mtim.tv_nsec),
                   static_cast<std::int64_t>(st.st_size)};
}

bool bearer_matches(const std::string& token, const HttpRequest& req) {
  std::string_view presented;
  for (const auto& [name, value] : req.headers) {
    if (name.size() != 13) continue;
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower != "authorization") continue;
    std::string_view v = value;
    if (v.size() > 7 && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer ")) {
      presented = v.substr(7);
    }
  }
  const auto a = crypto::sha256(base::as_bytes(std::string_view(token)));
  const auto b = crypto::sha256(base::as_bytes(presented));
  return base::constant_time_equal(a, b) && !token.empty() && !presented.empty();
}

HttpResponse answer_admin(AdminHost& host, const HttpRequest& req) {
  std::map<std::string, std::string> q;
  if (!parse_query(req.target, q)) {
    return failure(400, "malformed query string (bad percent-encoding or a repeated parameter)");
  }
  const std::string_view target = req.target;
  const std::string path(target.substr(0, target.find('?')));
  const std::string& m = req.method;
  auto param = [&](const char* name) -> const std::string* {
    auto it = q.find(name);
    return it == q.end() ? nullptr : &it->second;
  };
  auto wrong_method = [](const char* allow) {
    auto r = failure(405, std::string("method not allowed (allowed: ") + allow + ")");
    r.headers.emplace_back("Allow", allow);
    return r;
  };
  auto& core = host.core;

  if (path == "/api/admin/leases") {
    if (m != "GET") return wrong_method("GET");
    json::array out;
    for (const auto* e : core.leases().list(base::unix_seconds(host.now.system))) {
      const auto& id = e->lease.identity->id;
      const auto t = core.lease_traffic(id);
      json::array alpn;
      for (const auto& a : e->lease.alpn) alpn.emplace_back(a);
      out.push_back(json::object{{"id", id},
                                 {"name", e->lease.name},
                                 {"alpn", std::move(alpn)},
                                 {"expires", e->lease.expires},
                                 {"last_seen", e->last_seen},
                                 {"address", host.address_of(e->connection)},
                                 {"streams", t.streams},
                                 {"streams_total", t.streams_total},
                                 {"bytes_to_holder", t.bytes_to_holder},
                                 {"bytes_to_dialer", t.bytes_to_dialer},
                                 {"bytes_per_second", core.lease_rate(id)}});
    }
    return answer(200, json::object{{"leases", std::move(out)}});
  }
  if (path == "/api/admin/leases/drop") {
    if (m != "POST") return wrong_method("POST");
    const auto* id = param("id");
    if (id == nullptr) return failure(400, "missing parameter: id");
    if (!core.drop_lease(*id, host.now)) return failure(404, "no lease of that identity here");
    admin_log("lease " + *id + " dropped and its connection closed");
    return answer(200, json::object{{"dropped", *id}});
  }
  if (path == "/api/admin/bans") {
    if (m == "GET") {
      json::array out;
      for (const auto& b : core.bans()) out.push_back(ban_json(b));
      return answer(200, json::object{{"bans", std::move(out)}});
    }
    if (m != "POST" && m != "DELETE") return wrong_method("GET, POST, DELETE");
    std::optional<Ban::Kind> kind;
    std::string value;
    for (const char* k : {"identity", "name", "address"}) {
      if (const auto* v = param(k)) {
        if (kind) return failure(400, "give one of identity, name or address");
        kind = ban_kind(k);
        value = *v;
      }
    }
    if (!kind) return failure(400, "missing parameter: identity, name or address");
    std::string saved;
    // Logged as stored (an ID upper-cased, a pattern folded).
    Ban b{*kind, value, 0, param("reason") ? *param("reason") : std::string()};
    if (auto why = normalize_ban(b); !why.empty()) return failure(400, why);
    if (m == "POST") {
      if (auto why = core.ban(b, host.now); !why.empty()) return failure(400, why);
      admin_log(std::string("ban ") + to_string(*kind) + " " + b.value +
                (b.reason.empty() ? std::string() : " (" + b.reason + ")"));
      saved = host.save_bans();
    } else {
      if (!core.unban(*kind, value, host.now)) return failure(404, "no such ban");
      admin_log(std::string("unban ") + to_string(*kind) + " " + b.value);
      saved = host.save_bans();
    }
    json::object out{{"ok", true}, {"bans", core.bans().size()}};
    if (!saved.empty()) out["not_saved"] = saved;
    return answer(200, out);
  }
  if (path == "/api/admin/pending") {
    if (m != "GET") return wrong_method("GET");
    json::array out;
    for (const auto& p : core.pending()) {
      out.push_back(json::object{{"id", p.id},
                                 {"name", p.name},
                                 {"address", p.address},
                                 {"first", p.first},
                                 {"last", p.last},
                                 {"attempts", p.attempts}});
    }
    return answer(
        200, json::object{
                 {"mode", core.access() == AccessMode::Approval
                              ? "approval"
                              : (core.access() == AccessMode::Allowlist ? "allowlist" : "open")},
                 {"pending", std::move(out)}});
  }
  if (path == "/api/admin/approve") {
    if (m != "POST") return wrong_method("POST");
    const auto* id = param("id");
    if (id == nullptr) return failure(400, "missing parameter: id");
    std::string key = *id;
    if (!id_form(key)) return failure(400, "'" + id->substr(0, 64) + "' is not an identity ID");
    if (!core.approve(key, host.now)) {
      return failure(409, "the allowed identities are at their bound (" +
                              std::to_string(kMaxAllowedIds) + ")");
    }
    admin_log("approve " + key);
    json::object out{{"approved", key}};
    if (auto saved = host.save_approval(key); !saved.empty()) out["not_saved"] = saved;
    return answer(200, out);
  }
  if (path == "/api/admin/limits") {
    if (m != "PUT") return wrong_method("PUT");
    const auto* id = param("id");
    const auto* rate = param("bytes_per_second");
    if (id == nullptr || rate == nullptr) {
      return failure(400, "missing parameter: id and bytes_per_second");
    }
    std::string key = *id;
    if (!id_form(key)) return failure(400, "'" + id->substr(0, 64) + "' is not an identity ID");
    std::uint64_t n = 0;
    const bool digits =
        !rate->empty() && rate->size() <= 14 &&
        std::all_of(rate->begin(), rate->end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) n = std::stoull(*rate);
    // The bounds of the limits.*bytes_per_second config keys.
    using Limits = config::RelayLimits;
    if (!digits || (n != 0 && (n < Limits::kMinBytesPerSecond || n > Limits::kMaxBytesPerSecond))) {
      return failure(400, "bytes_per_second must be 0 (the configured limit) or " +
                              std::to_string(Limits::kMinBytesPerSecond) + " to " +
                              std::to_string(Limits::kMaxBytesPerSecond));
    }
    if (auto why = host.set_rate(key, n); !why.empty()) return failure(409, why);
    admin_log("limit " + key + " " + std::to_string(n) + " bytes/s");
    return answer(200, json::object{{"id", key}, {"bytes_per_second", core.lease_rate(key)}});
  }
  if (path == "/api/admin/reload") {
    if (m != "POST") return wrong_method("POST");
    admin_log("reload");
    const auto problems = host.reload();
    if (!problems.empty()) return failure(422, problems);
    return answer(200, json::object{{"reloaded", true}});
  }
  return failure(404, "no such admin route (docs/admin.md)");
}

}  // namespace portal::relay::ops
