// SPDX-License-Identifier: Apache-2.0
#include "portal/crypto/hkdf.hpp"

#include <gtest/gtest.h>

#include "portal/base/encoding.hpp"
#include "portal/crypto/errors.hpp"
#include "support/vectors.hpp"

namespace portal::crypto {
namespace {

using base::Bytes;
using base::hex_encode;
using test::from_hex;

TEST(HkdfRfc5869, Case1) {
  const Bytes ikm(22, 0x0b);
  const Bytes salt = from_hex("000102030405060708090a0b0c");
  const Bytes info = from_hex("f0f1f2f3f4f5f6f7f8f9");
  EXPECT_EQ(hex_encode(hkdf_sha256_extract(salt, ikm).span()),
            "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
  Bytes okm(42);
  ASSERT_TRUE(hkdf_sha256(ikm, salt, info, okm));
  EXPECT_EQ(hex_encode(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(HkdfRfc5869, Case3EmptySaltAndInfo) {
  const Bytes ikm(22, 0x0b);
  EXPECT_EQ(hex_encode(hkdf_sha256_extract({}, ikm).span()),
            "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04");
  Bytes okm(42);
  ASSERT_TRUE(hkdf_sha256(ikm, {}, {}, okm));
  EXPECT_EQ(hex_encode(okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(HkdfLimits, RefusesOutputLongerThan255Blocks) {
  Bytes out(kHkdfSha256MaxOutput + 1, 0x77);
  auto r = hkdf_sha256(Bytes(32, 1), {}, {}, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::OutputTooLong);
  EXPECT_EQ(out, Bytes(kHkdfSha256MaxOutput + 1, 0x77));  // untouched
  Bytes max(kHkdfSha256MaxOutput);
  EXPECT_TRUE(hkdf_sha256(Bytes(32, 1), {}, {}, max));
}

// Every derivation of shared/spec/vectors/hkdf.json: salts, PRKs and both direction keys.
TEST(HkdfVectors, PortalV1DirectionKeys) {
  const auto doc = test::load_vectors("hkdf.json");
  const auto& vectors = doc.at("vectors").as_array();
  ASSERT_EQ(vectors.size(), 3u);
  for (const auto& v : vectors) {
    SCOPED_TRACE(test::str(v, "label"));
    const Bytes secret = test::hex(v, "shared_secret_hex");
    const Bytes cn = test::hex(v, "client_nonce_hex");
    const Bytes sn = test::hex(v, "server_nonce_hex");
    // portal-v1 §8.6: c2s salt = client nonce || server nonce, s2c the reverse.
    Bytes salt_c2s = cn;
    salt_c2s.insert(salt_c2s.end(), sn.begin(), sn.end());
    Bytes salt_s2c = sn;
    salt_s2c.insert(salt_s2c.end(), cn.begin(), cn.end());
    EXPECT_EQ(salt_c2s, test::hex(v, "salt_c2s_hex"));
    EXPECT_EQ(salt_s2c, test::hex(v, "salt_s2c_hex"));

    EXPECT_EQ(hex_encode(hkdf_sha256_extract(salt_c2s, secret).span()),
              test::str(v, "prk_c2s_hex"));
    EXPECT_EQ(hex_encode(hkdf_sha256_extract(salt_s2c, secret).span()),
              test::str(v, "prk_s2c_hex"));

    Bytes c2s(32);
    Bytes s2c(32);
    ASSERT_TRUE(hkdf_sha256(secret, salt_c2s, base::as_bytes(test::str(v, "info_c2s")), c2s));
    ASSERT_TRUE(hkdf_sha256(secret, salt_s2c, base::as_bytes(test::str(v, "info_s2c")), s2c));
    EXPECT_EQ(hex_encode(c2s), test::str(v, "key_c2s_hex"));
    EXPECT_EQ(hex_encode(s2c), test::str(v, "key_s2c_hex"));
  }
}

}  // namespace
}  // namespace portal::crypto
