// SPDX-License-Identifier: Apache-2.0
#include "portal/secure_channel/secure_channel.hpp"

#include <gtest/gtest.h>

#include "chacha20_poly1305.hpp"
#include "portal/base/encoding.hpp"
#include "support/vectors.hpp"

namespace portal::secure_channel {
namespace {

using base::Bytes;
using base::ByteSpan;
using base::hex_encode;

std::shared_ptr<cipher::Aead> aead(const Bytes& key) {
  auto a = plugins::chacha::factory().create("chacha20-poly1305", key);
  EXPECT_TRUE(a);
  return std::shared_ptr<cipher::Aead>(std::move(*a));
}

SecureChannel channel(const Bytes& send_key, const Bytes& recv_key, Bytes first_nonce,
                      Options options = {}) {
  base::ReplayRandom random(std::move(first_nonce));
  auto c = SecureChannel::create(aead(send_key), aead(recv_key), random, options);
  EXPECT_TRUE(c);
  return std::move(*c);
}

// Feeds all of `wire` and collects every plaintext byte.
Bytes receive_all(SecureChannel& c, ByteSpan wire) {
  Bytes out;
  while (true) {
    auto used = c.handle_input(wire);
    EXPECT_TRUE(used) << used.error().message();
    if (!used) break;
    wire = wire.subspan(*used);
    const auto r = c.readable();
    out.insert(out.end(), r.begin(), r.end());
    c.consume(r.size());
    if (wire.empty() && c.readable().empty()) break;
  }
  return out;
}

TEST(SecureChannelVectors, SealsAndOpensEveryFrameByteForByte) {
  const auto doc = test::load_vectors("secure_frames.json");
  for (const auto& v : doc.at("vectors").as_array()) {
    SCOPED_TRACE(test::str(v, "direction"));
    const Bytes key = test::hex(v, "key_hex");
    const Bytes other(32, 0x99);
    auto sender = channel(key, other, test::hex(v, "nonce_hex"));
    ASSERT_TRUE(sender.write(test::hex(v, "plaintext_hex")));
    EXPECT_EQ(hex_encode(sender.pending_output()), test::str(v, "frame_hex"));

    auto receiver = channel(other, key, Bytes(12));
    EXPECT_EQ(receive_all(receiver, test::hex(v, "frame_hex")), test::hex(v, "plaintext_hex"));
  }
}

TEST(SecureChannelVectors, NegativeCasesEachHaveTheirOwnError) {
  const auto doc = test::load_vectors("secure_frames.json");
  int checked = 0;
  for (const auto& c : doc.at("negative_cases").as_array()) {
    const std::string name = test::str(c, "case");
    SCOPED_TRACE(name);
    auto receiver = channel(Bytes(32, 0x99), test::hex(c, "key_hex"), Bytes(12));
    const Bytes wire = c.as_object().contains("frame_hex") ? test::hex(c, "frame_hex")
                                                           : test::hex(c, "frame_prefix_hex");
    auto r = receiver.handle_input(wire);
    ASSERT_FALSE(r);
    if (name.find("length field 27") != std::string::npos) {
      EXPECT_EQ(r.error(), Errc::FrameTooShort);
    } else if (name.find("64 MiB") != std::string::npos) {
      EXPECT_EQ(wire.size(), 4u);  // refused on the length alone, before any body
      EXPECT_EQ(r.error(), Errc::FrameTooLarge);
    } else {
      EXPECT_EQ(r.error(), Errc::AuthenticationFailed);
    }
    // The channel stays failed.
    EXPECT_EQ(receiver.handle_input(Bytes{0}).error(), r.error());
    EXPECT_TRUE(receiver.readable().empty());
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

TEST(SecureChannelFraming, CutsWritesAtTheConfiguredSize) {
  const Bytes k1(32, 1), k2(32, 2);
  Options options;
  options.max_plaintext_per_frame = 16384;
  auto a = channel(k1, k2, Bytes(12), options);
  auto b = channel(k2, k1, Bytes(12), options);
  Bytes data(40000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<base::Byte>(i * 7);
  ASSERT_TRUE(a.write(data));
  // 16384 + 16384 + 7232 bytes: three frames of N = plaintext + 28.
  EXPECT_EQ(a.pending_output().size(), data.size() + 3 * (4 + kFrameOverhead));
  EXPECT_EQ(base::load_be32(a.pending_output().data()), 16384u + 28u);
  EXPECT_EQ(receive_all(b, a.pending_output()), data);
}

TEST(SecureChannelFraming, EmptyWriteIsOneEmptyFrame) {
  const Bytes k1(32, 1), k2(32, 2);
  auto a = channel(k1, k2, Bytes(12));
  auto b = channel(k2, k1, Bytes(12));
  ASSERT_TRUE(a.write({}));
  EXPECT_EQ(a.pending_output().size(), 4u + 28u);
  auto used = b.handle_input(a.pending_output());
  ASSERT_TRUE(used);
  EXPECT_EQ(*used, 32u);
  EXPECT_TRUE(b.readable().empty());
}

TEST(SecureChannelFraming, AcceptsLargeV1FramesUpToTheLimit) {
  const Bytes k1(32, 1), k2(32, 2);
  Options big;
  big.max_plaintext_per_frame = 1 << 20;  // like a v1 sender writing 1 MiB at once
  auto a = channel(k1, k2, Bytes(12), big);
  auto b = channel(k2, k1, Bytes(12));
  Bytes data(1 << 20, 0x3c);
  ASSERT_TRUE(a.write(data));
  EXPECT_EQ(base::load_be32(a.pending_output().data()), (1u << 20) + 28u);
  EXPECT_EQ(receive_all(b, a.pending_output()), data);

  Options small;
  small.max_frame_size = 4096;
  auto c = channel(k2, k1, Bytes(12), small);
  EXPECT_EQ(c.handle_input(a.pending_output()).error(), Errc::FrameTooLarge);
}

TEST(SecureChannelFraming, NoncesCountUpWithCarry) {
  const Bytes k1(32, 1), k2(32, 2);
  Bytes first(12, 0);
  first[10] = 0x01;
  first[11] = 0xff;
  auto a = channel(k1, k2, first);
  ASSERT_TRUE(a.write(Bytes{1}));
  ASSERT_TRUE(a.write(Bytes{2}));
  const auto out = a.pending_output();
  const std::size_t frame = 4 + 28 + 1;
  EXPECT_EQ(hex_encode(out.subspan(4, 12)), "0000000000000000000001ff");
  EXPECT_EQ(hex_encode(out.subspan(frame + 4, 12)), "000000000000000000000200");
}

TEST(SecureChannelFraming, ReadCopiesAcrossCallsAndStopsConsumingWhilePlaintextIsPending) {
  const Bytes k1(32, 1), k2(32, 2);
  auto a = channel(k1, k2, Bytes(12));
  auto b = channel(k2, k1, Bytes(12));
  ASSERT_TRUE(a.write(base::as_bytes("first")));
  ASSERT_TRUE(a.write(base::as_bytes("second")));
  const Bytes wire = base::to_bytes(a.pending_output());
  auto used = b.handle_input(wire);
  ASSERT_TRUE(used);
  EXPECT_EQ(*used, 4u + 28u + 5u);                                       // one frame only
  EXPECT_EQ(b.handle_input(ByteSpan(wire).subspan(*used)).value(), 0u);  // pending plaintext
  Bytes buf(3);
  EXPECT_EQ(b.read(buf), 3u);
  EXPECT_EQ(base::as_chars(buf), "fir");
  EXPECT_EQ(b.read(buf), 2u);
  EXPECT_EQ(b.handle_input(ByteSpan(wire).subspan(*used)).value(), wire.size() - *used);
  EXPECT_EQ(base::as_chars(b.readable()), "second");
}

TEST(SecureChannelClose, CleanEndBetweenFramesTruncatedInside) {
  const Bytes k1(32, 1), k2(32, 2);
  auto a = channel(k1, k2, Bytes(12));
  ASSERT_TRUE(a.write(base::as_bytes("bye")));
  a.close_write();
  EXPECT_EQ(a.write(base::as_bytes("more")).error(), Errc::WriteAfterClose);
  const Bytes wire = base::to_bytes(a.pending_output());

  auto clean = channel(k2, k1, Bytes(12));
  EXPECT_EQ(receive_all(clean, wire), base::to_bytes(base::as_bytes("bye")));
  ASSERT_TRUE(clean.handle_eof());
  EXPECT_TRUE(clean.peer_closed());

  auto cut = channel(k2, k1, Bytes(12));
  ASSERT_TRUE(cut.handle_input(ByteSpan(wire).first(wire.size() - 1)));
  EXPECT_EQ(cut.handle_eof().error(), Errc::TruncatedFrame);
}

TEST(SecureChannelVectors, AFlippedCiphertextBitClosesTheChannel) {
  const Bytes k1(32, 1), k2(32, 2);
  auto a = channel(k1, k2, Bytes(12));
  auto b = channel(k2, k1, Bytes(12));
  ASSERT_TRUE(a.write(Bytes(100, 0x41)));
  Bytes wire = base::to_bytes(a.pending_output());
  wire[4 + 12 + 50] ^= 0x08;
  EXPECT_EQ(b.handle_input(wire).error(), Errc::AuthenticationFailed);
  EXPECT_TRUE(b.readable().empty());
  EXPECT_EQ(b.error(), Errc::AuthenticationFailed);
}

// Reading while nothing is readable and a frame is half received keeps the half frame.
TEST(SecureChannelFraming, AReadBetweenPartialInputsKeepsTheFrame) {
  const Bytes k1(32, 1), k2(32, 2);
  auto a = channel(k1, k2, Bytes(12));
  auto b = channel(k2, k1, Bytes(12));
  ASSERT_TRUE(a.write(Bytes(100, 0x41)));
  const Bytes wire = base::to_bytes(a.pending_output());
  ASSERT_TRUE(b.handle_input(ByteSpan(wire).first(50)));
  Bytes out(10);
  EXPECT_EQ(b.read(out), 0u);
  b.consume(0);
  ASSERT_TRUE(b.handle_input(ByteSpan(wire).subspan(50)));
  EXPECT_EQ(b.readable().size(), 100u);
}

// read_direct() opens whole frames straight into the caller's buffer. Fed any way (whole frames,
// frames split across inputs, buffers too small for a frame), it gives the same plaintext as
// handle_input(), and the same error for a forged frame.
TEST(SecureChannelDirect, ReadDirectMatchesTheBufferedPath) {
  const Bytes k1(32, 1), k2(32, 2);
  for (bool negotiated : {false, true}) {
    SCOPED_TRACE(negotiated ? "negotiated" : "v1");
    auto make = [&](const Bytes& send, const Bytes& recv) {
      if (negotiated) {
        auto c = SecureChannel::create_negotiated(aead(send), aead(recv));
        return std::move(*c);
      }
      return channel(send, recv, Bytes(12));
    };
    auto a = make(k1, k2);
    Bytes sent;
    for (std::size_t size : {100u, 0u, 5000u, 16384u, 1u, 40000u}) {
      Bytes chunk(size);
      for (std::size_t i = 0; i < size; ++i) chunk[i] = static_cast<base::Byte>(i * 7 + size);
      ASSERT_TRUE(a.write(chunk));
      sent.insert(sent.end(), chunk.begin(), chunk.end());
    }
    a.close_write();
    const Bytes wire = base::to_bytes(a.pending_output());

    for (std::size_t piece : {wire.size(), std::size_t{7000}, std::size_t{1}}) {
      for (std::size_t out_size : {std::size_t{64 * 1024}, std::size_t{3000}}) {
        auto b = make(k2, k1);
        Bytes got;
        std::size_t direct_frames = 0;
        Bytes out(out_size);
        for (std::size_t at = 0; at < wire.size(); at += piece) {
          ByteSpan in = ByteSpan(wire).subspan(at, std::min(piece, wire.size() - at));
          while (!in.empty() || !b.readable().empty()) {
            if (b.readable().empty()) {
              auto d = b.read_direct(in, out);
              ASSERT_TRUE(d) << d.error().message();
              if (d->consumed > 0) {
                ++direct_frames;
                got.insert(got.end(), out.begin(), out.begin() + static_cast<long>(d->produced));
                in = in.subspan(d->consumed);
                continue;
              }
              auto used = b.handle_input(in);
              ASSERT_TRUE(used) << used.error().message() << " piece " << piece << " out "
                                << out_size << " at " << at;
              in = in.subspan(*used);
            }
            const std::size_t n = b.read(out);
            got.insert(got.end(), out.begin(), out.begin() + static_cast<long>(n));
            if (n == 0 && in.empty()) break;
          }
        }
        ASSERT_TRUE(b.handle_eof());
        EXPECT_TRUE(b.peer_closed());
        EXPECT_EQ(got, sent) << "piece " << piece << " out " << out_size;
        // Whole inputs with a large buffer take the direct path for every frame.
        if (piece == wire.size() && out_size == 64 * 1024) {
          EXPECT_EQ(direct_frames, negotiated ? 9u : 8u);
        }
        if (piece == 1) {
          EXPECT_EQ(direct_frames, 0u);
        }
      }
    }

    // A forged frame fails the same way on the direct path, and the channel stays failed.
    Bytes forged = wire;
    forged[4 + 12 + (negotiated ? 1 : 0) + 50] ^= 0x08;
    auto c = make(k2, k1);
    Bytes out(64 * 1024);
    EXPECT_EQ(c.read_direct(forged, out).error(), Errc::AuthenticationFailed);
    EXPECT_EQ(c.handle_input(wire).error(), Errc::AuthenticationFailed);
  }
}

TEST(SecureChannelOptions, RefusesSizesV1CannotCarry) {
  base::ReplayRandom random(Bytes(48));
  Options too_big;
  too_big.max_plaintext_per_frame = kV1MaxFrame;
  EXPECT_EQ(SecureChannel::create(aead(Bytes(32, 1)), aead(Bytes(32, 2)), random, too_big).error(),
            Errc::InvalidOptions);
  Options zero;
  zero.max_plaintext_per_frame = 0;
  EXPECT_EQ(SecureChannel::create(aead(Bytes(32, 1)), aead(Bytes(32, 2)), random, zero).error(),
            Errc::InvalidOptions);
}

}  // namespace
}  // namespace portal::secure_channel
