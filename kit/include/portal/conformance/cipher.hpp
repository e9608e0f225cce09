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
