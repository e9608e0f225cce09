// SPDX-License-Identifier: Apache-2.0
#include "portal/yamux/session.hpp"

#include <gtest/gtest.h>

#include <limits>

#include "portal/base/encoding.hpp"
#include "support/vectors.hpp"

namespace portal::yamux {
namespace {

using base::Bytes;
using namespace std::chrono_literals;

Bytes header(FrameType t, std::uint16_t flags, std::uint32_t id, std::uint32_t len) {
  Bytes b(kHeaderSize);
  encode_header(make_header(t, flags, id, len), b.data());
  return b;
}

std::vector<Event> drain_events(Session& s) {
  std::vector<Event> out;
  while (auto e = s.poll_event()) out.push_back(*e);
  return out;
}

bool has(const std::vector<Event>& ev, EventType t, std::uint32_t stream = 0) {
  for (const auto& e : ev) {
    if (e.type == t && (stream == 0 || e.stream == stream)) return true;
  }
  return false;
}

Bytes take_output(Session& s) {
  Bytes out = base::to_bytes(s.pending_output());
  s.consume_output(out.size());
  return out;
}

const Time t0{std::chrono::seconds(1000)};

TEST(YamuxSession, OpenSendsTheVectorSynAndCountsIdsByRole) {
  Session client(Role::Client, {}, t0);
  EXPECT_EQ(client.open(t0).value(), 1u);
  EXPECT_EQ(client.open(t0).value(), 3u);
  EXPECT_EQ(base::hex_encode(take_output(client)),
            "000100010000000100000000"
            "000100010000000300000000");
  Session server(Role::Server, {}, t0);
  EXPECT_EQ(server.open(t0).value(), 2u);
  Config big;
  big.max_stream_window = 16 * 1024 * 1024;
  Session later(Role::Client, big, t0);
  ASSERT_TRUE(later.open(t0));
  EXPECT_EQ(base::hex_encode(take_output(later)), "000100010000000100fc0000");
}

TEST(YamuxSession, ExampleExchangeRelayInfoRoundTrip) {
  // The relay side of yamux.json's example_exchange: the endpoint's messages in, our answer out.
  const auto doc = test::load_vectors("yamux.json");
  Session relay(Role::Server, {}, t0);
  std::vector<Bytes> expected_out;
  for (const auto& m : doc.at("example_exchange").at("messages").as_array()) {
    if (test::str(m, "dir") == "endpoint->relay") {
      ASSERT_TRUE(relay.handle_input(test::hex(m, "ws_message_hex"), t0));
    } else {
      expected_out.push_back(test::hex(m, "ws_message_hex"));
    }
  }
  auto ev = drain_events(relay);
  ASSERT_TRUE(has(ev, EventType::StreamIncoming, 1));
  EXPECT_EQ(relay.accept().value(), 1u);
  Bytes request(16);
  EXPECT_EQ(relay.read(1, request), 4u);
  EXPECT_EQ(base::hex_encode(base::ByteSpan(request).first(4)), "00000000");
  ASSERT_GE(expected_out.size(), 3u);
  const Bytes& response = expected_out[2];  // the RelayInfoResponse body
  ASSERT_EQ(relay.write(1, response).value(), response.size());
  EXPECT_TRUE(relay.eof(1));  // the endpoint's FIN was already in
  ASSERT_TRUE(relay.close_stream(1, t0));
  EXPECT_EQ(relay.stream_count(), 0u);  // both FINs and all data read: gone
  Bytes want;
  for (const auto& m : expected_out) want.insert(want.end(), m.begin(), m.end());
  EXPECT_EQ(base::hex_encode(take_output(relay)), base::hex_encode(want));
}

TEST(YamuxSession, AnswersPingsAndMeasuresRtt) {
  Session s(Role::Client, {}, t0);
  ASSERT_TRUE(s.handle_input(header(FrameType::Ping, flag::kSyn, 0, 77), t0));
  EXPECT_EQ(take_output(s), header(FrameType::Ping, flag::kAck, 0, 77));
  const auto id = s.ping(t0).value();
  EXPECT_EQ(id, 0u);  // ping ids count from 0 (portal-v1 §3.6)
  EXPECT_EQ(take_output(s), header(FrameType::Ping, flag::kSyn, 0, 0));
  ASSERT_TRUE(s.handle_input(header(FrameType::Ping, flag::kAck, 0, 0), t0 + 25ms));
  auto ev = drain_events(s);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, EventType::PingReply);
  EXPECT_EQ(ev[0].rtt, 25ms);
}

// Each violation closes the session with GO_AWAY(protocol error) and its own reason.
struct Violation {
  const char* name;
  Bytes input;
  Errc expected;
};

TEST(YamuxSessionViolations, CloseWithGoAwayProtocolError) {
  Bytes bad_version = header(FrameType::Ping, flag::kSyn, 0, 1);
  bad_version[0] = 1;
  Bytes bad_type = header(FrameType::Ping, 0, 0, 0);
  bad_type[1] = 4;
  Bytes beyond = header(FrameType::WindowUpdate, flag::kSyn, 2, 0);      // server opens 2 ...
  const Bytes data = header(FrameType::Data, 0, 2, kInitialWindow + 1);  // ... then overruns it
  beyond.insert(beyond.end(), data.begin(), data.end());
  Bytes reuse = header(FrameType::WindowUpdate, flag::kSyn, 2, 0);
  const Bytes again = header(FrameType::WindowUpdate, flag::kSyn, 2, 0);
  reuse.insert(reuse.end(), again.begin(), again.end());
  Bytes double_fin = header(FrameType::WindowUpdate, flag::kSyn | flag::kFin, 2, 0);
  const Bytes fin2 = header(FrameType::WindowUpdate, flag::kFin, 2, 0);
  double_fin.insert(double_fin.end(), fin2.begin(), fin2.end());
  const Violation cases[] = {
      {"bad version", bad_version, Errc::BadVersion},
      {"unknown type", bad_type, Errc::UnknownFrameType},
      {"data beyond the window", beyond, Errc::WindowExceeded},
      {"wrong parity (a server may not open odd ids)",
       header(FrameType::WindowUpdate, flag::kSyn, 3, 0), Errc::WrongStreamParity},
      {"SYN on stream 0", header(FrameType::Data, flag::kSyn, 0, 0), Errc::WrongStreamParity},
      {"SYN reusing a live id", reuse, Errc::DuplicateStream},
      {"second FIN", double_fin, Errc::UnexpectedFlags},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Session s(Role::Client, {}, t0);
    auto r = s.handle_input(c.input, t0);
    EXPECT_FALSE(r);
    EXPECT_TRUE(s.is_closed());
    EXPECT_EQ(s.error(), c.expected);
    const Bytes out = take_output(s);
    ASSERT_GE(out.size(), kHeaderSize);
    EXPECT_EQ(
        Bytes(out.end() - kHeaderSize, out.end()),
        header(FrameType::GoAway, 0, 0, static_cast<std::uint32_t>(GoAwayCode::ProtocolError)));
    EXPECT_TRUE(has(drain_events(s), EventType::SessionClosed));
    // Further input is refused, never processed.
    EXPECT_FALSE(s.handle_input(header(FrameType::Ping, flag::kSyn, 0, 9), t0));
    EXPECT_TRUE(s.pending_output().empty());
  }
}

// Regression: a DATA frame split across inputs signals readability for every input that adds to
// it; a reader that drained the first part would otherwise sleep on buffered data.
TEST(YamuxSession, SplitPayloadSignalsReadableForEachPart) {
  Session s(Role::Client, {}, t0);
  ASSERT_TRUE(s.handle_input(header(FrameType::WindowUpdate, flag::kSyn, 2, 0), t0));
  ASSERT_EQ(s.accept().value(), 2u);
  (void)drain_events(s);
  ASSERT_TRUE(s.handle_input(header(FrameType::Data, 0, 2, 10), t0));
  for (int part = 0; part < 2; ++part) {
    ASSERT_TRUE(s.handle_input(Bytes(5, 7), t0));
    EXPECT_TRUE(has(drain_events(s), EventType::StreamReadable, 2)) << part;
    Bytes buf(16);
    EXPECT_EQ(s.read(2, buf), 5u);
  }
}

// Regression (found by the relay's splice test): a reader that drains the first part of a DATA
// frame still in flight must not be granted window for the part still to come. Granting
// max - buffered without it let the peer send more than the receive buffer holds, and the
// excess was dropped.
TEST(YamuxSession, WindowGrantCountsThePayloadStillArriving) {
  constexpr std::uint32_t kWindow = 256 * 1024;
  Session s(Role::Client, {}, t0);
  ASSERT_TRUE(s.handle_input(header(FrameType::WindowUpdate, flag::kSyn, 2, 0), t0));
  ASSERT_EQ(s.accept().value(), 2u);
  (void)take_output(s);
  // A full-window frame of which half has arrived; the reader drains that half.
  ASSERT_TRUE(s.handle_input(header(FrameType::Data, 0, 2, kWindow), t0));
  ASSERT_TRUE(s.handle_input(Bytes(kWindow / 2, 1), t0));
  Bytes buf(kWindow);
  ASSERT_EQ(s.read(2, buf), kWindow / 2);
  // Only the half that left the buffer is granted again.
  EXPECT_EQ(take_output(s), header(FrameType::WindowUpdate, 0, 2, kWindow / 2));
  // The peer may now send the rest of the frame and a full new half: all of it is kept.
  ASSERT_TRUE(s.handle_input(Bytes(kWindow / 2, 2), t0));
  Bytes more = header(FrameType::Data, 0, 2, kWindow / 2);
  more.insert(more.end(), kWindow / 2, 3);
  ASSERT_TRUE(s.handle_input(more, t0));
  EXPECT_FALSE(s.is_closed());
  EXPECT_EQ(s.readable(2), kWindow);
}

// Regression (the v1 client interop test, under load): a peer that writes, half-closes and
// exits may reset its TCP connection before the relay has read everything. What arrived before
// the transport ended stays readable, and each stream then ends as the peer left it: stream 2
// (FIN received) with its end of stream, stream 4 (cut off) with a reset, stream 6 (FIN,
// nothing buffered) at once and cleanly, stream 8 (nothing, no FIN) with a reset at once.
TEST(YamuxSession, InputBeforeTheTransportEndsStaysReadable) {
  Session s(Role::Client, {}, t0);
  for (std::uint32_t id : {2u, 4u, 6u, 8u}) {
    ASSERT_TRUE(s.handle_input(header(FrameType::WindowUpdate, flag::kSyn, id, 0), t0));
    ASSERT_EQ(s.accept().value(), id);
  }
  Bytes in = header(FrameType::Data, flag::kFin, 2, 5);
  in.insert(in.end(), {1, 2, 3, 4, 5});
  const Bytes cut = header(FrameType::Data, 0, 4, 3);
  in.insert(in.end(), cut.begin(), cut.end());
  in.insert(in.end(), {6, 7, 8});
  const Bytes fin = header(FrameType::WindowUpdate, flag::kFin, 6, 0);
  in.insert(in.end(), fin.begin(), fin.end());
  ASSERT_TRUE(s.handle_input(in, t0));
  (void)drain_events(s);
  (void)take_output(s);  // the ACKs
  s.handle_transport_closed(
      boost::system::errc::make_error_code(boost::system::errc::connection_reset));
  ASSERT_TRUE(s.is_closed());
  auto ev = drain_events(s);
  EXPECT_TRUE(has(ev, EventType::StreamReadable, 2));
  EXPECT_TRUE(has(ev, EventType::StreamReadable, 4));
  EXPECT_FALSE(has(ev, EventType::StreamReset, 2));
  EXPECT_FALSE(has(ev, EventType::StreamReset, 4));
  EXPECT_TRUE(has(ev, EventType::StreamClosed, 6));
  EXPECT_FALSE(has(ev, EventType::StreamReset, 6));
  EXPECT_TRUE(has(ev, EventType::StreamReset, 8));
  EXPECT_TRUE(has(ev, EventType::SessionClosed));
  EXPECT_TRUE(s.eof(6));

  // Read in parts: the stream ends only when drained.
  Bytes buf(3);
  ASSERT_EQ(s.read(2, buf), 3u);
  EXPECT_EQ(buf, (Bytes{1, 2, 3}));
  EXPECT_FALSE(s.eof(2));
  EXPECT_TRUE(drain_events(s).empty());
  ASSERT_EQ(s.read(2, buf), 2u);
  EXPECT_EQ(Bytes(buf.begin(), buf.begin() + 2), (Bytes{4, 5}));
  ev = drain_events(s);
  EXPECT_TRUE(has(ev, EventType::StreamClosed, 2));
  EXPECT_FALSE(has(ev, EventType::StreamReset, 2));
  EXPECT_TRUE(s.eof(2));
  EXPECT_EQ(s.read(2, buf), 0u);

  ASSERT_EQ(s.read(4, buf), 3u);
  EXPECT_EQ(buf, (Bytes{6, 7, 8}));
  ev = drain_events(s);
  EXPECT_TRUE(has(ev, EventType::StreamReset, 4));
  EXPECT_FALSE(has(ev, EventType::StreamClosed, 4));
  // Nothing is sent once closed (no window update, no RST), and writes fail.
  EXPECT_TRUE(s.pending_output().empty());
  EXPECT_FALSE(s.write(4, Bytes{1}));
}

// close() (the application ends the session) resets every stream, buffered data or not.
TEST(YamuxSession, CloseResetsStreamsWithBufferedData) {
  Session s(Role::Client, {}, t0);
  ASSERT_TRUE(s.handle_input(header(FrameType::WindowUpdate, flag::kSyn, 2, 0), t0));
  ASSERT_EQ(s.accept().value(), 2u);
  Bytes in = header(FrameType::Data, flag::kFin, 2, 2);
  in.insert(in.end(), {1, 2});
  ASSERT_TRUE(s.handle_input(in, t0));
  (void)drain_events(s);
  s.close(make_error_code(Errc::SessionClosed));
  EXPECT_TRUE(has(drain_events(s), EventType::StreamReset, 2));
  Bytes buf(4);
  EXPECT_EQ(s.read(2, buf), 0u);
}

TEST(YamuxSession, UnknownStreamFramesAreIgnoredAndDataDiscarded) {
  Session s(Role::Client, {}, t0);
  Bytes in = header(FrameType::Data, 0, 41, 5);
  in.insert(in.end(), {1, 2, 3, 4, 5});
  const Bytes wu = header(FrameType::WindowUpdate, 0, 43, 100);
  in.insert(in.end(), wu.begin(), wu.end());
  const Bytes ping = header(FrameType::Ping, flag::kSyn, 0, 3);
  in.insert(in.end(), ping.begin(), ping.end());
  ASSERT_TRUE(s.handle_input(in, t0));
  EXPECT_FALSE(s.is_closed());
  EXPECT_EQ(take_output(s), header(FrameType::Ping, flag::kAck, 0, 3));  // still in sync
}

TEST(YamuxSession, BacklogAndGoAwayAnswerSynWithRst) {
  Config c;
  c.accept_backlog = 2;
  Session s(Role::Client, c, t0);
  for (std::uint32_t id : {2u, 4u, 6u}) {
    ASSERT_TRUE(s.handle_input(header(FrameType::WindowUpdate, flag::kSyn, id, 0), t0));
  }
  EXPECT_EQ(s.backlog(), 2u);
  EXPECT_EQ(take_output(s), header(FrameType::WindowUpdate, flag::kRst, 6, 0));
  EXPECT_EQ(s.accept().value(), 2u);
  EXPECT_EQ(take_output(s), header(FrameType::WindowUpdate, flag::kAck, 2, 0));
  s.go_away(GoAwayCode::Normal);
  EXPECT_EQ(take_output(s), header(FrameType::GoAway, 0, 0, 0));
  ASSERT_TRUE(s.handle_input(header(FrameType::WindowUpdate, flag::kSyn, 8, 0), t0));
  EXPECT_EQ(take_output(s), header(FrameType::WindowUpdate, flag::kRst, 8, 0));
  EXPECT_EQ(s.open(t0).error(), Errc::GoingAway);
}

TEST(YamuxSession, RemoteGoAwayCodes) {
  Session normal(Role::Client, {}, t0);
  ASSERT_TRUE(normal.handle_input(header(FrameType::GoAway, 0, 0, 0), t0));
  EXPECT_FALSE(normal.is_closed());
  EXPECT_EQ(normal.open(t0).error(), Errc::GoingAway);
  for (std::uint32_t code : {1u, 2u, 99u}) {
    Session s(Role::Client, {}, t0);
    (void)s.handle_input(header(FrameType::GoAway, 0, 0, code), t0);
    EXPECT_TRUE(s.is_closed()) << code;
    EXPECT_EQ(s.error(), Errc::RemoteGoAway);
  }
}

TEST(YamuxSession, ConfigValidation) {
  Config c;
  EXPECT_TRUE(validate(c));
  c.max_stream_window = kInitialWindow - 1;
  EXPECT_EQ(validate(c).error(), Errc::InvalidConfig);
}

}  // namespace
}  // namespace portal::yamux

namespace portal::yamux {
namespace {

Bytes pings(std::size_t count, std::uint32_t first = 1) {
  Bytes all;
  for (std::size_t i = 0; i < count; ++i) {
    const Bytes h = header(FrameType::Ping, flag::kSyn, 0, first + static_cast<std::uint32_t>(i));
    all.insert(all.end(), h.begin(), h.end());
  }
  return all;
}

// A peer that pings (or opens refused streams) and never reads makes the session owe it control
// frames: past the budget the core asks for input to stop, and closes the session when the
// owed frames stay above it for the drain timeout. Virtual time, no I/O.
TEST(YamuxSession, ControlOutputOwedToAPeerIsBudgeted) {
  Config c;
  c.max_control_output = 1200;  // 100 frames
  c.control_drain_timeout = 5s;
  c.enable_keepalive = false;
  Session s(Role::Server, c, t0);
  ASSERT_TRUE(s.handle_input(pings(100), t0));
  EXPECT_EQ(s.pending_control_output(), 1200u);
  EXPECT_FALSE(s.input_paused());
  // Refused SYNs (GO_AWAY sent: every new stream gets RST) owe frames too.
  s.go_away(GoAwayCode::Normal);
  ASSERT_TRUE(s.handle_input(header(FrameType::WindowUpdate, flag::kSyn, 1, 0), t0));
  EXPECT_EQ(s.pending_control_output(), 1200u + 24u);  // GO_AWAY + RST
  EXPECT_TRUE(s.input_paused());
  ASSERT_TRUE(s.poll_deadline());
  EXPECT_EQ(*s.poll_deadline(), t0 + 5s);

  // Draining part of it below the budget resumes input and forgets the deadline.
  s.consume_output(120);
  EXPECT_FALSE(s.input_paused());
  EXPECT_FALSE(s.poll_deadline());
  s.handle_timeout(t0 + 6s);
  EXPECT_FALSE(s.is_closed());

  // Above it again, and never drained: closed once the timeout passes, not before.
  ASSERT_TRUE(s.handle_input(pings(50, 1000), t0 + 7s));
  EXPECT_TRUE(s.input_paused());
  s.handle_timeout(t0 + 11s);
  EXPECT_FALSE(s.is_closed());
  s.handle_timeout(t0 + 12s);
  EXPECT_TRUE(s.is_closed());
  EXPECT_EQ(s.error(), Errc::PeerNotReading);
}

// DATA does not count: a session writing bulk data to a slow reader is not "owed" anything.
TEST(YamuxSession, DataIsNotControlOutput) {
  Session s(Role::Client, {}, t0);
  const auto id = s.open(t0).value();
  take_output(s);
  ASSERT_TRUE(s.handle_input(header(FrameType::WindowUpdate, flag::kAck, id, 0), t0));
  const Bytes big(200 * 1024, 7);
  EXPECT_EQ(s.write(id, big).value(), big.size());
  EXPECT_EQ(s.pending_control_output(), 0u);
  EXPECT_GT(s.pending_output().size(), big.size());
  EXPECT_FALSE(s.input_paused());
}

// take_output() hands the queued frames over without copying and keeps the order: what the
// session queues while the caller writes goes into the caller's old buffer, and comes next.
TEST(YamuxSession, TakeOutputSwapsBuffersAndKeepsTheOrder) {
  Config c;
  c.max_control_output = 24;  // two frames
  c.enable_keepalive = false;
  Session s(Role::Server, c, t0);
  ASSERT_TRUE(s.handle_input(pings(3), t0));  // three answers owed: reading pauses
  EXPECT_TRUE(s.input_paused());
  ASSERT_TRUE(s.poll_deadline());

  base::ByteBuffer a(std::numeric_limits<std::size_t>::max());
  const base::Byte* queued = s.pending_output().data();
  s.take_output(a);
  EXPECT_EQ(a.readable().data(), queued);  // the same storage: nothing was copied
  EXPECT_EQ(a.size(), 36u);
  EXPECT_TRUE(s.pending_output().empty());
  EXPECT_EQ(s.pending_control_output(), 0u);  // taken output counts as consumed
  EXPECT_FALSE(s.input_paused());
  EXPECT_FALSE(s.poll_deadline());

  // More frames while `a` is "being written": they queue in a fresh buffer, in order.
  ASSERT_TRUE(s.handle_input(pings(2, 100), t0));
  base::ByteBuffer b(std::numeric_limits<std::size_t>::max());
  ASSERT_TRUE(b.reserve(64));
  const base::Byte* spare = b.readable().data();
  s.take_output(b);
  EXPECT_EQ(b.size(), 24u);
  // `a` is written and emptied; its storage goes back to the session for what comes next.
  a.clear();
  ASSERT_TRUE(s.handle_input(pings(1, 200), t0));
  EXPECT_EQ(s.pending_output().data(), spare);  // b's old storage, now the session's
  s.take_output(a);
  Bytes all = base::to_bytes(b.readable());
  const Bytes last = base::to_bytes(a.readable());
  all.insert(all.end(), last.begin(), last.end());
  Bytes expected;
  for (std::uint32_t id : {100u, 101u, 200u}) {
    const Bytes h = header(FrameType::Ping, flag::kAck, 0, id);
    expected.insert(expected.end(), h.begin(), h.end());
  }
  EXPECT_EQ(all, expected);

  // A spare that still holds bytes, or has a limit, is refused: nothing moves.
  ASSERT_TRUE(s.handle_input(pings(1, 300), t0));
  s.take_output(a);
  EXPECT_EQ(a.size(), 12u);  // unchanged
  EXPECT_EQ(s.pending_output().size(), 12u);
  base::ByteBuffer limited(1024);
  s.take_output(limited);
  EXPECT_TRUE(limited.empty());
  EXPECT_EQ(s.pending_output().size(), 12u);
}

// The session's queues allocate nothing until used and give their storage back when they empty
// out (an idle session on a relay holds none; each std::deque held 576 bytes).
TEST(YamuxFifo, KeepsOrderAndFreesItsStorageWhenEmpty) {
  detail::Fifo<std::uint32_t> q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.capacity_bytes(), 0u);
  for (std::uint32_t i = 0; i < 100; ++i) q.push_back(i);
  q.erase(50);
  q.erase(1000);  // absent: nothing happens
  EXPECT_EQ(q.size(), 99u);
  for (std::uint32_t i = 0; i < 100; ++i) {
    if (i == 50) continue;
    ASSERT_FALSE(q.empty());
    EXPECT_EQ(q.front(), i);
    q.pop_front();
  }
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.capacity_bytes(), 0u);
  // A few slots are kept for the next burst; erasing the last elements empties it too.
  q.push_back(7);
  q.push_back(8);
  q.pop_front();
  q.push_back(9);
  EXPECT_EQ(q.front(), 8u);
  q.erase(8);
  q.erase(9);
  EXPECT_TRUE(q.empty());
  EXPECT_LE(q.capacity_bytes(), 8 * sizeof(std::uint32_t));
  q.push_back(1);
  q.clear();
  EXPECT_EQ(q.capacity_bytes(), 0u);
}

}  // namespace
}  // namespace portal::yamux
