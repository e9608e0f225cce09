// SPDX-License-Identifier: Apache-2.0
// cipher-openssl, loaded as a plugin from <build>/lib/portal/plugins and linked statically:
// the published known answers of both algorithms, agreement with cipher-chacha (Crypto++) on the
// v1 frames and on random inputs, and the Aead buffer rules.
#include "openssl_aead.hpp"

#include <gtest/gtest.h>

#include <random>

#include "chacha20_poly1305.hpp"
#include "portal/base/encoding.hpp"
#include "portal/base/random.hpp"
#include "portal/cipher/aead_factory.hpp"
#include "portal/plugin/host.hpp"
#include "portal/secure_channel/secure_channel.hpp"
#include "support/plugins.hpp"
#include "support/vectors.hpp"

namespace portal::cipher {
namespace {

using base::Bytes;
using base::hex_encode;
using test::from_hex;

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

struct Known {
  const char* name;
  const char* key;
  const char* nonce;
  const char* aad;
  const char* plain;
  const char* cipher;
  const char* tag;
};

// AES-256-GCM: test cases 13, 14 and 16 of McGrew and Viega, "The Galois/Counter Mode of
// Operation" (the vectors of NIST SP 800-38D for 256-bit keys and 96-bit IVs).
constexpr Known kGcm[] = {
    {"tc13", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"tc14", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"tc16", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
     "b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b105682"
     "8838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

void check_known(Aead& aead, const Known& k) {
  SCOPED_TRACE(k.name);
  const Bytes nonce = from_hex(k.nonce), aad = from_hex(k.aad), plain = from_hex(k.plain);
  Bytes sealed(plain.size() + 16);
  ASSERT_TRUE(aead.seal(nonce, aad, plain, sealed));
  EXPECT_EQ(hex_encode(base::ByteSpan(sealed).first(plain.size())), k.cipher);
  EXPECT_EQ(hex_encode(base::ByteSpan(sealed).last(16)), k.tag);
  Bytes opened(plain.size());
  ASSERT_TRUE(aead.open(nonce, aad, sealed, opened));
  EXPECT_EQ(opened, plain);
}

TEST_P(OpensslAead, AesGcmKnownAnswers) {
  for (const auto& k : kGcm) {
    auto aead = make("aes-256-gcm", from_hex(k.key));
    ASSERT_TRUE(aead);
    EXPECT_EQ(aead->algorithm(), "aes-256-gcm");
    EXPECT_EQ(aead->key_size(), 32u);
    EXPECT_EQ(aead->nonce_size(), 12u);
    EXPECT_EQ(aead->tag_size(), 16u);
    check_known(*aead, k);
  }
}

// RFC 8439 §2.8.2.
TEST_P(OpensslAead, ChaChaRfc8439Vector) {
  const std::string text =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
      "future, sunscreen would be it.";
  const std::string plain_hex = hex_encode(base::as_bytes(text));
  const Known k{"rfc8439",
                "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
                "070000004041424344454647",
                "50515253c0c1c2c3c4c5c6c7",
                plain_hex.c_str(),
                "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca96712"
                "82fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58"
                "fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116",
                "1ae10b594f09e26a7e902ecbd0600691"};
  auto aead = make("chacha20-poly1305", from_hex(k.key));
  ASSERT_TRUE(aead);
  check_known(*aead, k);
}

// The spec's v1 frames: byte for byte what cipher-chacha produces, so v1 peers can't tell.
TEST_P(OpensslAead, ChaChaSecureFrameVectors) {
  const auto doc = test::load_vectors("secure_frames.json");
  for (const auto& v : doc.at("vectors").as_array()) {
    SCOPED_TRACE(test::str(v, "direction"));
    auto aead = make("chacha20-poly1305", test::hex(v, "key_hex"));
    ASSERT_TRUE(aead);
    const Bytes nonce = test::hex(v, "nonce_hex");
    const Bytes plain = test::hex(v, "plaintext_hex");
    const Bytes frame = test::hex(v, "frame_hex");
    Bytes sealed(plain.size() + 16);
    ASSERT_TRUE(aead->seal(nonce, {}, plain, sealed));
    EXPECT_EQ(hex_encode(sealed), hex_encode(base::ByteSpan(frame).subspan(16)));
  }
}

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

TEST_P(OpensslAead, InPlaceSealAndOpen) {
  for (const char* algorithm : {"chacha20-poly1305", "aes-256-gcm"}) {
    SCOPED_TRACE(algorithm);
    auto aead = make(algorithm, Bytes(32, 0x42));
    ASSERT_TRUE(aead);
    const Bytes nonce(12, 7);
    Bytes plain(1000);
    for (std::size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<base::Byte>(i * 31);
    Bytes disjoint(plain.size() + 16);
    ASSERT_TRUE(aead->seal(nonce, {}, plain, disjoint));
    Bytes buf = plain;
    buf.resize(plain.size() + 16);
    ASSERT_TRUE(aead->seal(nonce, {}, base::ByteSpan(buf).first(plain.size()), buf));
    EXPECT_EQ(buf, disjoint);
    ASSERT_TRUE(aead->open(nonce, {}, buf, base::MutableByteSpan(buf).first(plain.size())));
    EXPECT_EQ(Bytes(buf.begin(), buf.begin() + static_cast<long>(plain.size())), plain);
  }
}

TEST_P(OpensslAead, RejectsBadArguments) {
  EXPECT_EQ(factory_->create("aes-128-gcm", Bytes(16)).error(), Errc::UnknownAlgorithm);
  EXPECT_EQ(factory_->create("chacha20-poly1305", Bytes(31)).error(), Errc::InvalidKeyLength);
  EXPECT_EQ(factory_->create("aes-256-gcm", Bytes(16)).error(), Errc::InvalidKeyLength);
  auto aead = make("aes-256-gcm", Bytes(32, 1));
  ASSERT_TRUE(aead);
  Bytes out(20);
  EXPECT_EQ(aead->seal(Bytes(11), {}, Bytes(4), out).error(), Errc::InvalidNonceLength);
  EXPECT_EQ(aead->seal(Bytes(12), {}, Bytes(5), out).error(), Errc::BufferSizeMismatch);
  Bytes small(3);
  EXPECT_EQ(aead->open(Bytes(12), {}, Bytes(15), small).error(), Errc::BufferSizeMismatch);
  Bytes overlap(40);
  EXPECT_EQ(aead->seal(Bytes(12), {}, base::ByteSpan(overlap).subspan(1, 4),
                       base::MutableByteSpan(overlap).first(20))
                .error(),
            Errc::BufferOverlap);
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
