// SPDX-License-Identifier: Apache-2.0
#include "portal/base/secret.hpp"

#include <gtest/gtest.h>

#include <new>

namespace portal::base {
namespace {

TEST(BaseSecret, SecureZero) {
  Byte buf[16];
  for (auto& b : buf) b = 0xaa;
  secure_zero(buf, sizeof buf);
  for (auto b : buf) EXPECT_EQ(b, 0);
}

TEST(BaseSecret, SecretArrayWipesOnDestruction) {
  // Construct in raw storage so the bytes can be inspected after the destructor runs.
  alignas(SecretArray<32>) Byte storage[sizeof(SecretArray<32>)];
  const Bytes key(32, 0x5c);
  auto* secret = new (storage) SecretArray<32>(SecretArray<32>::from(key));
  EXPECT_EQ(to_bytes(secret->span()), key);
  secret->~SecretArray<32>();
  for (auto b : storage) EXPECT_EQ(b, 0);
}

TEST(BaseSecret, SecretArrayMoveWipesSource) {
  auto a = SecretArray<4>::from(Bytes{1, 2, 3, 4});
  SecretArray<4> b(std::move(a));
  EXPECT_EQ(to_bytes(b.span()), (Bytes{1, 2, 3, 4}));
  EXPECT_EQ(to_bytes(a.span()), (Bytes{0, 0, 0, 0}));  // NOLINT(bugprone-use-after-move)
  auto c = b.clone();
  EXPECT_EQ(to_bytes(c.span()), to_bytes(b.span()));
}

TEST(BaseSecret, SecretBytes) {
  auto s = SecretBytes::from(Bytes{9, 8, 7});
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(to_bytes(s.span()), (Bytes{9, 8, 7}));
  SecretBytes t(std::move(s));
  EXPECT_TRUE(s.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(t.size(), 3u);
  SecretBytes zeros(5);
  EXPECT_EQ(to_bytes(zeros.span()), Bytes(5, 0));
}

}  // namespace
}  // namespace portal::base
