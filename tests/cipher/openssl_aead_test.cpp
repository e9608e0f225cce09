// SPDX-License-Identifier: Apache-2.0
// cipher-openssl, loaded as a plugin from <build>/lib/portal/plugins and linked statically:
// agreement with cipher-chacha (Crypto++) on random inputs, tampering of every part, and the v1
// channel's refusal of AES-GCM. Known answers, sizes and in-place use are the conformance kit's
// (tests/conformance/cipher_conformance_test.cpp).
#include "openssl_aead.hpp"

#include <gtest/gtest.h>

#include <random>

#include "chacha20_poly1305.hpp"
#include "portal/base/random.hpp"
#include "portal/cipher/aead_factory.hpp"
#include "portal/plugin/host.hpp"
#include "portal/secure_channel/secure_channel.hpp"
#include "support/plugins.hpp"

namespace portal::cipher {
namespace {

using base::Bytes;

enum class Linkage { Plugin, Static };

class OpensslAead : public ::testing::TestWithParam<Linkage> {
 protected:
  void SetUp() override {
    if (GetParam() == Linkage::Static) {
      factory_ = std::shared_ptr<AeadFactory>(&plugins::openssl::factory(), [](AeadFactory*) {});
      return;
    }
    host_ = test::load_build_plugins();
    auto p = host_->find("portal.cipher.openssl");
    ASSERT_TRUE(p);
    EXPECT_TRUE((*p)->provides("chacha20-poly1305"));
    EXPECT_TRUE((*p)->provides("aes-256-gcm"));
    auto f = (*p)->factory<AeadFactory>();
    ASSERT_TRUE(f);
    factory_ = *f;
  }

  std::unique_ptr<Aead> make(std::string_view algorithm, const Bytes& key) {
    auto a = factory_->create(algorithm, key);
    EXPECT_TRUE(a) << algorithm;
    return a ? std::move(*a) : nullptr;
  }

  std::unique_ptr<plugin::Host> host_;
  std::shared_ptr<AeadFactory> factory_;
};

// Random keys, nonces, associated data and sizes (block and piece edges included): each
// implementation opens what the other sealed, and both produce the same bytes.
TEST_P(OpensslAead, ChaChaAgreesWithCryptoPP) {
  std::mt19937 rng(20261130);
  auto random_bytes = [&](std::size_t n) {
    Bytes b(n);
    for (auto& x : b) x = static_cast<base::Byte>(rng());
    return b;
  };
  for (std::size_t size : {0u, 1u, 15u, 16u, 63u, 64u, 65u, 1000u, 16384u, 65536u, 70001u}) {
    SCOPED_TRACE(size);
    const Bytes key = random_bytes(32), nonce = random_bytes(12), aad = random_bytes(size % 29);
    const Bytes plain = random_bytes(size);
    auto ours = make("chacha20-poly1305", key);
    auto theirs = plugins::chacha::factory().create("chacha20-poly1305", key);
    ASSERT_TRUE(ours);
    ASSERT_TRUE(theirs);
    Bytes a(size + 16), b(size + 16);
    ASSERT_TRUE(ours->seal(nonce, aad, plain, a));
    ASSERT_TRUE((*theirs)->seal(nonce, aad, plain, b));
    EXPECT_EQ(a, b);
    Bytes back(size);
    ASSERT_TRUE((*theirs)->open(nonce, aad, a, back));
    EXPECT_EQ(back, plain);
    ASSERT_TRUE(ours->open(nonce, aad, b, back));
    EXPECT_EQ(back, plain);
  }
}

TEST_P(OpensslAead, TamperingFailsAndReleasesNothing) {
  for (const char* algorithm : {"chacha20-poly1305", "aes-256-gcm"}) {
    SCOPED_TRACE(algorithm);
    auto aead = make(algorithm, Bytes(32, 9));
    ASSERT_TRUE(aead);
    const Bytes nonce(12, 3), aad{1, 2, 3}, plain(100, 0x5a);
    Bytes sealed(plain.size() + 16);
    ASSERT_TRUE(aead->seal(nonce, aad, plain, sealed));
    // A flipped bit in the ciphertext, in the tag, in the aad, and a wrong nonce.
    for (int what = 0; what < 4; ++what) {
      Bytes s = sealed, a = aad, n = nonce;
      if (what == 0) s[10] ^= 1;
      if (what == 1) s.back() ^= 0x80;
      if (what == 2) a[0] ^= 1;
      if (what == 3) n[11] ^= 1;
      Bytes out(plain.size(), 0xee);
      auto r = aead->open(n, a, s, out);
      ASSERT_FALSE(r) << what;
      EXPECT_EQ(r.error(), Errc::AuthenticationFailed);
      EXPECT_EQ(out, Bytes(out.size(), 0)) << what;
    }
    // The object still works after failures (its context is reset by the next nonce).
    Bytes out(plain.size());
    ASSERT_TRUE(aead->open(nonce, aad, sealed, out));
    EXPECT_EQ(out, plain);
  }
}

INSTANTIATE_TEST_SUITE_P(Cipher, OpensslAead, ::testing::Values(Linkage::Plugin, Linkage::Static),
                         [](const ::testing::TestParamInfo<Linkage>& p) {
                           return p.param == Linkage::Plugin ? std::string("Plugin")
                                                             : std::string("Static");
                         });

std::shared_ptr<Aead> chacha(const Bytes& key) {
  auto a = plugins::chacha::factory().create("chacha20-poly1305", key);
  EXPECT_TRUE(a);
  return std::shared_ptr<Aead>(std::move(*a));
}

// AES-256-GCM (cipher-openssl) has v1's sizes but is unsafe with v1's random nonces: refused,
// for either direction, while ChaCha20-Poly1305 from either implementation is accepted.
TEST(OpensslAeadOnTheV1Channel, RefusesAlgorithmsUnsafeWithRandomNonces) {
  base::ReplayRandom random(Bytes(48));
  auto gcm = plugins::openssl::factory().create("aes-256-gcm", Bytes(32, 3));
  ASSERT_TRUE(gcm);
  std::shared_ptr<Aead> g(std::move(*gcm));
  EXPECT_EQ(secure_channel::SecureChannel::create(g, chacha(Bytes(32, 2)), random).error(),
            secure_channel::Errc::InvalidOptions);
  EXPECT_EQ(secure_channel::SecureChannel::create(chacha(Bytes(32, 1)), g, random).error(),
            secure_channel::Errc::InvalidOptions);
  auto fast = plugins::openssl::factory().create("chacha20-poly1305", Bytes(32, 4));
  ASSERT_TRUE(fast);
  EXPECT_TRUE(secure_channel::SecureChannel::create(std::shared_ptr<Aead>(std::move(*fast)),
                                                    chacha(Bytes(32, 2)), random));
}

}  // namespace
}  // namespace portal::cipher
