// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shared by the fault and flood tests (ctest label "faults"): /proc readings of a process,
// `portal` subcommands and relays with any listeners as real processes, and a test fixture whose
// every wait is bounded and says what it waited for when it gives up.

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "portal/cipher/aead_factory.hpp"
#include "portal/platform/key_file.hpp"
#include "portal/secure_stream/secure_stream.hpp"
#include "relay/bulk.hpp"
#include "relay/relay_harness.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace portal::test::faults {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

/// Resident memory of `pid` in bytes (/proc/<pid>/status VmRSS), -1 when unreadable.
inline std::int64_t rss_bytes(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

/// Entries of /proc/<pid>/<sub> ("fd": open descriptors, "task": threads), -1 when unreadable.
inline int proc_entries(int pid, const char* sub) {
  const std::string path = "/proc/" + std::to_string(pid) + "/" + sub;
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n;
}

/// A TCP port on 127.0.0.1 that was free a moment ago (0 when none was found).
inline std::uint16_t free_port() {
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

/// portal-relay with `config` (JSON text) and the listeners `listens`, in order. After start,
/// `uris` holds what each listener bound (same order) and `http` the first ws:// listener's
/// http:// address (its /metrics).
class Relay {
 public:
  Relay(std::string config, std::vector<std::string> listens, std::vector<std::string> extra = {})
      : config_(std::move(config)), listens_(std::move(listens)), extra_(std::move(extra)) {
    start();
  }

  /// Starts the process (again, after kill()); false, with a test failure, when it did not say
  /// it listens within 20 s.
  bool start() {
    const auto cfg = dir_ / "relay.json";
    std::ofstream(cfg) << config_;
    std::vector<std::string> argv{bin_path("portal-relay"), "--config", cfg.string(),
                                  "--plugin-dir", PORTAL_BUILD_PLUGIN_DIR};
    for (const auto& l : listens_) argv.insert(argv.end(), {"--listen", l});
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    ++starts_;
    const auto tag = std::to_string(starts_);
    child_.reset();
    child_ = std::make_unique<Child>(argv, (dir_ / ("out" + tag)).string(),
                                     (dir_ / ("err" + tag)).string());
    if (!child_->wait_for_lines("listening ", listens_.size(), 20'000)) {
      ADD_FAILURE() << "relay did not start:\n" << child_->out() << child_->err();
      return false;
    }
    uris.clear();
    const std::string out = child_->out();
    std::size_t pos = 0;
    while ((pos = out.find("listening ", pos)) != std::string::npos) {
      const auto end = out.find('\n', pos);
      uris.push_back(out.substr(pos + 10, end - pos - 10));
      pos = end;
    }
    http.clear();
    for (const auto& u : uris) {
      auto parsed = transport::parse_uri(u);
      if (parsed && parsed->scheme == "ws" && http.empty()) {
        http = "http://127.0.0.1:" + std::to_string(parsed->port);
      }
    }
    return true;
  }

  [[nodiscard]] bool alive() { return child_ && child_->running(); }
  Child& child() { return *child_; }
  [[nodiscard]] int pid() const { return child_->pid(); }
  [[nodiscard]] std::string err() const { return child_ ? child_->err() : std::string(); }
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_.path(); }
  /// The first listener of `scheme` ("ws", "tcp").
  [[nodiscard]] std::string uri(const std::string& scheme) const {
    for (const auto& u : uris) {
      if (u.rfind(scheme + "://", 0) == 0) return u;
    }
    return {};
  }
  [[nodiscard]] std::string metrics() const { return curl(http + "/metrics"); }

  std::vector<std::string> uris;
  std::string http;

 private:
  TempDir dir_;
  std::string config_;
  std::vector<std::string> listens_;
  std::vector<std::string> extra_;
  int starts_ = 0;
  std::unique_ptr<Child> child_;
};

/// One side of a relayed stream: what it wrote and read, and why it stopped.
struct Flow {
  std::uint64_t written = 0;
  std::uint64_t read = 0;
  bool write_ended = false;
  bool read_ended = false;
  std::string write_error;
  std::string read_error;
};

/// Writes `total` bytes to `s` (64 KiB at a time), recording progress in `f`; then half-closes.
inline asio::awaitable<void> pour(std::shared_ptr<stream::ByteStream> s, std::uint64_t total,
                                  std::shared_ptr<Flow> f) {
  base::Bytes chunk(kChunk, 0x5a);
  while (f->written < total) {
    chunk.resize(static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, total - f->written)));
    auto w = co_await s->async_write(chunk);
    if (!w) {
      f->write_error = w.error().message();
      f->write_ended = true;
      co_return;
    }
    f->written += chunk.size();
  }
  (void)co_await s->async_shutdown_write();
  f->write_ended = true;
}

/// Reads `s` until it ends, recording progress in `f`.
inline asio::awaitable<void> drink(std::shared_ptr<stream::ByteStream> s, std::shared_ptr<Flow> f) {
  base::Bytes buf(kChunk);
  for (;;) {
    auto n = co_await s->async_read_some(buf);
    if (!n) f->read_error = n.error().message();
    if (!n || *n == 0) break;
    f->read += *n;
  }
  f->read_ended = true;
}

class FaultTest : public RelayClientTest {
 protected:
  /// Lets the client side run for `d` (pump() alone returns at once when it has no work).
  void wait(std::chrono::milliseconds d) {
    const auto end = Clock::now() + d;
    for (auto now = Clock::now(); now < end; now = Clock::now()) {
      const auto step = std::min<Clock::duration>(20ms, end - now);
      io_.restart();
      io_.run_for(step);
      std::this_thread::sleep_until(std::min(now + step, end));
    }
  }

  /// Pumps the client side until `done()` or `bound` passes: how long it took, or nothing.
  std::optional<std::chrono::milliseconds> within(std::chrono::milliseconds bound,
                                                  const std::function<bool()>& done,
                                                  std::chrono::milliseconds step = 20ms) {
    const auto start = Clock::now();
    for (;;) {
      if (done()) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      }
      if (Clock::now() - start >= bound) return std::nullopt;
      wait(step);
    }
  }

  /// The end-to-end dialer's config: the build's chacha20-poly1305 and `who`.
  std::shared_ptr<const stream::SecureStreamConfig> secure_config(const identity::Credential& who) {
    auto p = host_->find_provider(plugin::Kind::Cipher, "chacha20-poly1305");
    if (!p) throw std::runtime_error("no chacha20-poly1305 cipher plugin");
    auto f = (*p)->factory<cipher::AeadFactory>();
    if (!f) throw std::runtime_error("the chacha20-poly1305 plugin has no AEAD factory");
    auto cfg = std::make_shared<stream::SecureStreamConfig>();
    cfg->credential = &who;
    cfg->cipher = *f;
    return cfg;
  }

  /// Dials `lease_id` on `s` (10 s at most): the accepted stream, or a test failure and null.
  std::unique_ptr<stream::ByteStream> dial_stream(mux::Session& s, const std::string& lease_id) {
    auto d = run(client::request_connection(s, lease_id, std::nullopt, 10s), 15s);
    if (!d) {
      ADD_FAILURE() << "connection request: " << d.error().message();
      return nullptr;
    }
    if (d->code != wire::ResponseCode::Accepted) {
      ADD_FAILURE() << "connection request answered " << wire::to_string(d->code);
      return nullptr;
    }
    return std::move(d->stream);
  }

  /// Rounds bytes to MiB for figures.
  static double mib(std::int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }
};

}  // namespace portal::test::faults
