// SPDX-License-Identifier: Apache-2.0
#include "unix_transport.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cerrno>
#include <memory>
#include <utility>

#include "portal/base/log.hpp"
#include "portal/base/uri.hpp"
#include "portal/plugin/guard.hpp"
#include "portal/plugin/settings.hpp"
#include "portal/stream/logged.hpp"
#include "portal/transport/accept_queue.hpp"

namespace example::unix_transport {
namespace {

namespace asio = boost::asio;
namespace base = portal::base;
namespace transport = portal::transport;
using asio::local::stream_protocol;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

/// How long the accept loop pauses after a failed accept (out of descriptors, say), so that a
/// lasting error cannot spin a core.
constexpr std::chrono::milliseconds kAcceptErrorPause{100};

base::ErrorCode errno_code(int e) { return {e, boost::system::system_category()}; }

void log_error(const std::string& line) { base::log(base::LogLevel::Error, "unix", line); }

// The socket and its idle watchdog share this state, so the watchdog can outlive the stream.
struct Connection {
  Connection(stream_protocol::socket s, std::chrono::milliseconds idle)
      : socket(std::move(s)), idle_timeout(idle), watchdog(socket.get_executor()) {}
  stream_protocol::socket socket;
  std::chrono::milliseconds idle_timeout;
  asio::steady_timer watchdog;
  Clock::time_point last_activity = Clock::now();
  bool idle_expired = false;
  bool closed = false;

  void touch() { last_activity = Clock::now(); }
  void close() {
    closed = true;
    boost::system::error_code ignored;
    socket.close(ignored);
    watchdog.cancel();
  }
};

asio::awaitable<void> watch_idle(std::shared_ptr<Connection> c) {
  while (!c->closed) {
    c->watchdog.expires_at(c->last_activity + c->idle_timeout);
    (void)co_await c->watchdog.async_wait(asio::as_tuple(asio::use_awaitable));
    if (c->closed) co_return;
    if (Clock::now() >= c->last_activity + c->idle_timeout) {
      c->idle_expired = true;
      c->close();
      co_return;
    }
  }
}

class Stream final : public portal::stream::ByteStream {
 public:
  // `ticket`: the listener owner's admission, released with the stream.
  Stream(stream_protocol::socket socket, const Options& options, std::shared_ptr<void> ticket,
         Clock::time_point connected_at)
      : c_(std::make_shared<Connection>(std::move(socket), options.idle_timeout)),
        ticket_(std::move(ticket)) {
    // A Unix socket's peer has no IP address: the relay counts such peers per listener.
    peer_.connected_at = connected_at;
    if (options.idle_timeout.count() > 0) {
      asio::co_spawn(c_->socket.get_executor(), watch_idle(c_),
                     portal::stream::logged("unix", "idle watchdog"));
    }
  }
  ~Stream() override { c_->close(); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  asio::any_io_executor get_executor() override { return c_->socket.get_executor(); }

  asio::awaitable<base::Result<std::size_t>> async_read_some(base::MutableByteSpan b) override {
    auto c = c_;
    auto [ec, n] = co_await c->socket.async_read_some(asio::buffer(b.data(), b.size()),
                                                      asio::as_tuple(asio::use_awaitable));
    if (c->idle_expired) co_return make_error_code(transport::Errc::IdleTimeout);
    if (ec == asio::error::eof) co_return std::size_t{0};
    if (ec) co_return base::ErrorCode(ec);
    c->touch();
    co_return n;
  }

  asio::awaitable<base::Result<void>> async_write(base::ByteSpan d) override {
    auto c = c_;
    auto [ec, n] = co_await asio::async_write(c->socket, asio::buffer(d.data(), d.size()),
                                              asio::as_tuple(asio::use_awaitable));
    if (c->idle_expired) co_return make_error_code(transport::Errc::IdleTimeout);
    if (ec) co_return base::ErrorCode(ec);
    c->touch();
    co_return base::Result<void>{};
  }

  asio::awaitable<base::Result<void>> async_shutdown_write() override {
    boost::system::error_code ec;
    c_->socket.shutdown(stream_protocol::socket::shutdown_send, ec);
    if (ec) co_return base::ErrorCode(ec);
    co_return base::Result<void>{};
  }

  void close() noexcept override { c_->close(); }
  portal::stream::PeerInfo peer_info() const override { return peer_; }

 private:
  std::shared_ptr<Connection> c_;
  std::shared_ptr<void> ticket_;
  portal::stream::PeerInfo peer_;
};

// Makes room for a new socket at `path`: nothing there is fine; a socket nobody accepts on (left
// by a process that died) is removed; a live socket, or anything that is not a socket, is left
// alone and refused.
base::Result<void> clear_stale(const asio::any_io_executor& executor, const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    const auto e = errno_code(errno);
    log_error(path + ": " + e.message());
    return e;
  }
  if (!S_ISSOCK(st.st_mode)) {
    log_error(path + ": exists and is not a socket; refusing to replace it");
    return errno_code(EEXIST);
  }
  // Non-blocking, so that a live listener with a full backlog answers at once (EAGAIN).
  stream_protocol::socket probe(executor);
  boost::system::error_code ec;
  probe.open(stream_protocol(), ec);
  if (!ec) probe.non_blocking(true, ec);
  if (ec) return base::ErrorCode(ec);
  probe.connect(stream_protocol::endpoint(path), ec);
  if (ec == asio::error::connection_refused) {  // stale: nobody accepts there
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      const auto e = errno_code(errno);
      log_error(path + ": cannot remove the stale socket: " + e.message());
      return e;
    }
    base::log(base::LogLevel::Info, "unix", path + ": removed a stale socket");
    return {};
  }
  if (!ec || ec == asio::error::would_block || ec == asio::error::try_again) {
    log_error(path + ": another process listens on this socket");
    return errno_code(EADDRINUSE);
  }
  log_error(path + ": " + ec.message());
  return base::ErrorCode(ec);
}

// The socket's directory must not let others replace its entries: otherwise another user could
// swap the socket for a link between bind() and chmod(), or remove it. Writable by the owner
// (this process's user or root) only, or sticky (like /tmp: others cannot remove our entries).
base::Result<void> check_directory(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    const auto e = errno_code(errno);
    log_error(dir + ": " + e.message());
    return e;
  }
  const bool others_write = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
  const bool trusted_owner = st.st_uid == ::geteuid() || st.st_uid == 0;
  if (!trusted_owner || (others_write && (st.st_mode & S_ISVTX) == 0)) {
    log_error(dir +
              ": the socket's directory is writable by other users (and not sticky) or "
              "owned by another user; use a private directory");
    return errno_code(EPERM);
  }
  return {};
}

// An exclusive lock on "<path>.lock", held as long as the listener: two listeners starting on
// one path cannot both decide the socket is stale and remove each other's. The lock file stays
// (removing it would race with the next listener).
struct PathLock {
  int fd = -1;
  PathLock() = default;
  PathLock(const PathLock&) = delete;
  PathLock& operator=(const PathLock&) = delete;
  ~PathLock() {
    if (fd >= 0) ::close(fd);  // releases the lock
  }
};

base::Result<void> lock_path(const std::string& path, PathLock& lock) {
  const std::string lock_path = path + ".lock";
  lock.fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock.fd < 0) {
    const auto e = errno_code(errno);
    log_error(lock_path + ": " + e.message());
    return e;
  }
  if (::flock(lock.fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      log_error(path + ": another listener holds " + lock_path);
      return errno_code(EADDRINUSE);
    }
    log_error(lock_path + ": " + errno_code(err).message());
    return errno_code(err);
  }
  return {};
}

// The listener's state, shared with its accept loop (which may outlive the listener a moment).
struct ListenerState {
  ListenerState(stream_protocol::acceptor a, std::string p, Options o)
      : acceptor(std::move(a)),
        path(std::move(p)),
        options(std::move(o)),
        ready(acceptor.get_executor(), static_cast<std::size_t>(options.backlog)) {}
  stream_protocol::acceptor acceptor;
  std::string path;
  Options options;
  transport::AcceptQueue ready;                         // at most options.backlog
  std::shared_ptr<const transport::AcceptHooks> hooks;  // the listener's
  dev_t device = 0;                                     // the socket file this listener made
  ino_t inode = 0;
  PathLock lock;  // held until the state goes
};

asio::awaitable<void> accept_loop(std::shared_ptr<ListenerState> s) {
  const transport::AcceptQueue::CloseOnExit close_queue(s->ready);
  while (!s->ready.closed() && s->acceptor.is_open()) {
    auto [ec, socket] = co_await s->acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor ||
        !s->acceptor.is_open()) {
      co_return;
    }
    if (ec) {
      if (s->hooks && s->hooks->on_accept_error) s->hooks->on_accept_error(ec);
      if (ec == asio::error::connection_aborted) continue;
      asio::steady_timer pause(s->acceptor.get_executor(), kAcceptErrorPause);
      (void)co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    const auto connected_at = Clock::now();
    std::shared_ptr<void> ticket;
    if (s->hooks && s->hooks->admit) {
      ticket = s->hooks->admit(portal::stream::PeerInfo{{}, connected_at});
      if (!ticket) {  // refused: closed before a byte is read
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
    }
    s->ready.push(
        std::make_unique<Stream>(std::move(socket), s->options, std::move(ticket), connected_at));
  }
}

class Listener final : public transport::Listener {
 public:
  explicit Listener(std::shared_ptr<ListenerState> s) : s_(std::move(s)) {
    s_->hooks = accept_hooks();
  }
  ~Listener() override { close(); }

  transport::Uri local_uri() const override { return transport::Uri{"unix", {}, 0, s_->path}; }

  asio::awaitable<base::Result<std::unique_ptr<portal::stream::ByteStream>>> async_accept()
      override {
    auto s = s_;  // alive until the accept returns
    co_return co_await s->ready.next();
  }

  // Stops accepting and removes the socket file, if it is still the one this listener made.
  void close() noexcept override {
    boost::system::error_code ignored;
    s_->acceptor.close(ignored);
    s_->ready.close();
    if (s_->inode == 0) return;
    struct stat st {};
    if (::lstat(s_->path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == s_->device &&
        st.st_ino == s_->inode) {
      (void)::unlink(s_->path.c_str());
    }
    s_->inode = 0;
  }

  bool applies_accept_hooks() const noexcept override { return true; }

 private:
  std::shared_ptr<ListenerState> s_;
};

base::Result<std::unique_ptr<transport::Listener>> bind_listener(
    const asio::any_io_executor& executor, const std::string& path, const Options& options) {
  if (auto ok = check_directory(path); !ok) return ok.error();
  auto lock = std::make_unique<PathLock>();
  if (auto ok = lock_path(path, *lock); !ok) return ok.error();
  // Under the lock, a socket at the path is live (another process, which would hold the lock
  // too if it were a listener of this plugin) or stale.
  if (auto ok = clear_stale(executor, path); !ok) return ok.error();
  stream_protocol::acceptor acceptor(executor);
  boost::system::error_code ec;
  acceptor.open(stream_protocol(), ec);
  if (!ec) acceptor.bind(stream_protocol::endpoint(path), ec);
  if (ec) {
    log_error(path + ": bind: " + ec.message());
    return base::ErrorCode(ec);
  }
  auto state = std::make_shared<ListenerState>(std::move(acceptor), path, options);
  state->lock.fd = std::exchange(lock->fd, -1);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    state->device = st.st_dev;
    state->inode = st.st_ino;
  }
  // From here on the listener owns the file: a failure below removes it.
  auto listener = std::make_unique<Listener>(state);
  if (options.mode && ::chmod(path.c_str(), static_cast<mode_t>(*options.mode)) != 0) {
    const auto e = errno_code(errno);
    log_error(path + ": chmod: " + e.message());
    return e;
  }
  state->acceptor.listen(options.backlog, ec);
  if (ec) {
    log_error(path + ": listen: " + ec.message());
    return base::ErrorCode(ec);
  }
  asio::co_spawn(executor, accept_loop(state), portal::stream::logged("unix", "accept loop"));
  return std::unique_ptr<transport::Listener>(std::move(listener));
}

class Factory final : public transport::TransportFactory {
 public:
  base::Result<void> validate(const transport::Settings& settings,
                              std::string& problem) noexcept override {
    return portal::plugin::guard([&]() -> base::Result<void> {
      auto o = parse_settings(settings, problem);
      if (!o) return o.error();
      return {};
    });
  }

  asio::awaitable<base::Result<std::unique_ptr<portal::stream::ByteStream>>> async_connect(
      asio::any_io_executor executor, transport::Uri uri, transport::Settings settings) override {
    std::string problem;
    auto options = parse_settings(settings, problem);
    if (!options) co_return options.error();
    auto path = socket_path(uri);
    if (!path) co_return path.error();
    stream_protocol::socket socket(executor);
    asio::steady_timer deadline(executor, options->connect_timeout);
    auto outcome = co_await (socket.async_connect(stream_protocol::endpoint(*path),
                                                  asio::as_tuple(asio::use_awaitable)) ||
                             deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (outcome.index() == 1) co_return make_error_code(transport::Errc::ConnectTimeout);
    if (auto [ec] = std::get<0>(outcome); ec) co_return base::ErrorCode(ec);
    co_return std::unique_ptr<portal::stream::ByteStream>(
        std::make_unique<Stream>(std::move(socket), *options, nullptr, Clock::now()));
  }

  base::Result<std::unique_ptr<transport::Listener>> listen(
      asio::any_io_executor executor, const transport::Uri& uri,
      const transport::Settings& settings) noexcept override {
    return portal::plugin::guard([&]() -> base::Result<std::unique_ptr<transport::Listener>> {
      std::string problem;
      auto options = parse_settings(settings, problem);
      if (!options) return options.error();
      auto path = socket_path(uri);
      if (!path) return path.error();
      return bind_listener(executor, *path, *options);
    });
  }
};

}  // namespace

base::Result<Options> parse_settings(const transport::Settings& settings, std::string& problem) {
  Options o;
  portal::plugin::SettingsReader r(settings, "unix");
  r.millis("connect_timeout_ms", o.connect_timeout)
      .millis("idle_timeout_ms", o.idle_timeout, 0)
      .number("backlog", o.backlog, 1, 65535)
      .keys([](std::string_view key) { return key == "mode"; },
            [&o](const std::string&, const std::string& value, std::string& why) {
              // Octal permission bits, as chmod takes them: "660", "0600".
              unsigned mode = 0;
              bool valid = !value.empty() && value.size() <= 4;
              for (char ch : value) {
                if (ch < '0' || ch > '7') valid = false;
                mode = mode * 8 + static_cast<unsigned>(ch - '0');
              }
              if (!valid || mode > 0777) {
                why = "mode: '" + value + "' is not octal permission bits (e.g. 660)";
                return false;
              }
              o.mode = mode;
              return true;
            });
  if (!r.done(problem)) return transport::Errc::InvalidSetting;
  return o;
}

base::Result<std::string> socket_path(const transport::Uri& uri) {
  if (!uri.host.empty() || uri.port != 0) return transport::Errc::InvalidUri;
  const auto& p = uri.path;
  if (p.size() < 2 || p.front() != '/' || p.find('\0') != std::string::npos) {
    return transport::Errc::InvalidUri;
  }
  // Checked before any socket address is built from it (sun_path holds 108 bytes with the NUL).
  if (p.size() > base::kMaxLocalPathBytes) return base::Errc::UriPathTooLong;
  return p;
}

transport::TransportFactory& factory() noexcept {
  static Factory instance;
  return instance;
}

}  // namespace example::unix_transport
