// SPDX-License-Identifier: Apache-2.0
#include "portal/crypto/sha256.hpp"

#include <gtest/gtest.h>

#include "portal/base/encoding.hpp"

namespace portal::crypto {
namespace {

using base::as_bytes;
using base::hex_encode;

TEST(CryptoSha256, Fips180Abc) {
  EXPECT_EQ(hex_encode(sha256(as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CryptoSha256, IncrementalMatchesOneShotAndResets) {
  const std::string text = "the quick brown fox jumps over the lazy dog, many times over";
  Sha256 h;
  h.update(as_bytes(std::string_view(text).substr(0, 7)));
  h.update(as_bytes(std::string_view(text).substr(7)));
  EXPECT_EQ(h.finish(), sha256(as_bytes(text)));
  h.update(as_bytes("abc"));
  EXPECT_EQ(h.finish(), sha256(as_bytes("abc")));
}

TEST(CryptoHmacSha256, Rfc4231Case2) {
  EXPECT_EQ(hex_encode(hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace portal::crypto
