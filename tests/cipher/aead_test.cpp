// SPDX-License-Identifier: Apache-2.0
#include "portal/cipher/aead.hpp"

#include <gtest/gtest.h>

namespace portal::cipher {
namespace {

using base::Bytes;

TEST(CipherAeadBuffers, SizesAndOverlap) {
  Bytes buf(64);
  const base::ByteSpan in(buf.data(), 16);
  // In place: output starts where input starts.
  EXPECT_TRUE(check_buffers(in, base::MutableByteSpan(buf.data(), 32), 32));
  // Disjoint.
  EXPECT_TRUE(check_buffers(in, base::MutableByteSpan(buf.data() + 16, 32), 32));
  // Partial overlap either way.
  EXPECT_EQ(check_buffers(in, base::MutableByteSpan(buf.data() + 8, 32), 32).error(),
            Errc::BufferOverlap);
  EXPECT_EQ(
      check_buffers(base::ByteSpan(buf.data() + 8, 16), base::MutableByteSpan(buf.data(), 32), 32)
          .error(),
      Errc::BufferOverlap);
  EXPECT_EQ(check_buffers(in, base::MutableByteSpan(buf.data() + 16, 31), 32).error(),
            Errc::BufferSizeMismatch);
}

TEST(CipherAeadErrors, EveryValueHasAMessage) {
  for (int v = 1; v <= static_cast<int>(Errc::AuthenticationFailed); ++v) {
    EXPECT_EQ(cipher_category().message(v).find("unknown portal."), std::string::npos) << v;
  }
}

}  // namespace
}  // namespace portal::cipher
