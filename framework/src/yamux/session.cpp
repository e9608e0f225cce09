// SPDX-License-Identifier: Apache-2.0
#include "portal/yamux/session.hpp"

#include <algorithm>
#include <limits>

namespace portal::yamux {
namespace {

constexpr std::uint32_t kMaxStreamId = std::numeric_limits<std::uint32_t>::max() - 1;

}  // namespace

base::Result<void> validate(const Config& c) {
  // The window may not shrink below the protocol's initial 256 KiB: the peer may already send
  // that much before our first update.
  if (c.max_stream_window < kInitialWindow || c.accept_backlog == 0 || c.max_streams == 0 ||
      c.ping_timeout <= Duration::zero() || c.keepalive_interval <= Duration::zero() ||
      c.stream_open_timeout <= Duration::zero() || c.stream_close_timeout <= Duration::zero() ||
      c.max_control_output < kHeaderSize || c.control_drain_timeout <= Duration::zero()) {
    return Errc::InvalidConfig;
  }
  return {};
}

Session::Session(Role role, Config config, Time now)
    : role_(role),
      config_(config),
      output_(std::numeric_limits<std::size_t>::max()),
      next_id_(role == Role::Client ? 1 : 2),
      next_keepalive_(now + config.keepalive_interval) {}

bool Session::own_parity(std::uint32_t id) const noexcept {
  return (id % 2 == 1) == (role_ == Role::Client);
}

void Session::emit(EventType type, std::uint32_t stream, std::uint32_t value, Duration rtt) {
  events_.push_back(Event{type, stream, value, rtt});
}

void Session::send_header(FrameType type, std::uint16_t flags, std::uint32_t id,
                          std::uint32_t length) {
  auto space = output_.prepare(kHeaderSize);
  if (!space) return;  // the output buffer has no limit; cannot fail
  encode_header(make_header(type, flags, id, length), space->data());
  output_.commit(kHeaderSize);
  appended_ += kHeaderSize;
  control_ends_.push_back(appended_);
}

void Session::close(base::ErrorCode reason) { end(reason, false); }

void Session::end(base::ErrorCode reason, bool keep_input) {
  if (closed_) return;
  closed_ = true;
  error_ = reason;
  // keep_input (the transport ended): a stream with buffered input keeps it for its reader
  // (read() ends the stream once it is drained); one with nothing buffered ends now, cleanly
  // when the peer had half-closed it. A relay splicing such a stream passes on everything the
  // peer sent before its connection ended, and its FIN, instead of a reset that discards it.
  for (auto it = streams_.begin(); it != streams_.end();) {
    if (keep_input && !it->second.recv.empty()) {
      emit(EventType::StreamReadable, it->first);
      ++it;
      continue;
    }
    emit(keep_input && it->second.remote_fin ? EventType::StreamClosed : EventType::StreamReset,
         it->first);
    it = streams_.erase(it);
  }
  backlog_.clear();
  pings_.clear();
  keepalive_ping_.reset();
  emit(EventType::SessionClosed);
}

void Session::protocol_error(Errc why) {
  if (closed_) return;
  // portal-v1 §3.5: GO_AWAY(protocol error), then the session ends.
  send_header(FrameType::GoAway, 0, 0, static_cast<std::uint32_t>(GoAwayCode::ProtocolError));
  close(why);
}

void Session::handle_transport_closed(base::ErrorCode reason) {
  end(reason ? reason : make_error_code(Errc::SessionClosed), true);
}

// ---- input ---------------------------------------------------------------------------------

base::Result<void> Session::handle_input(base::ByteSpan bytes, Time now) {
  // A DATA payload may span many inputs: signal readability again for each input that adds to
  // it, or a reader that drained the first part would sleep on buffered data.
  payload_signalled_ = false;
  while (!bytes.empty()) {
    if (closed_) return error_ ? error_ : make_error_code(Errc::SessionClosed);
    if (payload_left_ > 0) {
      const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(payload_left_, bytes.size()));
      if (payload_stream_ != 0) {
        auto it = streams_.find(payload_stream_);
        if (it != streams_.end()) {
          // The window check bounds the payload by the buffer's limit; if the accounting were
          // ever wrong, end the session rather than drop bytes silently.
          if (!it->second.recv.append(bytes.first(n))) {
            protocol_error(Errc::WindowExceeded);
            continue;
          }
          if (!payload_signalled_) {
            emit(EventType::StreamReadable, payload_stream_);
            payload_signalled_ = true;
          }
        }
      }
      payload_left_ -= n;
      bytes = bytes.subspan(n);
      if (payload_left_ == 0) finish_data_frame();
      continue;
    }
    const std::size_t n = std::min(kHeaderSize - header_used_, bytes.size());
    std::copy_n(bytes.data(), n, header_ + header_used_);
    header_used_ += n;
    bytes = bytes.subspan(n);
    if (header_used_ == kHeaderSize) {
      header_used_ = 0;
      process_header(decode_header(header_), now);
    }
  }
  if (closed_) return error_ ? error_ : make_error_code(Errc::SessionClosed);
  if (input_paused() && !paused_since_) paused_since_ = now;
  return {};
}

void Session::finish_data_frame() {
  const std::uint32_t id = payload_stream_;
  payload_stream_ = 0;
  payload_signalled_ = false;
  if (payload_fin_) {
    payload_fin_ = false;
    auto it = streams_.find(id);
    if (it != streams_.end()) apply_fin(id, it->second);
  }
}

void Session::process_header(const Header& h, Time now) {
  if (h.version != kVersion) return protocol_error(Errc::BadVersion);
  if (h.type > static_cast<std::uint8_t>(FrameType::GoAway)) {
    return protocol_error(Errc::UnknownFrameType);
  }
  const auto type = static_cast<FrameType>(h.type);

  if (type == FrameType::Ping) {
    if (h.flags & flag::kSyn) {
      send_header(FrameType::Ping, flag::kAck, 0, h.length);
      // The peer is alive and talking: that settles an outstanding keepalive.
      if (keepalive_ping_) {
        pings_.erase(*keepalive_ping_);
        keepalive_ping_.reset();
        next_keepalive_ = now + config_.keepalive_interval;
      }
    } else if (h.flags & flag::kAck) {
      auto it = pings_.find(h.length);
      if (it != pings_.end()) {
        const bool keepalive = keepalive_ping_ && *keepalive_ping_ == h.length;
        if (keepalive) {
          keepalive_ping_.reset();
          next_keepalive_ = now + config_.keepalive_interval;
        } else {
          emit(EventType::PingReply, 0, h.length, now - it->second);
        }
        pings_.erase(it);
      }
    }
    return;
  }

  if (type == FrameType::GoAway) {
    if (h.length == static_cast<std::uint32_t>(GoAwayCode::Normal)) {
      remote_go_away_ = true;
      emit(EventType::GoAwayReceived, 0, h.length);
    } else {
      emit(EventType::GoAwayReceived, 0, h.length);
      close(Errc::RemoteGoAway);
    }
    return;
  }

  // DATA or WINDOW_UPDATE.
  const std::uint32_t id = h.stream_id;
  const bool is_data = type == FrameType::Data;
  if (h.flags & flag::kSyn) {
    if (id == 0 || own_parity(id)) return protocol_error(Errc::WrongStreamParity);
    if (streams_.count(id) != 0) return protocol_error(Errc::DuplicateStream);
    if (local_go_away_ || backlog_.size() >= config_.accept_backlog ||
        streams_.size() >= config_.max_streams) {
      // portal-v1 §3.3 / §3.5: refuse with RST; a DATA payload is read and dropped.
      send_header(FrameType::WindowUpdate, flag::kRst, id, 0);
      if (is_data) payload_left_ = h.length, payload_stream_ = 0;
      if (is_data && payload_left_ == 0) finish_data_frame();
      return;
    }
    auto [it, inserted] = streams_.emplace(id, Stream(config_.max_stream_window));
    it->second.inbound = true;
    it->second.opened_at = now;
    backlog_.push_back(id);
    emit(EventType::StreamIncoming, id);
  }

  auto it = streams_.find(id);
  if (it == streams_.end()) {
    // Unknown or finished stream: DATA is read and discarded, WINDOW_UPDATE ignored (§3.3).
    if (is_data && h.length > 0) {
      payload_left_ = h.length;
      payload_stream_ = 0;
    }
    return;
  }
  Stream& s = it->second;

  if (!is_data) {
    if (h.length > 0) {
      if (h.length > std::numeric_limits<std::uint32_t>::max() - s.send_window) {
        return protocol_error(Errc::WindowOverflow);
      }
      const bool was_blocked = s.send_window == 0;
      s.send_window += h.length;
      if (was_blocked) emit(EventType::StreamWritable, id);
    }
    if (!apply_flags(id, s, h.flags)) return;
    if (h.flags & flag::kFin) apply_fin(id, streams_.at(id));
    return;
  }

  // DATA.
  if (s.remote_fin && h.length > 0) return protocol_error(Errc::UnexpectedFlags);
  if (h.length > s.recv_window) return protocol_error(Errc::WindowExceeded);
  if (!apply_flags(id, s, h.flags)) return;
  s.recv_window -= h.length;
  payload_left_ = h.length;
  payload_stream_ = id;
  payload_fin_ = (h.flags & flag::kFin) != 0;
  if (payload_left_ == 0) finish_data_frame();
}

// ACK and RST (FIN is applied after a DATA payload). Returns false if the stream is gone.
bool Session::apply_flags(std::uint32_t id, Stream& s, std::uint16_t flags) {
  if ((flags & flag::kAck) && !s.inbound && !s.acked) {
    s.acked = true;
    if (unacked_opens_ > 0) --unacked_opens_;
    emit(EventType::StreamAcked, id);
  }
  if (flags & flag::kRst) {
    if (!s.inbound && !s.acked && unacked_opens_ > 0) --unacked_opens_;
    backlog_.erase(id);
    streams_.erase(id);
    emit(EventType::StreamReset, id);
    return false;
  }
  return true;
}

void Session::apply_fin(std::uint32_t id, Stream& s) {
  if (s.remote_fin) return protocol_error(Errc::UnexpectedFlags);
  s.remote_fin = true;
  emit(EventType::StreamEof, id);
  maybe_release(id);
}

// A stream is forgotten once both sides half-closed and its data was read.
void Session::maybe_release(std::uint32_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  const Stream& s = it->second;
  if (s.local_fin && s.remote_fin && s.recv.empty()) {
    streams_.erase(it);
    emit(EventType::StreamClosed, id);
  }
}

void Session::handle_timeout(Time now) {
  if (closed_) return;
  if (paused_since_ && now >= *paused_since_ + config_.control_drain_timeout) {
    return close(Errc::PeerNotReading);
  }
  // Keepalive: an unanswered ping closes the session (portal-v1 §3.6).
  if (keepalive_ping_) {
    auto it = pings_.find(*keepalive_ping_);
    if (it != pings_.end() && now >= it->second + config_.ping_timeout) {
      return close(Errc::KeepaliveTimeout);
    }
  } else if (config_.enable_keepalive && now >= next_keepalive_) {
    const std::uint32_t pid = next_ping_id_++;
    pings_[pid] = now;
    keepalive_ping_ = pid;
    send_header(FrameType::Ping, flag::kSyn, 0, pid);
  }
  // Explicit pings time out too, as PingReply never arrives: drop them after the timeout.
  for (auto it = pings_.begin(); it != pings_.end();) {
    if ((!keepalive_ping_ || it->first != *keepalive_ping_) &&
        now >= it->second + config_.ping_timeout) {
      it = pings_.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<std::uint32_t> expired_fins;
  for (auto& [id, s] : streams_) {
    // v0.1.2: an open that is not ACKed in time ends the whole session.
    if (!s.inbound && !s.acked && now >= s.opened_at + config_.stream_open_timeout) {
      return close(Errc::StreamOpenTimeout);
    }
    if (s.local_fin && !s.remote_fin && now >= s.fin_sent_at + config_.stream_close_timeout) {
      expired_fins.push_back(id);
    }
  }
  for (auto id : expired_fins) reset(id);
}

// ---- commands ------------------------------------------------------------------------------

base::Result<std::uint32_t> Session::open(Time now) {
  if (closed_) return Errc::SessionClosed;
  if (remote_go_away_ || local_go_away_) return Errc::GoingAway;
  if (streams_.size() >= config_.max_streams) return Errc::TooManyStreams;
  if (unacked_opens_ >= config_.accept_backlog) return Errc::OpenBacklogFull;
  if (next_id_ >= kMaxStreamId) return Errc::StreamIdsExhausted;
  const std::uint32_t id = next_id_;
  next_id_ += 2;
  auto [it, inserted] = streams_.emplace(id, Stream(config_.max_stream_window));
  Stream& s = it->second;
  s.opened_at = now;
  ++unacked_opens_;
  // §3.3: the SYN carries the extra window beyond the initial 256 KiB.
  const std::uint32_t delta = config_.max_stream_window - kInitialWindow;
  s.recv_window += delta;
  send_header(FrameType::WindowUpdate, flag::kSyn, id, delta);
  return id;
}

base::Result<std::uint32_t> Session::accept() {
  if (closed_) return Errc::SessionClosed;
  while (!backlog_.empty()) {
    const std::uint32_t id = backlog_.front();
    backlog_.pop_front();
    auto it = streams_.find(id);
    if (it == streams_.end()) continue;  // reset while waiting
    Stream& s = it->second;
    const std::uint32_t delta = config_.max_stream_window - kInitialWindow;
    s.recv_window += delta;
    send_header(FrameType::WindowUpdate, flag::kAck, id, delta);
    return id;
  }
  return Errc::NothingToAccept;
}

base::Result<std::size_t> Session::write(std::uint32_t id, base::ByteSpan data) {
  if (closed_) return Errc::SessionClosed;
  auto it = streams_.find(id);
  if (it == streams_.end()) return Errc::UnknownStream;
  Stream& s = it->second;
  if (s.local_fin) return Errc::StreamClosed;
  const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(data.size(), s.send_window));
  if (n == 0) return std::size_t{0};
  auto space = output_.prepare(kHeaderSize + n);
  if (!space) return space.error();
  encode_header(make_header(FrameType::Data, 0, id, n), space->data());
  std::copy_n(data.data(), n, space->data() + kHeaderSize);
  output_.commit(kHeaderSize + n);
  appended_ += kHeaderSize + n;
  s.send_window -= n;
  return std::size_t{n};
}

std::size_t Session::read(std::uint32_t id, base::MutableByteSpan out) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return 0;
  Stream& s = it->second;
  const std::size_t n = std::min(out.size(), s.recv.size());
  if (n == 0) return 0;
  std::copy_n(s.recv.readable().data(), n, out.data());
  s.recv.consume(n);
  s.recv.release_if_empty();
  if (closed_) {
    // Input kept past the transport's end (end()): drained, the stream ends as the peer left
    // it, at its end of stream after a FIN and with a reset otherwise (the data was cut off).
    if (s.recv.empty()) {
      const bool fin = s.remote_fin;
      streams_.erase(it);
      emit(fin ? EventType::StreamClosed : EventType::StreamReset, id);
    }
    return n;
  }
  if (!s.remote_fin) maybe_grant_window(id, s);
  maybe_release(id);
  return n;
}

void Session::maybe_grant_window(std::uint32_t id, Stream& s) {
  // v0.1.2: delta = (max - buffered) - current window; send once it reaches half the maximum.
  // The rest of a DATA payload still arriving is already promised to the buffer: count it, or
  // the grant lets the peer send more than the buffer holds.
  auto buffered = static_cast<std::uint32_t>(s.recv.size());
  if (payload_stream_ == id) buffered += payload_left_;
  const std::uint32_t target = config_.max_stream_window - buffered;
  if (target <= s.recv_window) return;
  const std::uint32_t delta = target - s.recv_window;
  if (delta < config_.max_stream_window / 2) return;
  s.recv_window += delta;
  send_header(FrameType::WindowUpdate, 0, id, delta);
}

std::size_t Session::readable(std::uint32_t id) const noexcept {
  auto it = streams_.find(id);
  return it == streams_.end() ? 0 : it->second.recv.size();
}

bool Session::eof(std::uint32_t id) const noexcept {
  auto it = streams_.find(id);
  return it == streams_.end() || (it->second.remote_fin && it->second.recv.empty());
}

std::uint32_t Session::send_window(std::uint32_t id) const noexcept {
  auto it = streams_.find(id);
  return it == streams_.end() ? 0 : it->second.send_window;
}

base::Result<void> Session::close_stream(std::uint32_t id, Time now) {
  if (closed_) return Errc::SessionClosed;
  auto it = streams_.find(id);
  if (it == streams_.end()) return Errc::UnknownStream;
  Stream& s = it->second;
  if (s.local_fin) return {};
  s.local_fin = true;
  s.fin_sent_at = now;
  send_header(FrameType::WindowUpdate, flag::kFin, id, 0);
  maybe_release(id);
  return {};
}

void Session::reset(std::uint32_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  if (!closed_) send_header(FrameType::WindowUpdate, flag::kRst, id, 0);
  if (!it->second.inbound && !it->second.acked && unacked_opens_ > 0) --unacked_opens_;
  backlog_.erase(id);
  streams_.erase(it);
  emit(EventType::StreamReset, id);
}

base::Result<std::uint32_t> Session::ping(Time now) {
  if (closed_) return Errc::SessionClosed;
  const std::uint32_t pid = next_ping_id_++;
  pings_[pid] = now;
  send_header(FrameType::Ping, flag::kSyn, 0, pid);
  return pid;
}

void Session::go_away(GoAwayCode code) {
  if (closed_) return;
  local_go_away_ = true;
  send_header(FrameType::GoAway, 0, 0, static_cast<std::uint32_t>(code));
  if (code != GoAwayCode::Normal) close(Errc::SessionClosed);
}

// ---- output --------------------------------------------------------------------------------

void Session::consume_output(std::size_t n) noexcept {
  output_.consume(n);
  consumed_ += n;
  while (!control_ends_.empty() && control_ends_.front() <= consumed_) control_ends_.pop_front();
  if (paused_since_ && !input_paused()) paused_since_.reset();
  if (output_.empty() && output_.capacity() > 1024 * 1024) output_.release_if_empty();
}

void Session::take_output(base::ByteBuffer& spare) noexcept {
  if (!spare.empty() || output_.empty() || spare.limit() != output_.limit()) return;
  const std::size_t n = output_.size();
  std::swap(output_, spare);
  consumed_ += n;
  control_ends_.clear();  // every queued control frame left with the output
  if (paused_since_ && !input_paused()) paused_since_.reset();
}

std::optional<Event> Session::poll_event() {
  if (events_.empty()) return std::nullopt;
  Event e = events_.front();
  events_.pop_front();
  return e;
}

std::optional<Time> Session::poll_deadline() const {
  if (closed_) return std::nullopt;
  std::optional<Time> d;
  auto earliest = [&](Time t) {
    if (!d || t < *d) d = t;
  };
  if (keepalive_ping_) {
    auto it = pings_.find(*keepalive_ping_);
    if (it != pings_.end()) earliest(it->second + config_.ping_timeout);
  } else if (config_.enable_keepalive) {
    earliest(next_keepalive_);
  }
  for (const auto& [pid, sent] : pings_) earliest(sent + config_.ping_timeout);
  if (paused_since_) earliest(*paused_since_ + config_.control_drain_timeout);
  for (const auto& [id, s] : streams_) {
    if (!s.inbound && !s.acked) earliest(s.opened_at + config_.stream_open_timeout);
    if (s.local_fin && !s.remote_fin) earliest(s.fin_sent_at + config_.stream_close_timeout);
  }
  return d;
}

}  // namespace portal::yamux
