// SPDX-License-Identifier: Apache-2.0
#include "portal/identity/credential.hpp"

#include <gtest/gtest.h>

#include "portal/base/encoding.hpp"
#include "portal/crypto/ed25519.hpp"
#include "support/vectors.hpp"

namespace portal::identity {
namespace {

using base::Bytes;
using base::hex_encode;

TEST(IdentityCredential, FromEveryVectorSeed) {
  const auto doc = test::load_vectors("identity.json");
  for (const auto& v : doc.at("vectors").as_array()) {
    SCOPED_TRACE(test::str(v, "label"));
    auto cred = Credential::from_seed(test::hex(v, "seed_hex"));
    ASSERT_TRUE(cred);
    EXPECT_EQ(cred->id(), test::str(v, "id"));
    EXPECT_EQ(hex_encode(cred->public_key()), test::str(v, "public_key_hex"));
    EXPECT_EQ(hex_encode(cred->go_private_key().span()), test::str(v, "go_private_key_hex"));
    EXPECT_EQ(hex_encode(cred->sign(base::as_bytes("portal"))),
              test::str(v, "signature_over_ascii_portal_hex"));
    EXPECT_TRUE(validate(cred->identity()));
    EXPECT_EQ(hex_encode(encode_identity(cred->identity())), test::str(v, "identity_protobuf_hex"));
  }
}

TEST(IdentityCredential, GenerateDrawsThirtyTwoBytes) {
  const Bytes seed =
      test::from_hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
  base::ReplayRandom random(seed);
  auto cred = Credential::generate(random);
  ASSERT_TRUE(cred);
  EXPECT_EQ(cred->id(), "OREI3BGAI3ZBNJ6FBEOZANHYEE");
  EXPECT_EQ(random.remaining(), 0u);
}

TEST(IdentityCredential, GenerateReportsRandomFailure) {
  base::ReplayRandom random(Bytes(10));
  auto cred = Credential::generate(random);
  ASSERT_FALSE(cred);
  EXPECT_EQ(cred.error(), base::Errc::RandomSourceExhausted);
}

TEST(IdentityCredential, GeneratedIdentitiesDiffer) {
  auto a = Credential::generate(base::OsRandom::instance());
  auto b = Credential::generate(base::OsRandom::instance());
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->id(), b->id());
  EXPECT_TRUE(is_well_formed_id(a->id()));
}

TEST(IdentityCredential, RejectsWrongSeedLength) {
  EXPECT_EQ(Credential::from_seed(Bytes(31)).error(), Errc::InvalidSeed);
  EXPECT_EQ(Credential::from_seed(Bytes(64)).error(), Errc::InvalidSeed);
}

}  // namespace
}  // namespace portal::identity
