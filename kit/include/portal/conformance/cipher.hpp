// SPDX-License-Identifier: Apache-2.0
#pragma once

// The cipher conformance suite. This header defines GoogleTest tests (TEST_P): include it in
// exactly one source file of a test program, and instantiate the suite there:
//
//   #include "portal/conformance/cipher.hpp"
//
//   portal::conformance::CipherParams mine() {
//     return {.name = "mine", .plugin = "plugins/my-cipher.so", .algorithm = "my-aead",
//             .vectors = {{.name = "rfc", .key_hex = "...", .nonce_hex = "...",
//                          .aad_hex = "...", .plaintext_hex = "...", .sealed_hex = "..."}}};
//   }
//   PORTAL_CIPHER_CONFORMANCE(Mine, ::testing::Values(mine()));

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "portal/base/bytes.hpp"
#include "portal/base/encoding.hpp"
#include "portal/cipher/aead.hpp"
#include "portal/cipher/aead_factory.hpp"
#include "portal/conformance/common.hpp"

namespace portal::conformance {

/// A known answer: sealing `plaintext` with `key`, `nonce` and `aad` gives `sealed`
/// (ciphertext || tag). All fields are hex (either case); empty means zero bytes.
struct CipherVector {
  std::string name;           ///< shown when the vector fails ("RFC 8439 2.8.2")
  std::string key_hex;        ///< the key
  std::string nonce_hex;      ///< the nonce
  std::string aad_hex;        ///< the associated data
  std::string plaintext_hex;  ///< the plaintext
  std::string sealed_hex;     ///< ciphertext || tag
};

/// How the cipher suite runs one algorithm of a cipher plugin.
struct CipherParams {
  /// The suffix of the test names: letters, digits, '_'.
  std::string name;
  /// The plugin file (.so). It is loaded through plugin::Host with every check a host applies.
  std::filesystem::path plugin;
  /// The algorithm under test: one of the names the plugin provides.
  std::string algorithm;
  /// Known answers, at least one. The key and nonce sizes the cipher must report and accept are
  /// those of the vectors.
  std::vector<CipherVector> vectors;
};

/// Prints a CipherParams in test failure messages.
inline void PrintTo(const CipherParams& p, std::ostream* os) {
  *os << p.name << " (" << p.plugin.filename().string() << ", " << p.algorithm << ")";
}

/// The cipher suite: known answers, round trips, tag failures (ciphertext, tag, AAD, nonce,
/// key), key and nonce sizes, buffer rules and in-place operation. Instantiate with
/// PORTAL_CIPHER_CONFORMANCE.
class CipherConformance : public ::testing::TestWithParam<CipherParams> {
 protected:
  /// The parameter of the running test.
  const CipherParams& params() const { return GetParam(); }

  /// Loads the plugin and gets its AEAD factory; fails the test if the host refuses it.
  void SetUp() override {
    std::string problem;
    auto loaded = load_plugin(params().plugin, problem);
    ASSERT_TRUE(loaded) << problem;
    loaded_ = *loaded;
    ASSERT_EQ(loaded_.plugin->kind(), plugin::Kind::Cipher)
        << loaded_.plugin->id() << " is not a cipher plugin";
    auto p = loaded_.host->find_provider(plugin::Kind::Cipher, params().algorithm);
    ASSERT_TRUE(p) << loaded_.plugin->id() << " does not provide " << params().algorithm;
    auto f = (*p)->factory<cipher::AeadFactory>();
    ASSERT_TRUE(f) << f.error().message();
    factory_ = *f;
    ASSERT_FALSE(params().vectors.empty()) << "CipherParams::vectors: give at least one vector";
    key_size_ = hex(params().vectors.front().key_hex).size();
    nonce_size_ = hex(params().vectors.front().nonce_hex).size();
  }

  /// Decodes hex; a bad string is a test failure (and yields no bytes).
  static base::Bytes hex(const std::string& text) {
    auto b = base::hex_decode(text);
    EXPECT_TRUE(b) << "bad hex in a CipherVector: " << text.substr(0, 40);
    return b ? *b : base::Bytes{};
  }

  /// A cipher for the algorithm keyed with `key`; null (and a failure) on error.
  std::unique_ptr<cipher::Aead> make(base::ByteSpan key) {
    auto a = factory_->create(params().algorithm, key);
    if (!ok(a, "create(" + params().algorithm + ")")) return nullptr;
    return std::move(*a);
  }

  LoadedPlugin loaded_;                           ///< the plugin under test
  std::shared_ptr<cipher::AeadFactory> factory_;  ///< its factory
  std::size_t key_size_ = 0;                      ///< the vectors' key size
  std::size_t nonce_size_ = 0;                    ///< the vectors' nonce size
};

}  // namespace portal::conformance

/// Instantiates the cipher suite under `prefix` for the CipherParams of a GoogleTest generator,
/// e.g. PORTAL_CIPHER_CONFORMANCE(Mine, ::testing::Values(params)).
#define PORTAL_CIPHER_CONFORMANCE(prefix, ...)                        \
  using CipherConformance = ::portal::conformance::CipherConformance; \
  INSTANTIATE_TEST_SUITE_P(prefix, CipherConformance, __VA_ARGS__,    \
                           ::portal::conformance::ParamName{})

/// @cond PORTAL_CONFORMANCE_TESTS
// The tests.
namespace portal::conformance {

// Every known answer: the cipher reports the vectors' key, nonce and tag sizes, seal gives the
// expected bytes and open gives the plaintext back.
TEST_P(CipherConformance, KnownAnswers) {
  for (const auto& v : params().vectors) {
    SCOPED_TRACE(v.name);
    const auto key = hex(v.key_hex), nonce = hex(v.nonce_hex), aad = hex(v.aad_hex);
    const auto plain = hex(v.plaintext_hex), sealed = hex(v.sealed_hex);
    ASSERT_GE(sealed.size(), plain.size())
        << "the vector's sealed text is shorter than its plaintext";
    auto aead = make(key);
    ASSERT_NE(aead, nullptr);
    EXPECT_EQ(aead->algorithm(), params().algorithm);
    EXPECT_EQ(aead->key_size(), key.size());
    EXPECT_EQ(aead->nonce_size(), nonce.size());
    EXPECT_EQ(aead->tag_size(), sealed.size() - plain.size());
    if (aead->tag_size() != sealed.size() - plain.size()) continue;
    base::Bytes out(sealed.size());
    ASSERT_TRUE(ok(aead->seal(nonce, aad, plain, out), "seal"));
    EXPECT_EQ(base::hex_encode(out), base::hex_encode(sealed));
    base::Bytes back(plain.size());
    ASSERT_TRUE(ok(aead->open(nonce, aad, sealed, back), "open"));
    EXPECT_EQ(base::hex_encode(back), base::hex_encode(plain));
  }
}

// Messages of many sizes (0 to 64 KiB + 1, around block boundaries) with associated data of
// several sizes come back intact; sealing is deterministic; another nonce or key gives other
// bytes; a cipher object can be used again and again.
TEST_P(CipherConformance, RoundTrip) {
  base::Bytes key(key_size_);
  fill_pattern(1, 0, key);
  auto aead = make(key);
  ASSERT_NE(aead, nullptr);
  base::Bytes key2 = key;
  key2[0] ^= 1;
  auto other_key = make(key2);
  ASSERT_NE(other_key, nullptr);
  const std::size_t tag = aead->tag_size();
  std::uint64_t seed = 10;
  for (const std::size_t size :
       {0u, 1u, 15u, 16u, 17u, 63u, 64u, 65u, 255u, 256u, 1000u, 4096u, 65537u}) {
    for (const std::size_t aad_size : {0u, 1u, 13u, 100u}) {
      SCOPED_TRACE("plaintext " + std::to_string(size) + " bytes, aad " + std::to_string(aad_size));
      base::Bytes nonce(nonce_size_), plain(size), aad(aad_size);
      fill_pattern(++seed, 0, nonce);
      fill_pattern(++seed, 0, plain);
      fill_pattern(++seed, 0, aad);
      base::Bytes sealed(size + tag), again(size + tag);
      ASSERT_TRUE(ok(aead->seal(nonce, aad, plain, sealed), "seal"));
      ASSERT_TRUE(ok(aead->seal(nonce, aad, plain, again), "seal (again)"));
      EXPECT_EQ(sealed, again) << "sealing the same input twice gave different bytes";
      if (size >= 16) {
        EXPECT_NE(base::Bytes(sealed.begin(), sealed.begin() + static_cast<std::ptrdiff_t>(size)),
                  plain)
            << "the ciphertext is the plaintext";
      }
      base::Bytes nonce2 = nonce;
      nonce2.back() ^= 0x80;
      ASSERT_TRUE(ok(aead->seal(nonce2, aad, plain, again), "seal (other nonce)"));
      EXPECT_NE(sealed, again) << "another nonce gave the same bytes";
      ASSERT_TRUE(ok(other_key->seal(nonce, aad, plain, again), "seal (other key)"));
      EXPECT_NE(sealed, again) << "another key gave the same bytes";
      base::Bytes back(size);
      ASSERT_TRUE(ok(aead->open(nonce, aad, sealed, back), "open"));
      EXPECT_EQ(back, plain);
    }
  }
}

// A flipped bit anywhere in the ciphertext, the tag, the associated data or the nonce, a wrong
// key, or associated data cut short: open fails with AuthenticationFailed and releases nothing
// (the output is zeroed).
TEST_P(CipherConformance, TagFailure) {
  base::Bytes key(key_size_), nonce(nonce_size_), plain(100), aad(20);
  fill_pattern(2, 0, key);
  fill_pattern(3, 0, nonce);
  fill_pattern(4, 0, plain);
  fill_pattern(5, 0, aad);
  auto aead = make(key);
  ASSERT_NE(aead, nullptr);
  base::Bytes sealed(plain.size() + aead->tag_size());
  ASSERT_TRUE(ok(aead->seal(nonce, aad, plain, sealed), "seal"));
  auto expect_refused = [&](const base::Bytes& n, const base::Bytes& a, const base::Bytes& s,
                            cipher::Aead& cipher, const std::string& what) {
    base::Bytes out(plain.size(), 0xee);
    auto r = cipher.open(n, a, s, out);
    EXPECT_FALSE(r) << what << ": open succeeded";
    if (!r) {
      EXPECT_EQ(r.error(), cipher::Errc::AuthenticationFailed)
          << what << ": " << r.error().message();
    }
    EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](base::Byte b) { return b == 0; }))
        << what << ": unauthenticated output released (the output is not zeroed)";
  };
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    base::Bytes bad = sealed;
    bad[i] ^= static_cast<base::Byte>(1u << (i % 8));
    expect_refused(nonce, aad, bad, *aead,
                   (i < plain.size() ? "ciphertext byte " : "tag byte ") + std::to_string(i));
  }
  for (std::size_t i = 0; i < aad.size(); ++i) {
    base::Bytes bad = aad;
    bad[i] ^= static_cast<base::Byte>(1u << (i % 8));
    expect_refused(nonce, bad, sealed, *aead, "aad byte " + std::to_string(i));
  }
  for (std::size_t i = 0; i < nonce.size(); ++i) {
    base::Bytes bad = nonce;
    bad[i] ^= 0x01;
    expect_refused(bad, aad, sealed, *aead, "nonce byte " + std::to_string(i));
  }
  expect_refused(nonce, base::Bytes(aad.begin(), aad.end() - 1), sealed, *aead, "aad cut short");
  expect_refused(nonce, {}, sealed, *aead, "aad missing");
  base::Bytes key2 = key;
  key2.back() ^= 0x40;
  auto other = make(key2);
  ASSERT_NE(other, nullptr);
  expect_refused(nonce, aad, sealed, *other, "another key");
  // A tag alone (empty plaintext) is checked too.
  base::Bytes tag_only(aead->tag_size());
  ASSERT_TRUE(ok(aead->seal(nonce, aad, {}, tag_only), "seal (empty)"));
  tag_only[0] ^= 1;
  base::Bytes none;
  auto r = aead->open(nonce, aad, tag_only, none);
  EXPECT_FALSE(r) << "a flipped tag of an empty message verified";
}

// Keys and nonces of any other size are refused with InvalidKeyLength / InvalidNonceLength;
// outputs of the wrong size with BufferSizeMismatch; sealed text shorter than a tag with an
// error; an unknown algorithm with UnknownAlgorithm. Nothing crashes.
TEST_P(CipherConformance, SizesAndArguments) {
  for (const std::size_t n : {std::size_t{0}, key_size_ - 1, key_size_ + 1, 2 * key_size_}) {
    auto a = factory_->create(params().algorithm, base::Bytes(n, 1));
    EXPECT_FALSE(a) << "a " << n << "-byte key was accepted";
    if (!a) {
      EXPECT_EQ(a.error(), cipher::Errc::InvalidKeyLength) << n << ": " << a.error().message();
    }
  }
  auto unknown = factory_->create("conformance-no-such-algorithm", base::Bytes(key_size_, 1));
  EXPECT_FALSE(unknown);
  if (!unknown) {
    EXPECT_EQ(unknown.error(), cipher::Errc::UnknownAlgorithm) << unknown.error().message();
  }
  auto aead = make(base::Bytes(key_size_, 1));
  ASSERT_NE(aead, nullptr);
  const std::size_t tag = aead->tag_size();
  const base::Bytes plain(10, 2);
  base::Bytes sealed(plain.size() + tag);
  ASSERT_TRUE(ok(aead->seal(base::Bytes(nonce_size_, 3), {}, plain, sealed), "seal"));
  for (const std::size_t n : {std::size_t{0}, nonce_size_ - 1, nonce_size_ + 1}) {
    base::Bytes out(plain.size() + tag);
    auto s = aead->seal(base::Bytes(n, 3), {}, plain, out);
    EXPECT_FALSE(s) << "seal accepted a " << n << "-byte nonce";
    if (!s) {
      EXPECT_EQ(s.error(), cipher::Errc::InvalidNonceLength) << s.error().message();
    }
    base::Bytes back(plain.size());
    auto o = aead->open(base::Bytes(n, 3), {}, sealed, back);
    EXPECT_FALSE(o) << "open accepted a " << n << "-byte nonce";
    if (!o) {
      EXPECT_EQ(o.error(), cipher::Errc::InvalidNonceLength) << o.error().message();
    }
  }
  const base::Bytes nonce(nonce_size_, 3);
  for (const std::size_t n : {plain.size(), plain.size() + tag - 1, plain.size() + tag + 1}) {
    base::Bytes out(n);
    auto s = aead->seal(nonce, {}, plain, out);
    EXPECT_FALSE(s) << "seal wrote into " << n << " bytes";
    if (!s) {
      EXPECT_EQ(s.error(), cipher::Errc::BufferSizeMismatch) << s.error().message();
    }
  }
  for (const std::size_t n : {plain.size() - 1, plain.size() + 1, sealed.size()}) {
    base::Bytes out(n);
    auto o = aead->open(nonce, {}, sealed, out);
    EXPECT_FALSE(o) << "open wrote into " << n << " bytes";
    if (!o) {
      EXPECT_EQ(o.error(), cipher::Errc::BufferSizeMismatch) << o.error().message();
    }
  }
  for (std::size_t n = 0; n < tag; ++n) {
    base::Bytes none;
    auto o = aead->open(nonce, {}, base::Bytes(n, 4), none);
    EXPECT_FALSE(o) << "open accepted " << n << " bytes, less than a tag";
  }
}

// In place (the output is the input's memory): the same bytes as out of place both ways; a
// tampered buffer fails and is zeroed; a partial overlap is BufferOverlap.
TEST_P(CipherConformance, InPlace) {
  base::Bytes key(key_size_), nonce(nonce_size_), plain(1000), aad(7);
  fill_pattern(6, 0, key);
  fill_pattern(7, 0, nonce);
  fill_pattern(8, 0, plain);
  fill_pattern(9, 0, aad);
  auto aead = make(key);
  ASSERT_NE(aead, nullptr);
  const std::size_t tag = aead->tag_size();
  base::Bytes apart(plain.size() + tag);
  ASSERT_TRUE(ok(aead->seal(nonce, aad, plain, apart), "seal"));

  base::Bytes buf = plain;
  buf.resize(plain.size() + tag);
  ASSERT_TRUE(
      ok(aead->seal(nonce, aad, base::ByteSpan(buf).first(plain.size()), buf), "seal in place"));
  EXPECT_EQ(buf, apart) << "sealing in place gave other bytes";
  ASSERT_TRUE(ok(aead->open(nonce, aad, buf, base::MutableByteSpan(buf).first(plain.size())),
                 "open in place"));
  EXPECT_EQ(base::Bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(plain.size())),
            plain);

  base::Bytes bad = apart;
  bad[500] ^= 4;
  auto r = aead->open(nonce, aad, bad, base::MutableByteSpan(bad).first(plain.size()));
  EXPECT_FALSE(r) << "a tampered buffer opened in place";
  EXPECT_TRUE(std::all_of(bad.begin(), bad.begin() + static_cast<std::ptrdiff_t>(plain.size()),
                          [](base::Byte b) { return b == 0; }))
      << "unauthenticated plaintext released in place (the buffer is not zeroed)";

  base::Bytes shifted(plain.size() + tag + 1);
  std::copy(plain.begin(), plain.end(), shifted.begin());
  auto o = aead->seal(nonce, aad, base::ByteSpan(shifted).first(plain.size()),
                      base::MutableByteSpan(shifted).subspan(1, plain.size() + tag));
  EXPECT_FALSE(o) << "seal into a partly overlapping buffer";
  if (!o) {
    EXPECT_EQ(o.error(), cipher::Errc::BufferOverlap) << o.error().message();
  }
}

}  // namespace portal::conformance
/// @endcond
