// SPDX-License-Identifier: Apache-2.0
// Two yamux cores over an in-memory link with delay, on a virtual clock.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "portal/crypto/sha256.hpp"
#include "portal/yamux/session.hpp"
#include "support/scale.hpp"
#include "yamux/helpers.hpp"
#include "yamux/link.hpp"

namespace portal::yamux {
namespace {

using base::Bytes;
using namespace std::chrono_literals;
using test::Link;

using test::pattern;

// A sender that keeps writing its buffer into the session as window allows.
struct Outgoing {
  Bytes data;
  std::size_t sent = 0;
  bool fin_sent = false;
};

void pump_writes(Session& s, std::map<std::uint32_t, Outgoing>& out, Time now) {
  for (auto& [id, o] : out) {
    while (o.sent < o.data.size()) {
      auto n = s.write(id, base::ByteSpan(o.data).subspan(o.sent));
      if (!n || *n == 0) break;
      o.sent += *n;
    }
    if (o.sent == o.data.size() && !o.fin_sent) {
      (void)s.close_stream(id, now);
      o.fin_sent = true;
    }
  }
}

TEST(YamuxScenario, ThousandConcurrentStreamsWithChecksums) {
  Link link({}, {}, 5ms);
  const std::size_t per_stream = portal::test::scaled(64 * 1024, 4096);
  constexpr std::uint32_t kStreams = 1000;
  std::map<std::uint32_t, Outgoing> outgoing;
  std::map<std::uint32_t, Bytes> received;
  std::set<std::uint32_t> finished;
  std::uint32_t opened = 0;

  auto open_more = [&](Session& c) {
    while (opened < kStreams) {
      auto id = c.open(link.now());
      if (!id) {
        ASSERT_EQ(id.error(), Errc::OpenBacklogFull);  // more after ACKs arrive
        return;
      }
      outgoing[*id] = Outgoing{pattern(*id, per_stream)};
      ++opened;
    }
  };
  link.on_client_event = [&](Session& c, const Event& e) {
    if (e.type == EventType::StreamAcked) open_more(c);
    pump_writes(c, outgoing, link.now());
  };
  link.on_server_event = [&](Session& s, const Event& e) {
    if (e.type == EventType::StreamIncoming) {
      ASSERT_TRUE(s.accept());
    }
    if (e.type == EventType::StreamReadable || e.type == EventType::StreamEof) {
      Bytes buf(32 * 1024);
      while (std::size_t n = s.read(e.stream, buf)) {
        auto& r = received[e.stream];
        r.insert(r.end(), buf.begin(), buf.begin() + static_cast<long>(n));
      }
      if (s.eof(e.stream)) {
        finished.insert(e.stream);
        (void)s.close_stream(e.stream, link.now());
      }
    }
  };
  open_more(link.client());
  pump_writes(link.client(), outgoing, link.now());
  ASSERT_TRUE(link.run_until([&] { return finished.size() == kStreams; }, 10min));
  for (const auto& [id, o] : outgoing) {
    ASSERT_EQ(crypto::sha256(received[id]), crypto::sha256(o.data)) << "stream " << id;
  }
  // Both half-closes done and read: every stream is gone on both sides.
  link.advance(1s);
  EXPECT_EQ(link.client().stream_count(), 0u);
  EXPECT_EQ(link.server().stream_count(), 0u);
}

TEST(YamuxScenario, StalledReaderExhaustsTheWindowWithoutUnboundedBuffering) {
  Link link({}, {}, 1ms);
  const Bytes data = pattern(1, 1024 * 1024);
  std::uint32_t id = link.client().open(link.now()).value();
  std::uint32_t accepted = 0;
  link.on_server_event = [&](Session& s, const Event& e) {
    if (e.type == EventType::StreamIncoming) accepted = s.accept().value();
  };
  std::size_t sent = 0;
  auto push = [&] {
    while (sent < data.size()) {
      auto n = link.client().write(id, base::ByteSpan(data).subspan(sent));
      if (!n || *n == 0) break;
      sent += *n;
    }
  };
  link.on_client_event = [&](Session&, const Event& e) {
    if (e.type == EventType::StreamWritable) push();
  };
  push();
  link.advance(5s);
  // The reader never reads: exactly one window crossed, the rest waits at the sender.
  EXPECT_EQ(sent, kInitialWindow);
  EXPECT_EQ(link.client().send_window(id), 0u);
  EXPECT_EQ(link.server().readable(accepted), kInitialWindow);
  // The reader drains: window updates let the rest through.
  Bytes got;
  link.on_server_event = [&](Session& s, const Event& e) {
    if (e.type == EventType::StreamReadable) {
      Bytes buf(64 * 1024);
      while (std::size_t n = s.read(e.stream, buf))
        got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(n));
    }
  };
  Bytes buf(64 * 1024);
  while (std::size_t n = link.server().read(accepted, buf))
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(n));
  ASSERT_TRUE(link.run_until([&] { return got.size() == data.size(); }, 1min));
  EXPECT_EQ(got, data);
}

TEST(YamuxScenario, HalfCloseInEachDirection) {
  Link link({}, {}, 2ms);
  const std::uint32_t id = link.client().open(link.now()).value();
  std::uint32_t sid = 0;
  link.on_server_event = [&](Session& s, const Event& e) {
    if (e.type == EventType::StreamIncoming) sid = s.accept().value();
  };
  ASSERT_EQ(link.client().write(id, base::as_bytes("ping")).value(), 4u);
  ASSERT_TRUE(link.client().close_stream(id, link.now()));
  EXPECT_EQ(link.client().write(id, base::as_bytes("x")).error(), Errc::StreamClosed);
  link.advance(10ms);
  Bytes buf(16);
  EXPECT_EQ(link.server().read(sid, buf), 4u);
  EXPECT_TRUE(link.server().eof(sid));
  // The other direction still works after the client's FIN.
  ASSERT_EQ(link.server().write(sid, base::as_bytes("pong")).value(), 4u);
  link.advance(10ms);
  EXPECT_EQ(link.client().read(id, buf), 4u);
  EXPECT_FALSE(link.client().eof(id));
  ASSERT_TRUE(link.server().close_stream(sid, link.now()));
  link.advance(10ms);
  EXPECT_TRUE(link.client().eof(id));
  EXPECT_EQ(link.client().stream_count(), 0u);
  EXPECT_EQ(link.server().stream_count(), 0u);
}

TEST(YamuxScenario, ResetEndsBothDirectionsAtOnce) {
  Link link({}, {}, 2ms);
  const std::uint32_t id = link.client().open(link.now()).value();
  bool server_saw_reset = false;
  std::uint32_t sid = 0;
  link.on_server_event = [&](Session& s, const Event& e) {
    if (e.type == EventType::StreamIncoming) sid = s.accept().value();
    if (e.type == EventType::StreamReset) server_saw_reset = e.stream == sid;
  };
  link.advance(10ms);
  link.client().reset(id);
  link.advance(10ms);
  EXPECT_TRUE(server_saw_reset);
  EXPECT_EQ(link.server().write(sid, base::as_bytes("x")).error(), Errc::UnknownStream);
  EXPECT_EQ(link.client().stream_count(), 0u);
}

TEST(YamuxScenario, KeepaliveTimeoutOnASilentPeer) {
  Link link({}, {}, 5ms);
  link.deliver_from_server = false;  // the server's answers never arrive
  link.advance(30s + 9s);
  EXPECT_FALSE(link.client().is_closed());
  link.advance(2s);
  EXPECT_TRUE(link.client().is_closed());
  EXPECT_EQ(link.client().error(), Errc::KeepaliveTimeout);
}

TEST(YamuxScenario, KeepaliveHoldsWhilePeerAnswersAndItsPingsCountAsLiveness) {
  Config quiet;
  quiet.enable_keepalive = false;
  Link link({}, quiet, 5ms);
  link.advance(10min);
  EXPECT_FALSE(link.client().is_closed());
  EXPECT_FALSE(link.server().is_closed());
}

TEST(YamuxScenario, GoAwayWithDraining) {
  Link link({}, {}, 2ms);
  const std::uint32_t id = link.client().open(link.now()).value();
  std::uint32_t sid = 0;
  bool got_go_away = false;
  link.on_server_event = [&](Session& s, const Event& e) {
    if (e.type == EventType::StreamIncoming) sid = s.accept().value();
  };
  link.on_client_event = [&](Session&, const Event& e) {
    if (e.type == EventType::GoAwayReceived) got_go_away = e.value == 0;
  };
  link.advance(10ms);
  link.server().go_away(GoAwayCode::Normal);
  link.advance(10ms);
  EXPECT_TRUE(got_go_away);
  EXPECT_EQ(link.client().open(link.now()).error(), Errc::GoingAway);
  // The existing stream drains to completion in both directions.
  ASSERT_TRUE(link.client().write(id, base::as_bytes("last words")));
  ASSERT_TRUE(link.client().close_stream(id, link.now()));
  link.advance(10ms);
  Bytes buf(32);
  EXPECT_EQ(link.server().read(sid, buf), 10u);
  ASSERT_TRUE(link.server().close_stream(sid, link.now()));
  link.advance(10ms);
  EXPECT_EQ(link.server().stream_count(), 0u);
  EXPECT_EQ(link.client().stream_count(), 0u);
  EXPECT_FALSE(link.server().is_closed());
}

TEST(YamuxScenario, UnackedOpenClosesTheSessionAfterTheOpenTimeout) {
  Config no_keepalive;
  no_keepalive.enable_keepalive = false;  // isolate the open timeout from the keepalive
  Link link(no_keepalive, {}, 1ms);
  link.deliver_from_client = false;  // the SYN never arrives
  ASSERT_TRUE(link.client().open(link.now()));
  Config c;
  link.advance(c.stream_open_timeout - 1s);
  EXPECT_FALSE(link.client().is_closed());
  link.advance(2s);
  EXPECT_TRUE(link.client().is_closed());
  EXPECT_EQ(link.client().error(), Errc::StreamOpenTimeout);
}

TEST(YamuxScenario, LargerWindowsInteroperate) {
  Config big;
  big.max_stream_window = 16 * 1024 * 1024;
  Link link(big, {}, 1ms);  // a later-v1 client and a c6f13b8 server
  const Bytes data = pattern(7, 3 * 1024 * 1024);
  const std::uint32_t id = link.client().open(link.now()).value();
  Bytes got;
  std::size_t sent = 0;
  link.on_server_event = [&](Session& s, const Event& e) {
    if (e.type == EventType::StreamIncoming) (void)s.accept();
    if (e.type == EventType::StreamReadable) {
      Bytes buf(64 * 1024);
      while (std::size_t n = s.read(e.stream, buf))
        got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(n));
    }
  };
  auto push = [&] {
    while (sent < data.size()) {
      auto n = link.client().write(id, base::ByteSpan(data).subspan(sent));
      if (!n || *n == 0) break;
      sent += *n;
    }
  };
  link.on_client_event = [&](Session&, const Event& e) {
    if (e.type == EventType::StreamWritable) push();
  };
  push();
  ASSERT_TRUE(link.run_until([&] { return got.size() == data.size(); }, 1min));
  EXPECT_EQ(got, data);
}

}  // namespace
}  // namespace portal::yamux
