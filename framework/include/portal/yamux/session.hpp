// SPDX-License-Identifier: Apache-2.0
#pragma once

// A yamux session (hashicorp/yamux v0.1.2 wire behaviour, portal-v1 §3) as a sans-IO core.
//
// Call order: after any input (handle_input, handle_timeout) or command (open, accept, write,
// read, close_stream, reset, ping, go_away), drain pending_output() to the transport, then
// poll_event() until empty, then re-read poll_deadline() and call handle_timeout() when it
// passes. Time is always an argument; the core never reads a clock, never does I/O, never throws
// on peer input. A protocol violation queues GO_AWAY(protocol error) and closes the session with
// the reason in error().

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "portal/base/byte_buffer.hpp"
#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/yamux/errors.hpp"
#include "portal/yamux/frame.hpp"

namespace portal::yamux {

namespace detail {

/// A first-in first-out queue on a vector that allocates nothing until the first push and frees
/// its storage when it empties out with more than a few slots, so an idle session holds none
/// (a std::deque allocates a 512-byte block and its map on construction).
template <class T>
class Fifo {
 public:
  /// True when no element is queued.
  [[nodiscard]] bool empty() const noexcept { return head_ == items_.size(); }
  /// Elements queued.
  [[nodiscard]] std::size_t size() const noexcept { return items_.size() - head_; }
  /// The oldest element; the queue must not be empty.
  [[nodiscard]] const T& front() const noexcept { return items_[head_]; }
  /// Queues `v` after the others.
  void push_back(const T& v) {
    if (head_ > 0 && head_ == items_.size()) items_.clear(), head_ = 0;
    items_.push_back(v);
  }
  /// Drops the oldest element; the queue must not be empty.
  void pop_front() noexcept {
    if (++head_ == items_.size()) reset_storage();
  }
  /// Drops every element equal to `v`.
  void erase(const T& v) {
    items_.erase(std::remove(items_.begin() + static_cast<std::ptrdiff_t>(head_), items_.end(), v),
                 items_.end());
    if (head_ == items_.size()) reset_storage();
  }
  /// Drops every element and frees the storage.
  void clear() noexcept { std::vector<T>().swap(items_), head_ = 0; }
  /// Bytes of storage held (for tests of idle memory).
  [[nodiscard]] std::size_t capacity_bytes() const noexcept {
    return items_.capacity() * sizeof(T);
  }

 private:
  void reset_storage() noexcept {
    head_ = 0;
    if (items_.capacity() > 8) {
      std::vector<T>().swap(items_);
    } else {
      items_.clear();
    }
  }
  std::vector<T> items_;
  std::size_t head_ = 0;
};

}  // namespace detail

/// A monotonic instant, as the caller passes `now`.
using Time = std::chrono::steady_clock::time_point;
/// A span of monotonic time (timeouts, intervals, round-trip times).
using Duration = std::chrono::steady_clock::duration;

/// Which end of the session this is: clients open odd stream ids, servers even ids.
enum class Role { Client, Server };

/// Session settings; the defaults are those of the original Portal v1 (portal-v1 §3.7).
struct Config {
  std::uint32_t accept_backlog = 256;  ///< inbound streams not yet accepted; more get RST
  /// Whether the session pings the peer every keepalive_interval; an unanswered keepalive ping
  /// closes the session with Errc::KeepaliveTimeout after ping_timeout.
  bool enable_keepalive = true;
  /// Time from the last keepalive reply (or the session's start) to the next keepalive ping; must
  /// be positive.
  Duration keepalive_interval = std::chrono::seconds(30);
  Duration ping_timeout = std::chrono::seconds(10);  ///< ConnectionWriteTimeout in v0.1.2
  /// Receive window each stream grows to (256 KiB in c6f13b8, 16 MiB in later v1). Any size a
  /// peer advertises is accepted for the send direction.
  std::uint32_t max_stream_window = kInitialWindow;
  /// How long a stream we opened may wait for the peer's ACK; past it the whole session closes with
  /// Errc::StreamOpenTimeout, as v1 does. Must be positive.
  Duration stream_open_timeout = std::chrono::seconds(75);
  /// How long a stream we half-closed may wait for the peer's FIN before it is reset. Must be
  /// positive.
  Duration stream_close_timeout = std::chrono::minutes(5);
  std::uint32_t max_streams = 8192;  ///< live streams (both directions) per session
  /// Control output (pending_control_output()) above which input_paused() asks the driver to
  /// stop reading: what a peer can make the session owe it without reading. 64 KiB is ~5,400
  /// frames; a peer that reads never comes near it.
  std::size_t max_control_output = 64 * 1024;
  /// How long the control output may stay above the budget before the session closes with
  /// Errc::PeerNotReading.
  Duration control_drain_timeout = std::chrono::seconds(10);
};

/// Checks a Config. Errors: Errc::InvalidConfig.
[[nodiscard]] PORTAL_API base::Result<void> validate(const Config& config);

/// What an Event reports.
enum class EventType {
  StreamIncoming,  ///< the peer opened `stream`; it waits in the backlog for accept()
  StreamAcked,     ///< the peer acknowledged `stream` that we opened
  StreamReadable,  ///< `stream` has data to read
  StreamWritable,  ///< `stream` has send window again
  StreamEof,       ///< the peer half-closed `stream` (reads end after the buffered data)
  StreamReset,     ///< `stream` was reset (by the peer or a timeout); it is gone
  StreamClosed,    ///< `stream` completed both half-closes and was read to the end; it is gone
  PingReply,       ///< the ping `value` was answered after `rtt`
  GoAwayReceived,  ///< the peer sent GO_AWAY `value` (0: it will accept no new streams)
  SessionClosed,   ///< the session ended; error() says why
};

/// Something the driver must react to, taken with Session::poll_event(). Which fields are set
/// depends on `type` (see EventType).
struct Event {
  /// What happened.
  EventType type;
  /// The stream concerned (Stream* events); 0 otherwise.
  std::uint32_t stream = 0;
  /// PingReply: the ping's id; GoAwayReceived: the GoAwayCode; 0 otherwise.
  std::uint32_t value = 0;
  /// PingReply: the round-trip time from sending the ping to its reply.
  Duration rtt{};
};

/// One end of a yamux session (portal-v1 §3), sans-IO: the caller feeds transport bytes with
/// handle_input(), sends pending_output(), reacts to poll_event() and calls handle_timeout() at
/// poll_deadline(). Time is passed in by the caller (a steady clock). No I/O, no threads, no clock
/// reads; not thread-safe.
class PORTAL_API Session {
 public:
  /// A new open session for `role` (which decides the stream-id parity) with `config` (check it
  /// with validate() first); `now` starts the keepalive timer. Nothing is queued until the first
  /// command or input.
  Session(Role role, Config config, Time now);

  // ---- input
  /// Consumes transport bytes. Returns Errc::SessionClosed once closed (input is then dropped).
  base::Result<void> handle_input(base::ByteSpan bytes, Time now);
  /// Runs keepalive, ping, open and close timers that are due at `now`.
  void handle_timeout(Time now);
  /// The transport ended or failed: the session closes. What the peer sent before the end
  /// stays readable: a stream's buffered data can still be read, and then it ends as it
  /// would have (end of stream after the peer's FIN, a reset without one). A stream with
  /// nothing buffered and no FIN sees a reset at once, as do all streams on close().
  void handle_transport_closed(base::ErrorCode reason);

  // ---- commands
  /// Opens a stream: queues WINDOW_UPDATE+SYN granting our extra window.
  /// Errors: SessionClosed, GoingAway, TooManyStreams, StreamIdsExhausted, OpenBacklogFull.
  [[nodiscard]] base::Result<std::uint32_t> open(Time now);
  /// Accepts the oldest inbound stream: queues WINDOW_UPDATE+ACK. Errors: NothingToAccept.
  [[nodiscard]] base::Result<std::uint32_t> accept();
  /// Number of inbound streams waiting for accept().
  [[nodiscard]] std::size_t backlog() const noexcept { return backlog_.size(); }
  /// Queues up to the send window of `data` as one DATA frame; returns the bytes taken (0 when
  /// the window is closed: wait for StreamWritable). Errors: UnknownStream, StreamClosed,
  /// StreamReset, SessionClosed.
  [[nodiscard]] base::Result<std::size_t> write(std::uint32_t id, base::ByteSpan data);
  /// Copies received data into `out`; returns 0 when nothing is buffered (see eof()). Reading
  /// grants window back to the peer as v0.1.2 does (an update once half the window is free).
  std::size_t read(std::uint32_t id, base::MutableByteSpan out);
  /// Bytes buffered for reading on `id`.
  [[nodiscard]] std::size_t readable(std::uint32_t id) const noexcept;
  /// True when the peer half-closed `id` and everything was read (or the stream is gone).
  [[nodiscard]] bool eof(std::uint32_t id) const noexcept;
  /// Current send window of `id` (0 for an unknown stream).
  [[nodiscard]] std::uint32_t send_window(std::uint32_t id) const noexcept;
  /// Half-close: queues WINDOW_UPDATE+FIN. Errors: UnknownStream, StreamReset.
  base::Result<void> close_stream(std::uint32_t id, Time now);
  /// Resets: queues WINDOW_UPDATE+RST and forgets the stream.
  void reset(std::uint32_t id);
  /// Sends a ping; its reply arrives as PingReply with this id.
  [[nodiscard]] base::Result<std::uint32_t> ping(Time now);
  /// Queues GO_AWAY(code). Normal: no new inbound streams (they get RST) and no new opens;
  /// existing streams continue. Any other code closes the session.
  void go_away(GoAwayCode code);
  /// Closes the session without a GO_AWAY (as v0.1.2's Close does).
  void close(base::ErrorCode reason);

  // ---- output
  /// Frames to write to the transport, oldest first; valid until the next non-const call. The
  /// session never drops output: the caller must write it all, in order.
  [[nodiscard]] base::ByteSpan pending_output() const noexcept { return output_.readable(); }
  /// Drops the first `n` bytes of pending_output() once they are written (at most its size).
  void consume_output(std::size_t n) noexcept;
  /// Hands all of pending_output() to the caller without copying: swaps it with `spare`, which
  /// must hold no bytes, and counts it as consumed (as consume_output() would). The session
  /// queues new output in `spare`'s old storage, so a driver that writes `spare` and passes it
  /// back, emptied, on the next call alternates between two buffers and never copies (the
  /// session keeps appending while a write is in flight). Nothing happens when `spare` holds
  /// bytes or has a limit (construct it with std::numeric_limits<std::size_t>::max()).
  void take_output(base::ByteBuffer& spare) noexcept;
  /// Bytes of control frames (everything but DATA: ping answers, RSTs, window updates, ACKs,
  /// FINs) in pending_output(). A peer makes the session owe these by sending, whether or not
  /// it reads; a driver bounds them by not reading from a peer that owes too many (DATA is
  /// bounded by the stream windows instead, and stopping on it could deadlock two sessions).
  [[nodiscard]] std::size_t pending_control_output() const noexcept {
    return control_ends_.size() * kHeaderSize;
  }
  /// True while the control output is above Config::max_control_output: feed no more input
  /// until consume_output() brings it down (the peer's unread bytes then wait in its own
  /// socket buffers). If it stays above for Config::control_drain_timeout, handle_timeout()
  /// closes the session with Errc::PeerNotReading.
  [[nodiscard]] bool input_paused() const noexcept {
    return !closed_ && pending_control_output() > config_.max_control_output;
  }
  /// The oldest event not taken yet, or nothing. Drain it after every input, command and timeout.
  [[nodiscard]] std::optional<Event> poll_event();
  /// When handle_timeout() must next be called (the earliest keepalive, ping, open or close timer),
  /// or nothing when no timer runs or the session is closed.
  [[nodiscard]] std::optional<Time> poll_deadline() const;

  // ---- state
  /// True once the session has ended (error() says why); no input is taken and no command succeeds.
  [[nodiscard]] bool is_closed() const noexcept { return closed_; }
  /// Why the session closed (a yamux::Errc, or the reason given to close() or
  /// handle_transport_closed()); empty while open.
  [[nodiscard]] base::ErrorCode error() const noexcept { return error_; }
  /// True once go_away() was called: new inbound streams are refused and open() fails.
  [[nodiscard]] bool go_away_sent() const noexcept { return local_go_away_; }
  /// True once the peer sent GO_AWAY: it accepts no new streams, so open() fails.
  [[nodiscard]] bool go_away_received() const noexcept { return remote_go_away_; }
  /// Streams of both directions the session still tracks: every stream until it is reset or until
  /// both sides half-closed and its data was read (inbound streams in the backlog included).
  [[nodiscard]] std::size_t stream_count() const noexcept { return streams_.size(); }
  /// The role given to the constructor.
  [[nodiscard]] Role role() const noexcept { return role_; }
  /// The configuration given to the constructor.
  [[nodiscard]] const Config& config() const noexcept { return config_; }

 private:
  struct Stream {
    explicit Stream(std::uint32_t max) : recv(max) {}
    bool inbound = false;
    bool acked = false;  // outbound: ACK received
    bool local_fin = false;
    bool remote_fin = false;
    std::uint32_t send_window = kInitialWindow;
    std::uint32_t recv_window = kInitialWindow;
    base::ByteBuffer recv;
    Time opened_at{};
    Time fin_sent_at{};
  };

  void emit(EventType type, std::uint32_t stream = 0, std::uint32_t value = 0, Duration rtt = {});
  void end(base::ErrorCode reason, bool keep_input);
  void send_header(FrameType type, std::uint16_t flags, std::uint32_t id, std::uint32_t length);
  void protocol_error(Errc why);
  void process_header(const Header& h, Time now);
  void finish_data_frame();
  bool apply_flags(std::uint32_t id, Stream& s, std::uint16_t flags);
  void apply_fin(std::uint32_t id, Stream& s);
  void maybe_grant_window(std::uint32_t id, Stream& s);
  void maybe_release(std::uint32_t id);
  bool own_parity(std::uint32_t id) const noexcept;

  Role role_;
  Config config_;
  std::unordered_map<std::uint32_t, Stream> streams_;
  detail::Fifo<std::uint32_t> backlog_;
  detail::Fifo<Event> events_;
  base::ByteBuffer output_;
  std::uint64_t appended_ = 0;                // bytes ever queued in output_
  std::uint64_t consumed_ = 0;                // bytes ever consumed from output_
  detail::Fifo<std::uint64_t> control_ends_;  // end offsets of control frames still queued
  std::optional<Time> paused_since_;          // when input_paused() last became true
  std::uint32_t next_id_;
  std::size_t unacked_opens_ = 0;

  // Input parser: a header, then for DATA its payload.
  base::Byte header_[kHeaderSize] = {};
  std::size_t header_used_ = 0;
  std::uint32_t payload_left_ = 0;
  std::uint32_t payload_stream_ = 0;  // 0: discard the payload
  bool payload_fin_ = false;
  bool payload_signalled_ = false;

  // Pings: ours outstanding, by id.
  std::uint32_t next_ping_id_ = 0;
  std::map<std::uint32_t, Time> pings_;
  std::optional<std::uint32_t> keepalive_ping_;
  Time next_keepalive_;

  bool local_go_away_ = false;
  bool remote_go_away_ = false;
  bool closed_ = false;
  base::ErrorCode error_;
};

}  // namespace portal::yamux
