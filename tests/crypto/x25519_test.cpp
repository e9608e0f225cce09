// SPDX-License-Identifier: Apache-2.0
#include "portal/crypto/x25519.hpp"

#include <gtest/gtest.h>

#include "portal/base/encoding.hpp"
#include "portal/crypto/errors.hpp"
#include "support/vectors.hpp"

namespace portal::crypto {
namespace {

using base::Bytes;
using base::hex_encode;
using test::from_hex;

X25519PrivateKey priv_from_hex(std::string_view h) { return X25519PrivateKey::from(from_hex(h)); }

TEST(CryptoX25519, Rfc7748DiffieHellman) {
  const auto alice =
      priv_from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const auto bob =
      priv_from_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  const auto alice_pub = x25519_public_key(alice);
  const auto bob_pub = x25519_public_key(bob);
  EXPECT_EQ(hex_encode(alice_pub),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(hex_encode(bob_pub),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  auto k1 = x25519(alice, bob_pub);
  auto k2 = x25519(bob, alice_pub);
  ASSERT_TRUE(k1);
  ASSERT_TRUE(k2);
  EXPECT_EQ(hex_encode(k1->span()),
            "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  EXPECT_EQ(hex_encode(k2->span()), hex_encode(k1->span()));
}

// The ephemeral keys of handshake.json: raw (unclamped) random bytes as private keys.
TEST(CryptoX25519, HandshakeVectorEphemerals) {
  const auto doc = test::load_vectors("handshake.json");
  const auto& in = doc.at("inputs");
  const auto& out = doc.at("results");
  const auto client = X25519PrivateKey::from(test::hex(in, "client_ephemeral_private_hex"));
  const auto server = X25519PrivateKey::from(test::hex(in, "server_ephemeral_private_hex"));
  EXPECT_EQ(hex_encode(x25519_public_key(client)), test::str(out, "client_ephemeral_public_hex"));
  EXPECT_EQ(hex_encode(x25519_public_key(server)), test::str(out, "server_ephemeral_public_hex"));
  // Clamping is internal: the clamped scalar gives the same public key.
  const auto clamped =
      X25519PrivateKey::from(test::hex(in, "client_ephemeral_private_clamped_hex"));
  EXPECT_EQ(x25519_public_key(clamped), x25519_public_key(client));
  auto shared = x25519(client, test::hex(out, "server_ephemeral_public_hex"));
  ASSERT_TRUE(shared);
  EXPECT_EQ(hex_encode(shared->span()), test::str(out, "shared_secret_hex"));
}

TEST(CryptoX25519, RejectsLowOrderPointsAndBadLengths) {
  const auto priv = X25519PrivateKey::from(Bytes(32, 0x42));
  EXPECT_EQ(x25519(priv, Bytes(32, 0)).error(), Errc::LowOrderPoint);
  // The point of order 8 from RFC 7748 / Go's crypto/ecdh tests.
  EXPECT_EQ(
      x25519(priv, from_hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"))
          .error(),
      Errc::LowOrderPoint);
  EXPECT_EQ(x25519(priv, Bytes(31, 9)).error(), Errc::InvalidKeyLength);
}

}  // namespace
}  // namespace portal::crypto
