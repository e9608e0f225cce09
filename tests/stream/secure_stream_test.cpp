// SPDX-License-Identifier: Apache-2.0
// Scenario tests: a dialer and a lease holder through an in-memory pipe, timestamps from a
// virtual clock, the real cipher-chacha code.
#include "portal/secure_stream/secure_stream.hpp"
#include "portal/cipher/aead_factory.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "chacha20_poly1305.hpp"
#include "openssl_aead.hpp"
#include "portal/base/encoding.hpp"
#include "portal/crypto/sha256.hpp"
#include "portal/stream/memory_pipe.hpp"
#include "support/scale.hpp"

namespace portal::stream {
namespace {

namespace asio = boost::asio;
using base::Bytes;
using namespace std::chrono_literals;

constexpr std::int64_t kNow = 1762473600;

std::shared_ptr<cipher::AeadFactory> chacha() {
  return {&plugins::chacha::factory(), [](cipher::AeadFactory*) {}};
}

struct Scenario {
  asio::io_context io;
  identity::Credential dialer = *identity::Credential::from_seed(Bytes(32, 1));
  identity::Credential holder = *identity::Credential::from_seed(Bytes(32, 2));
  base::ManualClock dialer_clock{base::Clock::SystemTime{std::chrono::seconds{kNow}}};
  base::ManualClock holder_clock{base::Clock::SystemTime{std::chrono::seconds{kNow}}};
  handshake::ReplayCache cache;
  std::vector<std::string> lease_alpns{"http/1.1", "h2"};

  SecureStreamConfig config(const identity::Credential& who, base::Clock& clock) {
    SecureStreamConfig c;
    c.credential = &who;
    c.cipher = chacha();
    c.clock = &clock;
    c.handshake_timeout = 5s;
    return c;
  }

  struct Outcome {
    base::Result<std::unique_ptr<SecureStream>> dialer = handshake::Errc::InvalidState;
    base::Result<std::unique_ptr<SecureStream>> holder = handshake::Errc::InvalidState;
  };

  // Runs both handshakes over a fresh pipe (or over the given ends) and returns both outcomes.
  Outcome connect(std::string lease_id, std::string alpn, SecureStreamConfig dialer_cfg,
                  SecureStreamConfig holder_cfg) {
    auto [a, b] = make_memory_pipe(io.get_executor());
    Outcome out;
    asio::co_spawn(
        io,
        [&, a = std::move(a)]() mutable -> asio::awaitable<void> {
          out.dialer = co_await async_secure_connect(std::move(a), dialer_cfg, lease_id, alpn);
        },
        asio::detached);
    asio::co_spawn(
        io,
        [&, b = std::move(b)]() mutable -> asio::awaitable<void> {
          out.holder = co_await async_secure_accept(std::move(b), holder_cfg, lease_alpns, cache);
        },
        asio::detached);
    io.run();
    io.restart();
    return out;
  }
  Outcome connect() {
    return connect(holder.id(), "http/1.1", config(dialer, dialer_clock),
                   config(holder, holder_clock));
  }
};

// Deterministic pseudo-random bytes (xorshift), so transfers are not all one value.
void fill(Bytes& b, std::uint64_t& state) {
  for (auto& x : b) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    x = static_cast<base::Byte>(state);
  }
}

asio::awaitable<void> send(ByteStream& s, std::size_t total, std::uint64_t seed,
                           crypto::Sha256Digest& digest) {
  crypto::Sha256 h;
  Bytes chunk(100 * 1000);  // not a multiple of the frame size
  std::size_t sent = 0;
  while (sent < total) {
    chunk.resize(std::min(chunk.size(), total - sent));
    fill(chunk, seed);
    h.update(chunk);
    auto r = co_await s.async_write(chunk);
    EXPECT_TRUE(r) << r.error().message();
    if (!r) co_return;
    sent += chunk.size();
  }
  EXPECT_TRUE(co_await s.async_shutdown_write());
  digest = h.finish();
}

asio::awaitable<void> receive(ByteStream& s, std::size_t& total, crypto::Sha256Digest& digest) {
  crypto::Sha256 h;
  Bytes buf(64 * 1024);
  for (;;) {
    auto n = co_await s.async_read_some(buf);
    EXPECT_TRUE(n) << n.error().message();
    if (!n || *n == 0) break;
    h.update(base::ByteSpan(buf).first(*n));
    total += *n;
  }
  digest = h.finish();
}

TEST(SecureChannelScenario, HandshakeThenBulkBothWaysWithChecksums) {
  Scenario s;
  auto out = s.connect();
  ASSERT_TRUE(out.dialer) << out.dialer.error().message();
  ASSERT_TRUE(out.holder) << out.holder.error().message();
  auto& d = *out.dialer;
  auto& h = *out.holder;
  EXPECT_EQ(d->peer().id, s.holder.id());
  EXPECT_EQ(h->peer().id, s.dialer.id());
  EXPECT_EQ(d->alpn(), "http/1.1");
  // The default between our peers: the negotiated channel (docs/adr/0014).
  EXPECT_EQ(d->channel_version(), handshake::kNegotiatedChannelVersion);
  EXPECT_EQ(h->channel_version(), handshake::kNegotiatedChannelVersion);
  EXPECT_EQ(d->cipher_algorithm(), "chacha20-poly1305");

  const std::size_t size = test::scaled(100u << 20, 1u << 20);  // 100 MiB each way
  crypto::Sha256Digest sent_dh{}, sent_hd{}, got_dh{}, got_hd{};
  std::size_t n_dh = 0, n_hd = 0;
  asio::co_spawn(s.io, send(*d, size, 1, sent_dh), asio::detached);
  asio::co_spawn(s.io, send(*h, size, 2, sent_hd), asio::detached);
  asio::co_spawn(s.io, receive(*h, n_dh, got_dh), asio::detached);
  asio::co_spawn(s.io, receive(*d, n_hd, got_hd), asio::detached);
  s.io.run();
  EXPECT_EQ(n_dh, size);
  EXPECT_EQ(n_hd, size);
  EXPECT_EQ(got_dh, sent_dh);
  EXPECT_EQ(got_hd, sent_hd);
  EXPECT_NE(sent_dh, sent_hd);
}

TEST(HandshakeScenario, AlpnOutsideTheLeaseLooksLikeASilentClose) {
  Scenario s;
  s.lease_alpns = {"h2"};
  auto out = s.connect();
  EXPECT_EQ(out.holder.error(), handshake::Errc::AlpnNotAccepted);
  EXPECT_EQ(out.dialer.error(), handshake::Errc::PeerClosedDuringHandshake);
}

TEST(HandshakeScenario, ClockSkewBeyondThirtySeconds) {
  Scenario s;
  s.dialer_clock.advance(31s);  // the dialer's clock runs ahead
  auto out = s.connect();
  EXPECT_EQ(out.holder.error(), handshake::Errc::TimestampInFuture);
  EXPECT_EQ(out.dialer.error(), handshake::Errc::PeerClosedDuringHandshake);
}

TEST(HandshakeScenario, DialerRefusesTheWrongLeaseHolder) {
  Scenario s;
  auto out = s.connect("SQ3TGYRHOZVI3MGU7H5AKQ2VQM", "http/1.1", s.config(s.dialer, s.dialer_clock),
                       s.config(s.holder, s.holder_clock));
  EXPECT_EQ(out.dialer.error(), handshake::Errc::UnexpectedPeerIdentity);
}

TEST(HandshakeScenario, ReplayedClientInitIsRefusedBySecondHandshakeOfSameHolder) {
  Scenario s;
  const Bytes draws(44 * 2, 0x5a);  // the same random draws twice: byte-identical ClientInits
  base::ReplayRandom first(draws);
  base::ReplayRandom second(draws);
  auto d1 = s.config(s.dialer, s.dialer_clock);
  d1.random = &first;
  auto d2 = s.config(s.dialer, s.dialer_clock);
  d2.random = &second;
  auto one = s.connect(s.holder.id(), "http/1.1", d1, s.config(s.holder, s.holder_clock));
  EXPECT_TRUE(one.holder);
  auto two = s.connect(s.holder.id(), "http/1.1", d2, s.config(s.holder, s.holder_clock));
  EXPECT_EQ(two.holder.error(), handshake::Errc::ReplayedClientInit);
  EXPECT_EQ(two.dialer.error(), handshake::Errc::PeerClosedDuringHandshake);
}

TEST(HandshakeScenario, SilentPeerTimesOut) {
  Scenario s;
  // No structured binding: clang 14 cannot capture one. pipe.second is the silent peer.
  auto pipe = make_memory_pipe(s.io.get_executor());
  auto& a = pipe.first;
  auto cfg = s.config(s.dialer, s.dialer_clock);
  cfg.handshake_timeout = 50ms;
  base::Result<std::unique_ptr<SecureStream>> result = handshake::Errc::InvalidState;
  asio::co_spawn(
      s.io,
      [&]() -> asio::awaitable<void> {
        result = co_await async_secure_connect(std::move(a), cfg, s.holder.id(), "http/1.1");
      },
      asio::detached);
  s.io.run();
  EXPECT_EQ(result.error(), handshake::Errc::Timeout);
}

// A relay in the middle of the holder's side: passes writes and the close through, and changes
// what the holder reads (tamper() sees each read's bytes and where they start in the stream).
class TamperingStream : public ByteStream {
 public:
  explicit TamperingStream(std::unique_ptr<ByteStream> inner) : inner_(std::move(inner)) {}
  asio::any_io_executor get_executor() override { return inner_->get_executor(); }
  asio::awaitable<base::Result<std::size_t>> async_read_some(base::MutableByteSpan b) override {
    const std::size_t allowed = readable(seen_, b.size());
    if (allowed == 0 && !b.empty()) co_return std::size_t{0};  // cut here: end of stream
    auto n = co_await inner_->async_read_some(b.first(allowed));
    if (n && *n > 0) {
      tamper(b.first(*n), seen_);
      seen_ += *n;
    }
    co_return n;
  }
  asio::awaitable<base::Result<void>> async_write(base::ByteSpan d) override {
    co_return co_await inner_->async_write(d);
  }
  asio::awaitable<base::Result<void>> async_shutdown_write() override {
    co_return co_await inner_->async_shutdown_write();
  }
  void close() noexcept override { inner_->close(); }

 protected:
  // How many bytes the next read may return, `seen` bytes into the stream (0: end it there).
  virtual std::size_t readable(std::size_t /*seen*/, std::size_t wanted) { return wanted; }
  virtual void tamper(base::MutableByteSpan /*bytes*/, std::size_t /*at*/) {}

 private:
  std::unique_ptr<ByteStream> inner_;
  std::size_t seen_ = 0;
};

// Flips one bit at byte `flip_at` of the stream: the receiver's read fails and the stream closes.
class FlippingStream final : public TamperingStream {
 public:
  FlippingStream(std::unique_ptr<ByteStream> inner, std::size_t flip_at)
      : TamperingStream(std::move(inner)), flip_at_(flip_at) {}

 private:
  void tamper(base::MutableByteSpan bytes, std::size_t at) override {
    if (at <= flip_at_ && flip_at_ < at + bytes.size()) bytes[flip_at_ - at] ^= 0x10;
  }
  std::size_t flip_at_;
};

// AES-256-GCM runs only on the negotiated channel; the dialer's order decides.
TEST(SecureChannelScenario, NegotiatedAesGcmBulkBothWays) {
  Scenario s;
  auto gcm = std::shared_ptr<cipher::AeadFactory>(&plugins::openssl::factory(),
                                                  [](cipher::AeadFactory*) {});
  auto dialer_config = s.config(s.dialer, s.dialer_clock);
  auto holder_config = s.config(s.holder, s.holder_clock);
  dialer_config.ciphers = {{"aes-256-gcm", gcm}, {"chacha20-poly1305", chacha()}};
  holder_config.ciphers = {{"chacha20-poly1305", chacha()}, {"aes-256-gcm", gcm}};
  auto out = s.connect(s.holder.id(), "http/1.1", dialer_config, holder_config);
  ASSERT_TRUE(out.dialer) << out.dialer.error().message();
  ASSERT_TRUE(out.holder) << out.holder.error().message();
  auto& d = *out.dialer;
  auto& h = *out.holder;
  EXPECT_EQ(d->cipher_algorithm(), "aes-256-gcm");
  EXPECT_EQ(h->cipher_algorithm(), "aes-256-gcm");
  const std::size_t size = test::scaled(16u << 20, 1u << 20);
  crypto::Sha256Digest sent_dh{}, sent_hd{}, got_dh{}, got_hd{};
  std::size_t n_dh = 0, n_hd = 0;
  asio::co_spawn(s.io, send(*d, size, 3, sent_dh), asio::detached);
  asio::co_spawn(s.io, send(*h, size, 4, sent_hd), asio::detached);
  asio::co_spawn(s.io, receive(*h, n_dh, got_dh), asio::detached);
  asio::co_spawn(s.io, receive(*d, n_hd, got_hd), asio::detached);
  s.io.run();
  EXPECT_EQ(n_dh, size);
  EXPECT_EQ(n_hd, size);
  EXPECT_EQ(got_dh, sent_dh);
  EXPECT_EQ(got_hd, sent_hd);
}

// A side that requires the negotiated channel refuses a v1-only peer, with a clear error.
TEST(HandshakeScenario, RequiredNegotiationAgainstAV1Peer) {
  Scenario s;
  auto strict = s.config(s.dialer, s.dialer_clock);
  strict.channel_mode = handshake::ChannelMode::Negotiated;
  auto v1 = s.config(s.holder, s.holder_clock);
  v1.channel_mode = handshake::ChannelMode::V1;
  auto out = s.connect(s.holder.id(), "http/1.1", strict, v1);
  ASSERT_FALSE(out.dialer);
  EXPECT_EQ(out.dialer.error(), handshake::Errc::NegotiationRequired);

  Scenario s2;
  auto v1_dialer = s2.config(s2.dialer, s2.dialer_clock);
  v1_dialer.channel_mode = handshake::ChannelMode::V1;
  auto strict_holder = s2.config(s2.holder, s2.holder_clock);
  strict_holder.channel_mode = handshake::ChannelMode::Negotiated;
  auto out2 = s2.connect(s2.holder.id(), "http/1.1", v1_dialer, strict_holder);
  ASSERT_FALSE(out2.holder);
  EXPECT_EQ(out2.holder.error(), handshake::Errc::NegotiationRequired);
  ASSERT_FALSE(out2.dialer);  // v1 semantics: a silent close
  EXPECT_EQ(out2.dialer.error(), handshake::Errc::PeerClosedDuringHandshake);
}

// A relay that ends the stream after `limit` bytes (at a frame boundary): a clean EOF on v1,
// which cannot tell; Truncated on the negotiated channel, whose end frame never came.
class CuttingStream final : public TamperingStream {
 public:
  CuttingStream(std::unique_ptr<ByteStream> inner, std::size_t limit)
      : TamperingStream(std::move(inner)), limit_(limit) {}

 private:
  std::size_t readable(std::size_t seen, std::size_t wanted) override {
    return seen >= limit_ ? 0 : std::min(wanted, limit_ - seen);
  }
  std::size_t limit_;
};

TEST(SecureChannelScenario, ACutAtAFrameBoundaryIsTruncatedOnlyOnTheNegotiatedChannel) {
  for (auto mode : {handshake::ChannelMode::V1, handshake::ChannelMode::Auto}) {
    const bool v1 = mode == handshake::ChannelMode::V1;
    Scenario s;
    auto dialer_config = s.config(s.dialer, s.dialer_clock);
    auto holder_config = s.config(s.holder, s.holder_clock);
    dialer_config.channel_mode = holder_config.channel_mode = mode;
    auto pipe = make_memory_pipe(s.io.get_executor());
    // ClientInit, then one frame of "hello"; the end frame and the rest are cut.
    const std::size_t limit = (v1 ? 201u : 224u) + (v1 ? 37u : 38u);
    auto cut = std::make_unique<CuttingStream>(std::move(pipe.second), limit);
    base::Bytes got;
    base::ErrorCode end;
    asio::co_spawn(
        s.io,
        [&, a = std::move(pipe.first)]() mutable -> asio::awaitable<void> {
          auto d =
              co_await async_secure_connect(std::move(a), dialer_config, s.holder.id(), "http/1.1");
          EXPECT_TRUE(d);
          if (!d) co_return;
          EXPECT_TRUE(co_await (*d)->async_write(base::as_bytes("hello")));
          EXPECT_TRUE(co_await (*d)->async_write(base::as_bytes("world")));
          EXPECT_TRUE(co_await (*d)->async_shutdown_write());
        },
        asio::detached);
    asio::co_spawn(
        s.io,
        [&]() -> asio::awaitable<void> {
          auto h =
              co_await async_secure_accept(std::move(cut), holder_config, s.lease_alpns, s.cache);
          EXPECT_TRUE(h);
          if (!h) co_return;
          Bytes buf(100);
          for (;;) {
            auto n = co_await (*h)->async_read_some(buf);
            if (!n) {
              end = n.error();
              break;
            }
            if (*n == 0) break;
            got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(*n));
          }
        },
        asio::detached);
    s.io.run();
    EXPECT_EQ(std::string(base::as_chars(got)), "hello");
    if (v1) {
      EXPECT_FALSE(end) << end.message();  // v1 cannot see the cut (spec §13.4 item 18)
    } else {
      EXPECT_EQ(end, secure_channel::Errc::Truncated);
    }
  }
}

// On both channels: v1, and the negotiated one (the default between our peers).
TEST(SecureChannelScenario, AFlippedCiphertextBitClosesTheChannel) {
  for (auto mode : {handshake::ChannelMode::V1, handshake::ChannelMode::Auto}) {
    Scenario s;
    auto dialer_config = s.config(s.dialer, s.dialer_clock);
    auto holder_config = s.config(s.holder, s.holder_clock);
    dialer_config.channel_mode = holder_config.channel_mode = mode;
    // The holder reads ClientInit (its size: the same message from a probe), then the first
    // frame: flip a bit in its ciphertext.
    handshake::ClientHandshake probe(
        *dialer_config.credential, s.holder.id(), "http/1.1", base::OsRandom::instance(), {},
        {mode, mode == handshake::ChannelMode::V1 ? std::vector<std::string>{}
                                                  : std::vector<std::string>{"chacha20-poly1305"}});
    ASSERT_TRUE(probe.start(s.dialer_clock.system_now()));
    const std::size_t client_init = probe.pending_output().size();
    EXPECT_EQ(client_init, mode == handshake::ChannelMode::V1 ? 201u : 224u);
    auto pipe = make_memory_pipe(s.io.get_executor());  // no structured binding: clang 14
    auto& a = pipe.first;
    auto& b = pipe.second;
    const std::size_t header = mode == handshake::ChannelMode::V1 ? 4 + 12 : 4 + 12 + 1;
    auto tampered = std::make_unique<FlippingStream>(std::move(b), client_init + header + 3);
    base::Result<std::unique_ptr<SecureStream>> dialer = handshake::Errc::InvalidState;
    base::ErrorCode holder_read;
    std::uint32_t holder_channel = 0;
    asio::co_spawn(
        s.io,
        [&]() -> asio::awaitable<void> {
          dialer =
              co_await async_secure_connect(std::move(a), dialer_config, s.holder.id(), "http/1.1");
          if (dialer) {
            EXPECT_TRUE(co_await (*dialer)->async_write(base::as_bytes("hello")));
          }
        },
        asio::detached);
    asio::co_spawn(
        s.io,
        [&]() -> asio::awaitable<void> {
          auto h = co_await async_secure_accept(std::move(tampered), holder_config, s.lease_alpns,
                                                s.cache);
          EXPECT_TRUE(h);
          if (!h) co_return;
          holder_channel = (*h)->channel_version();
          Bytes buf(100);
          auto n = co_await (*h)->async_read_some(buf);
          holder_read = n ? base::ErrorCode{} : n.error();
        },
        asio::detached);
    s.io.run();
    ASSERT_TRUE(dialer);
    EXPECT_EQ(holder_channel, mode == handshake::ChannelMode::V1 ? 1u : 2u);
    EXPECT_EQ(holder_read, secure_channel::Errc::AuthenticationFailed);
  }
}

}  // namespace
}  // namespace portal::stream
