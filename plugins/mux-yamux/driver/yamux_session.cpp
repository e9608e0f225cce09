// SPDX-License-Identifier: Apache-2.0
#include "driver/yamux_session.hpp"
#include "portal/stream/logged.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <limits>
#include <map>
#include <memory>
#include <unordered_map>

#include "portal/base/log.hpp"
#include "portal/base/parse.hpp"
#include "portal/plugin/settings.hpp"
#include "portal/stream/async_signal.hpp"

namespace portal::yamux {
namespace {

namespace asio = boost::asio;
using stream::AsyncSignal;

constexpr std::size_t kReadChunk = 64 * 1024;
// An idle session reads into a small buffer: most sessions on a relay are idle lease holders
// that only see pings, and a 64 KiB buffer held by each pending read would be most of their
// memory. A read that fills the small buffer switches to the large one; a run of small reads
// switches back.
constexpr std::size_t kIdleReadChunk = 512;
constexpr int kSmallReadsBeforeShrink = 8;
/// Writers wait while more than this is queued for the transport: bounds session memory.
constexpr std::size_t kOutputHighWater = 1024 * 1024;

Time now() { return std::chrono::steady_clock::now(); }

// A read buffer that is not zero-filled when it grows (the bytes are overwritten by reads).
class ReadBuffer {
 public:
  explicit ReadBuffer(std::size_t n) { resize(n); }
  void resize(std::size_t n) {
    data_ = std::make_unique_for_overwrite<base::Byte[]>(n);
    size_ = n;
  }
  base::MutableByteSpan span() noexcept { return {data_.get(), size_}; }
  const base::Byte* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }

 private:
  std::unique_ptr<base::Byte[]> data_;
  std::size_t size_ = 0;
};

class YamuxSession;

struct StreamState {
  explicit StreamState(const asio::any_io_executor& ex) : readable(ex), writable(ex) {}
  AsyncSignal readable;
  AsyncSignal writable;
  bool reset = false;
  bool gone = false;  // finished in the core (both FINs, or reset)
};

class YamuxStream final : public stream::ByteStream {
 public:
  YamuxStream(std::shared_ptr<YamuxSession> session, std::uint32_t id,
              std::shared_ptr<StreamState> state)
      : session_(std::move(session)), id_(id), state_(std::move(state)) {}
  ~YamuxStream() override;

  asio::any_io_executor get_executor() override;
  asio::awaitable<base::Result<std::size_t>> async_read_some(base::MutableByteSpan buf) override;
  asio::awaitable<base::Result<void>> async_write(base::ByteSpan data) override;
  asio::awaitable<base::Result<void>> async_shutdown_write() override;
  void close() noexcept override;

 private:
  std::shared_ptr<YamuxSession> session_;
  std::uint32_t id_;
  std::shared_ptr<StreamState> state_;
  bool closed_ = false;
  bool shut_down_ = false;
};

class YamuxSession final : public mux::Session, public std::enable_shared_from_this<YamuxSession> {
 public:
  YamuxSession(std::unique_ptr<stream::ByteStream> transport, Role role, Config config)
      : executor_(transport->get_executor()),
        transport_(std::move(transport)),
        core_(role, config, now()),
        output_drained_(executor_),
        incoming_(executor_),
        acked_(executor_),
        pinged_(executor_),
        changed_(executor_),
        closed_signal_(executor_),
        timer_(executor_) {}

  void start() {
    auto self = shared_from_this();
    asio::co_spawn(
        executor_, [self]() { return self->read_loop(); }, stream::logged("yamux", "read loop"));
    arm_timer(core_.poll_deadline());
  }

  asio::any_io_executor get_executor() override { return executor_; }
  bool is_open() const noexcept override { return !core_.is_closed(); }
  std::size_t stream_count() const noexcept override { return core_.stream_count(); }

  asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>> async_open() override {
    for (;;) {
      auto id = core_.open(now());
      if (id) {
        after_command();
        rearm_timer(core_.config().stream_open_timeout);
        co_return make_stream(*id);
      }
      if (id.error() != Errc::OpenBacklogFull) co_return id.error();
      co_await acked_.wait();  // v0.1.2 blocks opens while 256 are un-ACKed; so do we
    }
  }

  asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>> async_accept() override {
    for (;;) {
      if (core_.is_closed()) co_return closed_error();
      auto id = core_.accept();
      if (id) {
        after_command();
        co_return make_stream(*id);
      }
      co_await incoming_.wait();
    }
  }

  asio::awaitable<base::Result<std::chrono::nanoseconds>> async_ping() override {
    auto id = core_.ping(now());
    if (!id) co_return id.error();
    after_command();
    rearm_timer(core_.config().ping_timeout);
    const Time deadline = now() + core_.config().ping_timeout;
    for (;;) {
      if (auto it = ping_replies_.find(*id); it != ping_replies_.end()) {
        const auto rtt = it->second;
        ping_replies_.erase(it);
        co_return std::chrono::duration_cast<std::chrono::nanoseconds>(rtt);
      }
      if (core_.is_closed()) co_return closed_error();
      if (now() >= deadline) co_return make_error_code(Errc::KeepaliveTimeout);
      co_await pinged_.wait();  // the timer loop wakes us at the deadline too
    }
  }

  asio::awaitable<base::Result<void>> async_drain(std::chrono::milliseconds timeout) override {
    core_.go_away(GoAwayCode::Normal);
    after_command();
    asio::steady_timer limit(executor_, timeout);
    // Shared with the timer's handler, which may run after this frame is gone (the timer can
    // fire just as the last stream closes): it captures nothing from the frame.
    auto expired = std::make_shared<bool>(false);
    limit.async_wait([expired, self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) {
        *expired = true;
        self->changed_.notify();
      }
    });
    while (core_.stream_count() > 0 && !core_.is_closed() && !*expired) co_await changed_.wait();
    limit.cancel();
    const bool drained = core_.stream_count() == 0;
    // Let the GO_AWAY and final frames reach the peer before the transport goes.
    while (!core_.pending_output().empty() && !core_.is_closed()) co_await output_drained_.wait();
    close();
    if (!drained) co_return asio::error::timed_out;
    co_return base::Result<void>{};
  }

  asio::awaitable<base::ErrorCode> async_wait_closed() override {
    while (!core_.is_closed()) co_await closed_signal_.wait();
    co_return closed_error();
  }

  void close() noexcept override {
    if (!core_.is_closed()) core_.close(make_error_code(Errc::SessionClosed));
    dispatch_events();
    transport_->close();
  }

  // ---- used by streams

  yamux::Session& core() { return core_; }
  base::ErrorCode closed_error() const {
    // The reason every mux reports alike (the relay counts it).
    if (core_.error() == Errc::PeerNotReading) return mux::Errc::PeerNotReading;
    return core_.error() ? core_.error() : make_error_code(Errc::SessionClosed);
  }
  bool output_full() const { return core_.pending_output().size() > kOutputHighWater; }
  AsyncSignal& output_drained() { return output_drained_; }

  /// After any command on the core: handle events, start the writer. The timer is left alone:
  /// commands that can bring the next deadline forward call rearm_timer(); a deadline that
  /// moved later only makes the timer fire early and re-read it.
  void after_command() {
    dispatch_events();
    start_writer();
  }

  /// A command started a core timer that runs out `after` from now (an open, ping, close or
  /// drain timeout): re-arms the timer if that is earlier than the deadline it waits for.
  void rearm_timer(Duration after) {
    if (now() + after < armed_) arm_timer(core_.poll_deadline());
  }

  void forget(std::uint32_t id) { streams_.erase(id); }

 private:
  std::unique_ptr<stream::ByteStream> make_stream(std::uint32_t id) {
    auto state = std::make_shared<StreamState>(executor_);
    streams_[id] = state;
    return std::make_unique<YamuxStream>(shared_from_this(), id, std::move(state));
  }

  void dispatch_events() {
    while (auto e = core_.poll_event()) {
      auto st = [&]() -> StreamState* {
        auto it = streams_.find(e->stream);
        return it == streams_.end() ? nullptr : it->second.get();
      }();
      switch (e->type) {
        case EventType::StreamIncoming: incoming_.notify(); break;
        case EventType::StreamAcked: acked_.notify(); break;
        case EventType::StreamReadable:
        case EventType::StreamEof:
          if (st) st->readable.notify();
          break;
        case EventType::StreamWritable:
          if (st) st->writable.notify();
          break;
        case EventType::StreamReset:
        case EventType::StreamClosed:
          if (st) {
            st->reset = e->type == EventType::StreamReset;
            st->gone = true;
            st->readable.notify();
            st->writable.notify();
          }
          break;
        case EventType::PingReply:
          ping_replies_[e->value] = e->rtt;
          pinged_.notify();
          break;
        case EventType::GoAwayReceived:
          base::log(base::LogLevel::Info, "yamux",
                    "peer sent GO_AWAY code " + std::to_string(e->value));
          break;
        case EventType::SessionClosed:
          if (core_.error() != Errc::SessionClosed) {
            base::log(base::LogLevel::Info, "yamux", "session closed: " + core_.error().message());
          }
          incoming_.notify();
          acked_.notify();
          pinged_.notify();
          closed_signal_.notify();
          output_drained_.notify();
          timer_.cancel();
          // Frames queued before the end (a GO_AWAY) still go out; then the transport closes.
          if (core_.pending_output().empty() && !writing_) transport_->close();
          break;
      }
    }
    changed_.notify();
  }

  asio::awaitable<void> read_loop() {
    auto self = shared_from_this();
    ReadBuffer buf(kIdleReadChunk);
    int small_reads = 0;
    while (!core_.is_closed()) {
      auto n = co_await transport_->async_read_some(buf.span());
      if (!n || *n == 0) {
        core_.handle_transport_closed(n ? make_error_code(Errc::SessionClosed) : n.error());
        after_command();
        break;
      }
      (void)core_.handle_input(base::ByteSpan(buf.data(), *n), now());
      after_command();
      // Input can bring the next deadline forward: a keepalive answer schedules the next ping
      // sooner than the answer's timeout, a paused reader starts the drain timeout.
      if (const auto d = core_.poll_deadline(); d && *d < armed_) arm_timer(d);
      if (*n == buf.size() && buf.size() < kReadChunk) {
        buf.resize(kReadChunk);
        small_reads = 0;
      } else if (buf.size() > kIdleReadChunk) {
        small_reads = *n <= kIdleReadChunk ? small_reads + 1 : 0;
        if (small_reads >= kSmallReadsBeforeShrink) {
          buf.resize(kIdleReadChunk);
          small_reads = 0;
        }
      }
      // DATA gets no backpressure here: the stream windows already bound what the peer may
      // send, and a reader that stopped while its own output is congested could deadlock two
      // sessions that both write faster than the link drains. Control frames owed to the peer
      // are another matter (it makes us owe them without reading): past the budget, read
      // nothing more until it drains; the core closes the session if it does not in time.
      while (core_.input_paused()) co_await output_drained_.wait();
    }
  }

  // The writer runs only while there is output: an idle session keeps no writer coroutine.
  void start_writer() {
    if (writing_ || core_.pending_output().empty()) return;
    writing_ = true;
    asio::co_spawn(
        executor_, [self = shared_from_this()]() { return self->write_loop(); },
        stream::logged("yamux", "writer"));
  }

  asio::awaitable<void> write_loop() {
    auto self = shared_from_this();
    // Two buffers take turns: the core appends to one while the other (out_) is being written,
    // so nothing is copied (ADR 0012).
    auto& out = out_;
    // Let the commands that are ready run first, so that one write carries all they queue
    // (co_spawn may start this coroutine inside the command that queued the first frame).
    co_await asio::post(executor_, asio::use_awaitable);
    while (!core_.pending_output().empty()) {
      core_.take_output(out);
      output_drained_.notify();
      auto r = co_await transport_->async_write(out.readable());
      if (!r) {
        core_.handle_transport_closed(r.error());
        after_command();
        break;
      }
      out.clear();
      // Keep the storage for the next turn: freeing it makes the core regrow its buffer from
      // nothing (and copy as it doubles) on every turn. The timer frees it once idle.
      if (out.capacity() > 2 * kOutputHighWater) out.release_if_empty();
    }
    writing_ = false;
    output_drained_.notify();
    if (core_.is_closed()) transport_->close();
  }

  // The timer is a plain handler, not a coroutine: an idle session keeps one pending wait.
  // Re-arming cancels the pending wait, whose handler then does nothing.
  void arm_timer(std::optional<Time> deadline) {
    armed_ = deadline ? *deadline : Time::max();
    if (core_.is_closed()) return;
    timer_.expires_at(armed_);
    timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec == asio::error::operation_aborted) return;
      if (auto self = weak.lock()) self->on_timer();
    });
  }

  void on_timer() {
    if (core_.is_closed()) return;
    if (!writing_) out_.release_if_empty();  // idle since the last turn: keep no buffer
    // Fired early for a deadline that moved later: only re-read it.
    if (now() >= armed_) {
      core_.handle_timeout(now());
      dispatch_events();
      start_writer();
      pinged_.notify();  // ping waiters re-check their deadline
    }
    arm_timer(core_.poll_deadline());
  }

  asio::any_io_executor executor_;
  std::unique_ptr<stream::ByteStream> transport_;
  yamux::Session core_;
  std::unordered_map<std::uint32_t, std::shared_ptr<StreamState>> streams_;
  std::map<std::uint32_t, Duration> ping_replies_;
  AsyncSignal output_drained_;
  AsyncSignal incoming_;
  AsyncSignal acked_;
  AsyncSignal pinged_;
  AsyncSignal changed_;
  AsyncSignal closed_signal_;
  asio::steady_timer timer_;
  Time armed_ = Time::max();                                       // what timer_ waits for
  bool writing_ = false;                                           // a write_loop runs
  base::ByteBuffer out_{std::numeric_limits<std::size_t>::max()};  // being written
};

// ---- stream --------------------------------------------------------------------------------

YamuxStream::~YamuxStream() {
  // Dropping a stream that is not finished aborts it, so the peer is not left waiting.
  if (!state_->gone && !shut_down_) close();
  session_->forget(id_);
}

asio::any_io_executor YamuxStream::get_executor() { return session_->get_executor(); }

asio::awaitable<base::Result<std::size_t>> YamuxStream::async_read_some(base::MutableByteSpan buf) {
  for (;;) {
    if (closed_) co_return base::ErrorCode(asio::error::operation_aborted);
    auto& core = session_->core();
    const std::size_t n = core.read(id_, buf);
    if (n > 0) {
      session_->after_command();  // may carry a window update
      co_return n;
    }
    if (state_->reset) co_return make_error_code(Errc::StreamReset);
    if (core.eof(id_)) co_return std::size_t{0};
    if (core.is_closed()) co_return session_->closed_error();
    co_await state_->readable.wait();
  }
}

asio::awaitable<base::Result<void>> YamuxStream::async_write(base::ByteSpan data) {
  while (!data.empty()) {
    if (closed_) co_return base::ErrorCode(asio::error::operation_aborted);
    if (state_->reset) co_return make_error_code(Errc::StreamReset);
    auto& core = session_->core();
    if (core.is_closed()) co_return session_->closed_error();
    if (session_->output_full()) {
      co_await session_->output_drained().wait();
      continue;
    }
    auto n = core.write(id_, data);
    if (!n) co_return n.error();
    if (*n == 0) {
      co_await state_->writable.wait();  // window closed: wait for the peer's update
      continue;
    }
    data = data.subspan(*n);
    session_->after_command();
  }
  co_return base::Result<void>{};
}

asio::awaitable<base::Result<void>> YamuxStream::async_shutdown_write() {
  if (state_->reset) co_return make_error_code(Errc::StreamReset);
  if (state_->gone) co_return base::Result<void>{};
  shut_down_ = true;
  auto r = session_->core().close_stream(id_, now());
  session_->after_command();
  session_->rearm_timer(session_->core().config().stream_close_timeout);
  co_return r;
}

void YamuxStream::close() noexcept {
  if (closed_) return;
  closed_ = true;
  if (!state_->gone) {
    session_->core().reset(id_);
    session_->after_command();
  }
  state_->readable.notify();
  state_->writable.notify();
}

// ---- settings ------------------------------------------------------------------------------

}  // namespace

base::Result<Config> parse_settings(const mux::Settings& settings, std::string& problem) {
  Config c;
  plugin::SettingsReader read(settings, "yamux");
  read.number("accept_backlog", c.accept_backlog, 0, 1u << 16)
      .number("max_streams", c.max_streams, 0, 1u << 20)
      .number("max_stream_window", c.max_stream_window, 0, 1u << 30, "bytes")
      .flag("enable_keepalive", c.enable_keepalive)
      .millis("keepalive_interval_ms", c.keepalive_interval)
      .millis("ping_timeout_ms", c.ping_timeout)
      .millis("stream_open_timeout_ms", c.stream_open_timeout)
      .millis("stream_close_timeout_ms", c.stream_close_timeout)
      .number("max_control_output", c.max_control_output, kHeaderSize, 1u << 30, "bytes")
      .millis("control_drain_timeout_ms", c.control_drain_timeout);
  if (!read.done(problem)) return Errc::InvalidConfig;
  if (auto r = validate(c); !r) {
    problem = "max_stream_window must be at least 262144 and counts must be positive";
    return r.error();
  }
  return c;
}

std::shared_ptr<mux::Session> start_session(std::unique_ptr<stream::ByteStream> transport,
                                            Role role, Config config) {
  auto s = std::make_shared<YamuxSession>(std::move(transport), role, config);
  s->start();
  return s;
}

}  // namespace portal::yamux
