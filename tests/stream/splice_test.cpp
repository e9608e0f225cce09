// SPDX-License-Identifier: Apache-2.0
// stream::splice() between two memory pipes: what each side gets (prefixes first), half-closes
// passed on, and a paced direction let go when the other fails.
#include "portal/stream/splice.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "portal/stream/memory_pipe.hpp"

namespace portal::stream {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// x <-> a  [splice]  b <-> y: the test drives x and y.
struct Pair {
  explicit Pair(asio::io_context& io)
      : left(make_memory_pipe(io.get_executor(), 4096)),
        right(make_memory_pipe(io.get_executor(), 4096)) {}
  std::pair<std::unique_ptr<ByteStream>, std::unique_ptr<ByteStream>> left;
  std::pair<std::unique_ptr<ByteStream>, std::unique_ptr<ByteStream>> right;
  ByteStream& x() { return *left.first; }
  ByteStream& y() { return *right.second; }
  std::shared_ptr<ByteStream> a() { return std::shared_ptr<ByteStream>(std::move(left.second)); }
  std::shared_ptr<ByteStream> b() { return std::shared_ptr<ByteStream>(std::move(right.first)); }
};

asio::awaitable<std::string> read_to_end(ByteStream& s) {
  std::string all;
  base::Bytes buf(100);
  for (;;) {
    auto n = co_await s.async_read_some(buf);
    if (!n || *n == 0) break;
    all.append(reinterpret_cast<const char*>(buf.data()), *n);
  }
  co_return all;
}

// Runs `io` until `done` (at most 10 s).
void run_until(asio::io_context& io, const bool& done) {
  for (int i = 0; i < 1000 && !done; ++i) io.run_for(10ms);
}

TEST(StreamSplice, CopiesBothWaysPrefixesFirstAndPassesHalfClosesOn) {
  asio::io_context io;
  Pair p(io);
  std::optional<SpliceStats> stats;
  std::string at_y, at_x;
  bool done = false;
  SpliceOptions o;
  o.a_prefix = base::to_bytes(base::as_bytes("A:"));
  o.b_prefix = base::to_bytes(base::as_bytes("B:"));
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { stats = co_await splice(p.a(), p.b(), std::move(o)); },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        EXPECT_TRUE(co_await p.x().async_write(base::as_bytes("hello")));
        EXPECT_TRUE(co_await p.x().async_shutdown_write());
        at_y = co_await read_to_end(p.y());
        EXPECT_TRUE(co_await p.y().async_write(base::as_bytes("world")));
        EXPECT_TRUE(co_await p.y().async_shutdown_write());
        at_x = co_await read_to_end(p.x());
        done = true;
      },
      asio::detached);
  run_until(io, done);
  ASSERT_TRUE(done);
  for (int i = 0; i < 100 && !stats; ++i) io.run_for(10ms);
  EXPECT_EQ(at_y, "A:hello");
  EXPECT_EQ(at_x, "B:world");
  ASSERT_TRUE(stats);
  EXPECT_TRUE(stats->clean);
  EXPECT_EQ(stats->a_to_b, 7u);
  EXPECT_EQ(stats->b_to_a, 7u);
}

// A direction waiting for its pace (a bandwidth limit) is let go as soon as the other direction
// fails: the splice ends with its streams instead of outliving them for the pace's wait (which
// here would never end by itself).
TEST(StreamSplice, APacedDirectionStopsWaitingWhenTheOtherFails) {
  asio::io_context io;
  Pair p(io);
  std::optional<SpliceStats> stats;
  bool pacing = false;
  bool saw_cut = false;
  SpliceOptions o;
  o.pace = [&](bool a_to_b, std::size_t, const std::atomic<bool>& cut) -> asio::awaitable<void> {
    EXPECT_TRUE(a_to_b);  // only x writes
    pacing = true;
    asio::steady_timer t(co_await asio::this_coro::executor);
    while (!cut.load()) {
      t.expires_after(5ms);
      (void)co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    saw_cut = true;
  };
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { stats = co_await splice(p.a(), p.b(), std::move(o)); },
      asio::detached);
  bool wrote = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        EXPECT_TRUE(co_await p.x().async_write(base::as_bytes("held back")));
        wrote = true;
      },
      asio::detached);
  run_until(io, pacing);
  ASSERT_TRUE(pacing && wrote);
  EXPECT_FALSE(stats);
  p.y().close();  // the far end aborts: the b-to-a direction's read fails
  for (int i = 0; i < 500 && !stats; ++i) io.run_for(10ms);
  ASSERT_TRUE(stats) << "the splice still waits for its pace";
  EXPECT_TRUE(saw_cut);
  EXPECT_FALSE(stats->clean);
  EXPECT_EQ(stats->a_to_b, 0u);  // the held chunk was not written
}

}  // namespace
}  // namespace portal::stream
