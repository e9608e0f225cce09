// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shared by the benches that run real processes: CPU and RSS from /proc, the portal-relay child,
// a redis-server child (the fleet's directory), and cleanup of every child at exit.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace portal::bench {

// CPU seconds (user + system) of a process, from /proc/<pid>/stat.
inline double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  unsigned long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoul(field);
    if (i == 15) stime = std::stoul(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Resident set size of a process in bytes, from /proc/<pid>/status.
inline double rss_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) * 1024.0;
  }
  return 0;
}

// Raises this process's descriptor soft limit to the hard limit (children inherit it) and
// returns the soft limit now in force; `why` says what failed, if anything.
inline rlim_t raise_descriptor_limit(std::string& why) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    why = std::string("getrlimit: ") + std::strerror(errno);
    return 0;
  }
  if (lim.rlim_cur != lim.rlim_max) {
    const rlim_t before = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      why = "cannot raise the descriptor soft limit from " + std::to_string(before) + " to " +
            std::to_string(lim.rlim_max) + ": " + std::strerror(errno);
      return before;
    }
  }
  return lim.rlim_cur;
}

// One JSON object on one line of stdout (the benches' --json output, read by bench/run).
class JsonLine {
 public:
  JsonLine& str(const std::string& key, const std::string& value) {
    field(key);
    quote(value);
    return *this;
  }
  JsonLine& num(const std::string& key, double value) {
    field(key);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", value);
    text_ += buf;
    return *this;
  }
  void print() {
    std::printf("%s}\n", text_.c_str());
    std::fflush(stdout);
  }

 private:
  void field(const std::string& key) {
    text_ += text_.size() == 1 ? "" : ", ";
    quote(key);
    text_ += ": ";
  }
  void quote(const std::string& v) {
    text_ += '"';
    for (const char c : v) {
      if (c == '"' || c == '\\') {
        text_ += '\\';
        text_ += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
        text_ += buf;
      } else {
        text_ += c;
      }
    }
    text_ += '"';
  }
  std::string text_ = "{";
};

// Extra top-level members of every portal-relay child's config (the text inside the braces of
// the benches' --relay-json argument, e.g. `"threads": 2`); empty by default.
inline std::string& relay_config_extra() {
  static std::string extra;
  return extra;
}

// Sets relay_config_extra() from a JSON object's text; false when it is not `{...}`.
inline bool set_relay_config_extra(const std::string& object) {
  const auto open = object.find_first_not_of(" \t\n");
  const auto close = object.find_last_not_of(" \t\n");
  if (open == std::string::npos || object[open] != '{' || object[close] != '}') return false;
  const std::string inner = object.substr(open + 1, close - open - 1);
  relay_config_extra() = inner.find_first_not_of(" \t\n") == std::string::npos ? "" : inner;
  return true;
}

// Children still running; killed at exit, so a failed run (std::exit) leaves nothing behind.
// Never destroyed: a static vector made after std::atexit(kill_children) would be destroyed
// before that handler runs, and the handler would read freed memory and miss children.
inline std::vector<pid_t>& children() {
  static auto* pids = new std::vector<pid_t>;
  return *pids;
}

inline void kill_children() {
  for (const pid_t pid : children()) ::kill(pid, SIGKILL);
}

// The portal-relay child, on tcp:// and ws:// with port 0. `transports` is the config's
// "transports" object (settings by scheme), e.g. {"ws": {"nodelay": "false"}}.
// A throwaway CA and a certificate for 127.0.0.1 signed by it, made with the openssl command in
// `dir` (ca.pem, relay.pem, relay.key), for the tls:// and wss:// rows.
inline void make_test_pki(const std::string& dir) {
  const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  const std::string cmd =
      "{ cd '" + dir + "' && printf 'subjectAltName=IP:127.0.0.1\\n' > san && " +
      "openssl req -x509 " + ec + " -keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca && " +
      "openssl req " + ec + " -keyout relay.key -out relay.csr -subj /CN=relay && " +
      "openssl x509 -req -in relay.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out relay.pem " +
      "-days 2 -extfile san && chmod 600 relay.key; }";
  if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) {
    std::fprintf(stderr, "openssl: cannot make the bench certificates\n");
    std::exit(1);
  }
}

struct RelayChild {
  pid_t pid = -1;
  std::string tcp, ws;
  std::string tls, wss;  // with `secure`
  std::string ca_file;   // with `secure`: the CA that signed the relay's certificate

  std::string dir;  // its config, and its stdout in `out`

  /// `secure`: also tls:// and wss:// listeners, with a throwaway certificate. `own`: extra
  /// top-level members of this relay's config alone (e.g. the fleet table's directory and
  /// peers), after relay_config_extra()'s. `limits`: extra members of its "limits" object (the
  /// rate table's bandwidth limits).
  explicit RelayChild(const std::string& transports = "{}", bool secure = false,
                      const std::string& own = "", const std::string& limits = "") {
    static int count = 0;
    dir = "/tmp/portal-bench-relay-" + std::to_string(::getpid()) + "-" + std::to_string(++count);
    ::mkdir(dir.c_str(), 0700);
    const std::string cfg = dir + "/relay.json", out = dir + "/out";
    // PORTAL_BENCH_RELAY_THREADS=N: the relay's "threads" key (ADR 0013); unset: its default.
    const char* threads = std::getenv("PORTAL_BENCH_RELAY_THREADS");
    std::ofstream(cfg) << R"({"log_level": "warn", )"
                       << (threads != nullptr && *threads != '\0'
                               ? "\"threads\": " + std::to_string(std::atoi(threads)) + ", "
                               : std::string())
                       << R"("transports": )" << transports
                       << R"(, "limits": {"max_connections_per_ip": 100000,
      "max_leases_per_connection": 64, "max_streams_per_lease": 100000,
      "max_spliced_per_dialer_session": 100000, "max_spliced_per_dialer_ip": 100000,
      "max_control_streams_per_session": 100000, "max_control_streams_per_ip": 100000,
      "max_leases_per_ip": 1000000, "relay_info_kib_per_minute_per_session": 0,
      "relay_info_kib_per_minute_per_ip": 0)"
                       << (limits.empty() ? "" : ", " + limits) << "}"
                       << (relay_config_extra().empty() ? "" : ", " + relay_config_extra())
                       << (own.empty() ? "" : ", " + own) << "}";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const std::string bin = std::string(PORTAL_BIN_DIR) + "/portal-relay";
    std::vector<std::string> argv{bin,
                                  "--config",
                                  cfg,
                                  "--listen",
                                  "tcp://127.0.0.1:0",
                                  "--listen",
                                  "ws://127.0.0.1:0/relay"};
    if (secure) {
      make_test_pki(dir);
      ca_file = dir + "/ca.pem";
      for (const char* extra :
           {"--listen", "tls://127.0.0.1:0", "--listen", "wss://127.0.0.1:0/relay", "--tls-cert"}) {
        argv.push_back(extra);
      }
      argv.push_back(dir + "/relay.pem");
      argv.push_back("--tls-key");
      argv.push_back(dir + "/relay.key");
    }
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (::posix_spawn(&pid, bin.c_str(), &fa, nullptr, args.data(), environ) != 0) {
      std::fprintf(stderr, "cannot start %s\n", bin.c_str());
      std::exit(1);
    }
    children().push_back(pid);
    auto missing = [&] {
      return tcp.empty() || ws.empty() || (secure && (tls.empty() || wss.empty()));
    };
    for (int i = 0; i < 500 && missing(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        std::erase(children(), pid);
        std::fprintf(stderr, "portal-relay exited at start (status %d); its config: %s\n", status,
                     cfg.c_str());
        std::exit(1);
      }
      std::ifstream in(out);
      std::string line;
      while (std::getline(in, line)) {
        if (line.rfind("listening tcp://", 0) == 0) tcp = line.substr(10);
        if (line.rfind("listening ws://", 0) == 0) ws = line.substr(10);
        if (line.rfind("listening tls://", 0) == 0) tls = line.substr(10);
        if (line.rfind("listening wss://", 0) == 0) wss = line.substr(10);
      }
    }
    if (missing()) {
      std::fprintf(stderr, "portal-relay did not start\n");
      std::exit(1);
    }
  }
  ~RelayChild() {
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::erase(children(), pid);
  }
};

// A redis-server child on 127.0.0.1 for the fleet table's shared directory: no persistence
// (--save '' --appendonly no), its files in a private temporary directory removed at the end.
// The binary: $PORTAL_REDIS_SERVER, else `binary` (an absolute path, or a name looked up in
// PATH). Exits the bench with a message when it cannot start.
class RedisChild {
 public:
  explicit RedisChild(const std::string& binary) {
    const char* env = std::getenv("PORTAL_REDIS_SERVER");
    const std::string bin = env != nullptr && *env != '\0' ? env : binary;
    static int count = 0;
    dir_ = "/tmp/portal-bench-redis-" + std::to_string(::getpid()) + "-" + std::to_string(++count);
    ::mkdir(dir_.c_str(), 0700);
    const std::string out = dir_ + "/out";
    // redis-server cannot bind port 0 and say which port it got: take one that was free a
    // moment ago, and try another when a start loses the race for it.
    for (int attempt = 0; attempt < 5 && pid_ < 0; ++attempt) {
      port_ = free_port();
      if (port_ == 0) break;
      std::vector<std::string> argv{
          bin,      "--port", std::to_string(port_), "--bind", "127.0.0.1",
          "--save", "",       "--appendonly",        "no",     "--dir",
          dir_};
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      posix_spawn_file_actions_adddup2(&fa, 1, 2);
      pid_t pid = -1;
      const int rc = ::posix_spawnp(&pid, bin.c_str(), &fa, nullptr, args.data(), environ);
      posix_spawn_file_actions_destroy(&fa);
      if (rc != 0) {
        std::fprintf(stderr, "cannot start %s: %s (scripts/install-deps.sh --bench installs it)\n",
                     bin.c_str(), std::strerror(rc));
        std::exit(1);
      }
      children().push_back(pid);
      for (int i = 0; i < 250; ++i) {  // 5 s
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
          std::erase(children(), pid);
          pid = -1;
          break;
        }
        if (answers_ping(port_)) {
          pid_ = pid;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (pid_ < 0 && pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        std::erase(children(), pid);
      }
    }
    if (pid_ < 0) {
      std::ifstream in(out);
      std::stringstream log;
      log << in.rdbuf();
      std::fprintf(stderr, "%s did not start on 127.0.0.1; its output:\n%s\n", bin.c_str(),
                   log.str().c_str());
      std::exit(1);
    }
  }
  RedisChild(const RedisChild&) = delete;
  RedisChild& operator=(const RedisChild&) = delete;
  ~RedisChild() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    std::erase(children(), pid_);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  /// redis://127.0.0.1:<port>/<db>
  [[nodiscard]] std::string url(int db) const {
    return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
  }
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  static std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    std::uint16_t port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
    ::close(fd);
    return port;
  }
  // Whether Redis on 127.0.0.1:`port` answers the inline PING (200 ms at most).
  static bool answers_ping(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    timeval tv{0, 200'000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    bool pong = false;
    const char ping[] = "PING\r\n";
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::send(fd, ping, sizeof ping - 1, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof ping - 1)) {
      char buf[16] = {};
      pong = ::recv(fd, buf, sizeof buf - 1, 0) >= 5 && std::strncmp(buf, "+PONG", 5) == 0;
    }
    ::close(fd);
    return pong;
  }

  std::string dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace portal::bench
