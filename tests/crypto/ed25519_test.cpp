// SPDX-License-Identifier: Apache-2.0
#include "portal/crypto/ed25519.hpp"

#include <gtest/gtest.h>

#include "portal/base/encoding.hpp"
#include "portal/crypto/errors.hpp"
#include "support/vectors.hpp"

namespace portal::crypto {
namespace {

using base::as_bytes;
using base::Bytes;
using base::hex_encode;
using test::from_hex;

TEST(CryptoEd25519, Rfc8032Test1EmptyMessage) {
  auto keys = Ed25519KeyPair::from_seed(
      from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  ASSERT_TRUE(keys);
  EXPECT_EQ(hex_encode(keys->public_key()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const auto sig = keys->sign({});
  EXPECT_EQ(hex_encode(sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39"
            "701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  EXPECT_TRUE(ed25519_verify(keys->public_key(), {}, sig));
}

// Every seed of identity.json: public key and the signature over ASCII "portal".
TEST(CryptoEd25519, IdentityVectorsKeysAndSignatures) {
  const auto doc = test::load_vectors("identity.json");
  for (const auto& v : doc.at("vectors").as_array()) {
    SCOPED_TRACE(test::str(v, "label"));
    auto keys = Ed25519KeyPair::from_seed(test::hex(v, "seed_hex"));
    ASSERT_TRUE(keys);
    EXPECT_EQ(hex_encode(keys->public_key()), test::str(v, "public_key_hex"));
    const auto sig = keys->sign(as_bytes("portal"));
    EXPECT_EQ(hex_encode(sig), test::str(v, "signature_over_ascii_portal_hex"));
    EXPECT_TRUE(ed25519_verify(keys->public_key(), as_bytes("portal"), sig));
  }
}

TEST(CryptoEd25519, VerifyRejectsTamperingAndBadLengths) {
  auto keys = Ed25519KeyPair::from_seed(Bytes(32, 7));
  ASSERT_TRUE(keys);
  const auto sig = keys->sign(as_bytes("message"));
  EXPECT_EQ(ed25519_verify(keys->public_key(), as_bytes("messagE"), sig).error(),
            Errc::BadSignature);
  auto flipped = sig;
  flipped[10] ^= 1;
  EXPECT_EQ(ed25519_verify(keys->public_key(), as_bytes("message"), flipped).error(),
            Errc::BadSignature);
  EXPECT_EQ(ed25519_verify(base::ByteSpan(keys->public_key()).first(31), as_bytes("message"), sig)
                .error(),
            Errc::InvalidKeyLength);
  EXPECT_EQ(ed25519_verify(keys->public_key(), as_bytes("message"), base::ByteSpan(sig).first(63))
                .error(),
            Errc::InvalidSignatureLength);
  EXPECT_EQ(Ed25519KeyPair::from_seed(Bytes(31)).error(), Errc::InvalidKeyLength);
}

// S + L verifies under the bare group equation; Go refuses it, and so must we (RFC 8032 §5.1.7).
TEST(CryptoEd25519, VerifyRejectsNonCanonicalScalar) {
  auto keys = Ed25519KeyPair::from_seed(Bytes(32, 9));
  ASSERT_TRUE(keys);
  auto sig = keys->sign(as_bytes("m"));
  const Bytes order = from_hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
  unsigned carry = 0;
  for (std::size_t i = 0; i < 32; ++i) {
    const unsigned sum = sig[32 + i] + order[i] + carry;
    sig[32 + i] = static_cast<base::Byte>(sum);
    carry = sum >> 8;
  }
  ASSERT_EQ(carry, 0u);  // S < 2^253 always, so S + L fits in 256 bits
  EXPECT_EQ(ed25519_verify(keys->public_key(), as_bytes("m"), sig).error(), Errc::BadSignature);
}

}  // namespace
}  // namespace portal::crypto
