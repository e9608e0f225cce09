// SPDX-License-Identifier: Apache-2.0
// cipher-chacha, tested twice: loaded as a plugin from <build>/lib/portal/plugins, and linked
// statically (plugins/cipher-chacha/chacha20_poly1305.hpp).
#include "chacha20_poly1305.hpp"

#include <gtest/gtest.h>

#include "portal/base/encoding.hpp"
#include "portal/cipher/aead_factory.hpp"
#include "portal/plugin/host.hpp"
#include "support/plugins.hpp"
#include "support/vectors.hpp"

namespace portal::cipher {
namespace {

using base::Bytes;
using base::hex_encode;
using test::from_hex;

enum class Linkage { Plugin, Static };

class ChaCha20Poly1305 : public ::testing::TestWithParam<Linkage> {
 protected:
  void SetUp() override {
    if (GetParam() == Linkage::Static) {
      factory_ = std::shared_ptr<AeadFactory>(&plugins::chacha::factory(), [](AeadFactory*) {});
      return;
    }
    host_ = test::load_build_plugins();
    auto p = host_->find_provider(plugin::Kind::Cipher, "chacha20-poly1305");
    ASSERT_TRUE(p);
    EXPECT_EQ((*p)->id(), "portal.cipher.chacha20-poly1305");
    auto f = (*p)->factory<AeadFactory>();
    ASSERT_TRUE(f);
    factory_ = *f;
  }

  std::unique_ptr<Aead> make(const Bytes& key) {
    auto a = factory_->create("chacha20-poly1305", key);
    EXPECT_TRUE(a);
    return a ? std::move(*a) : nullptr;
  }

  std::unique_ptr<plugin::Host> host_;
  std::shared_ptr<AeadFactory> factory_;
};

// RFC 8439 §2.8.2.
TEST_P(ChaCha20Poly1305, Rfc8439AeadVector) {
  auto aead = make(from_hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"));
  ASSERT_TRUE(aead);
  EXPECT_EQ(aead->key_size(), 32u);
  EXPECT_EQ(aead->nonce_size(), 12u);
  EXPECT_EQ(aead->tag_size(), 16u);
  const Bytes nonce = from_hex("070000004041424344454647");
  const Bytes aad = from_hex("50515253c0c1c2c3c4c5c6c7");
  const std::string text =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
      "future, sunscreen would be it.";
  const std::string expected_ct =
      "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da"
      "92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585"
      "808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116";
  const std::string expected_tag = "1ae10b594f09e26a7e902ecbd0600691";

  Bytes sealed(text.size() + 16);
  ASSERT_TRUE(aead->seal(nonce, aad, base::as_bytes(text), sealed));
  EXPECT_EQ(hex_encode(base::ByteSpan(sealed).first(text.size())), expected_ct);
  EXPECT_EQ(hex_encode(base::ByteSpan(sealed).last(16)), expected_tag);

  Bytes opened(text.size());
  ASSERT_TRUE(aead->open(nonce, aad, sealed, opened));
  EXPECT_EQ(base::as_chars(opened), text);
}

// Every frame of secure_frames.json: seal reproduces the wire bytes, open recovers the text.
TEST_P(ChaCha20Poly1305, SecureFrameVectors) {
  const auto doc = test::load_vectors("secure_frames.json");
  const auto& vectors = doc.at("vectors").as_array();
  ASSERT_EQ(vectors.size(), 4u);
  for (const auto& v : vectors) {
    SCOPED_TRACE(test::str(v, "direction"));
    auto aead = make(test::hex(v, "key_hex"));
    ASSERT_TRUE(aead);
    const Bytes nonce = test::hex(v, "nonce_hex");
    const Bytes plain = test::hex(v, "plaintext_hex");
    const Bytes frame = test::hex(v, "frame_hex");
    // portal-v1 §9.1: len(4) || nonce(12) || ciphertext || tag, no associated data.
    ASSERT_EQ(frame.size(), 4 + 12 + plain.size() + 16);
    EXPECT_EQ(base::load_be32(frame.data()), v.at("length_field").to_number<std::uint32_t>());
    Bytes sealed(plain.size() + 16);
    ASSERT_TRUE(aead->seal(nonce, {}, plain, sealed));
    Bytes wire(4);
    base::store_be32(wire.data(), static_cast<std::uint32_t>(12 + sealed.size()));
    wire.insert(wire.end(), nonce.begin(), nonce.end());
    wire.insert(wire.end(), sealed.begin(), sealed.end());
    EXPECT_EQ(hex_encode(wire), test::str(v, "frame_hex"));

    Bytes opened(plain.size());
    ASSERT_TRUE(aead->open(base::ByteSpan(frame).subspan(4, 12), {},
                           base::ByteSpan(frame).subspan(16), opened));
    EXPECT_EQ(opened, plain);
  }
}

// The negative frames that concern the cipher: a flipped tag and a reflected frame.
TEST_P(ChaCha20Poly1305, SecureFrameNegativeCases) {
  const auto doc = test::load_vectors("secure_frames.json");
  int checked = 0;
  for (const auto& c : doc.at("negative_cases").as_array()) {
    if (test::str(c, "expected") != "decryption failure") continue;
    SCOPED_TRACE(test::str(c, "case"));
    auto aead = make(test::hex(c, "key_hex"));
    ASSERT_TRUE(aead);
    const Bytes frame = test::hex(c, "frame_hex");
    Bytes out(frame.size() - 4 - 12 - 16, 0xee);
    auto r = aead->open(base::ByteSpan(frame).subspan(4, 12), {}, base::ByteSpan(frame).subspan(16),
                        out);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), Errc::AuthenticationFailed);
    EXPECT_EQ(out, Bytes(out.size(), 0));  // nothing unauthenticated is released
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

TEST_P(ChaCha20Poly1305, InPlaceSealAndOpen) {
  auto aead = make(Bytes(32, 0x42));
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

TEST_P(ChaCha20Poly1305, RejectsBadArguments) {
  EXPECT_EQ(factory_->create("aes-256-gcm", Bytes(32)).error(), Errc::UnknownAlgorithm);
  EXPECT_EQ(factory_->create("chacha20-poly1305", Bytes(31)).error(), Errc::InvalidKeyLength);
  auto aead = make(Bytes(32, 1));
  ASSERT_TRUE(aead);
  Bytes out(20);
  EXPECT_EQ(aead->seal(Bytes(11), {}, Bytes(4), out).error(), Errc::InvalidNonceLength);
  EXPECT_EQ(aead->seal(Bytes(12), {}, Bytes(5), out).error(), Errc::BufferSizeMismatch);
  Bytes small(3);
  EXPECT_EQ(aead->open(Bytes(12), {}, Bytes(15), small).error(), Errc::BufferSizeMismatch);
  // Wrong key fails authentication.
  ASSERT_TRUE(aead->seal(Bytes(12), {}, Bytes(4), out));
  auto other = make(Bytes(32, 2));
  Bytes back(4);
  EXPECT_EQ(other->open(Bytes(12), {}, out, back).error(), Errc::AuthenticationFailed);
}

INSTANTIATE_TEST_SUITE_P(Cipher, ChaCha20Poly1305,
                         ::testing::Values(Linkage::Plugin, Linkage::Static),
                         [](const ::testing::TestParamInfo<Linkage>& p) {
                           return p.param == Linkage::Plugin ? std::string("Plugin")
                                                             : std::string("Static");
                         });

}  // namespace
}  // namespace portal::cipher
