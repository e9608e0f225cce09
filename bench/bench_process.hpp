// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shared by the benches that run real processes: CPU and RSS from /proc, the portal-relay child,
// and cleanup of every child at exit.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
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

// Children still running; killed at exit, so a failed run (std::exit) leaves nothing behind.
inline std::vector<pid_t>& children() {
  static std::vector<pid_t> pids;
  return pids;
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

  /// `secure`: also tls:// and wss:// listeners, with a throwaway certificate.
  explicit RelayChild(const std::string& transports = "{}", bool secure = false) {
    static int count = 0;
    const std::string dir =
        "/tmp/portal-bench-relay-" + std::to_string(::getpid()) + "-" + std::to_string(++count);
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
      "relay_info_kib_per_minute_per_ip": 0}})";
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

}  // namespace portal::bench
