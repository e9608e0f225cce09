// SPDX-License-Identifier: Apache-2.0
#pragma once

// A real redis-server on loopback for the fleet tests (tests/directory, tests/relay/fleet_test):
// the binary is PORTAL_REDIS_SERVER (tests/CMakeLists.txt finds Debian's).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace portal::test {

// A TCP port on 127.0.0.1 that was free a moment ago (redis-server cannot bind port 0 and say
// which port it got).
inline std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

// The first line Redis on 127.0.0.1:`port` answers to the inline command `command` (empty when
// nothing answered within 200 ms).
inline std::string inline_command(std::uint16_t port, const std::string& command) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  timeval tv{0, 200'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  std::string line;
  std::string request = command + "\r\n";
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buf[256] = {};
    ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
    if (n > 0) line.assign(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return line.substr(0, line.find("\r\n"));
}

// Whether something on 127.0.0.1:`port` answers PING like Redis (PONG, or NOAUTH when it wants a
// password).
inline bool answers_ping(std::uint16_t port) {
  std::string line = inline_command(port, "PING");
  return line == "+PONG" || line.rfind("-NOAUTH", 0) == 0;
}

// A redis-server of its own on 127.0.0.1: no persistence, data in a temporary directory. Start,
// stop (SIGKILL), pause (SIGSTOP) and restart on the same port.
class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra = {}) : extra_(std::move(extra)) {}
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  ~RedisServer() { stop(); }

  // A port for a server that is not started yet.
  std::uint16_t reserve() {
    if (port_ == 0) port_ = free_port();
    return port_;
  }

  // Starts (or restarts, on the same port) and waits until it answers PING. Retries on another
  // port when the first start loses a bind race, unless the port is already in use by a client.
  bool start() {
    const bool fixed_port = port_ != 0;
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (port_ == 0) port_ = free_port();
      std::vector<std::string> argv = {PORTAL_REDIS_SERVER,
                                       "--port",
                                       std::to_string(port_),
                                       "--bind",
                                       "127.0.0.1",
                                       "--save",
                                       "",
                                       "--appendonly",
                                       "no",
                                       "--dir",
                                       dir_.path().string()};
      argv.insert(argv.end(), extra_.begin(), extra_.end());
      child_ =
          std::make_unique<Child>(argv, (dir_ / "out.log").string(), (dir_ / "err.log").string());
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (std::chrono::steady_clock::now() < deadline && child_->running()) {
        if (answers_ping(port_)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      child_.reset();
      if (!fixed_port) port_ = 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  void stop() {
    if (child_) {
      child_->signal(SIGCONT);
      child_->signal(SIGKILL);
      (void)child_->wait(5000);
      child_.reset();
    }
  }
  void pause() {
    if (child_) child_->signal(SIGSTOP);
  }
  void resume() {
    if (child_) child_->signal(SIGCONT);
  }

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::string url(int db = -1) const {
    return "redis://127.0.0.1:" + std::to_string(port_) +
           (db >= 0 ? "/" + std::to_string(db) : std::string());
  }
  [[nodiscard]] std::string log() const { return child_ ? child_->out() : std::string(); }

 private:
  std::vector<std::string> extra_;
  TempDir dir_;
  std::unique_ptr<Child> child_;
  std::uint16_t port_ = 0;
};

}  // namespace portal::test
