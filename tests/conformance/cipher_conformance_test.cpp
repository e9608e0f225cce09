// SPDX-License-Identifier: Apache-2.0
// The cipher conformance suite (kit/) on the shipped cipher plugins, loaded from the build tree's
// plugin folder: ChaCha20-Poly1305 from cipher-chacha (Crypto++) and cipher-openssl, with the
// RFC 8439 AEAD vector and every frame of secure_frames.json as known answers, and cipher-openssl's
// AES-256-GCM with test cases 13, 14 and 16 of McGrew and Viega (NIST SP 800-38D).
#include "portal/conformance/cipher.hpp"

#include <string>
#include <vector>

#include "support/vectors.hpp"

namespace {

using portal::conformance::CipherParams;
using portal::conformance::CipherVector;

CipherParams chacha(const char* name, const char* file) {
  CipherParams p;
  p.name = name;
  p.plugin = std::filesystem::path(PORTAL_BUILD_PLUGIN_DIR) / file;
  p.algorithm = "chacha20-poly1305";
  // RFC 8439 §2.8.2.
  p.vectors.push_back(CipherVector{
      "RFC 8439 2.8.2", "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
      "070000004041424344454647", "50515253c0c1c2c3c4c5c6c7",
      "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a204966"
      "204920636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f722074686520667574"
      "7572652c2073756e73637265656e20776f756c642062652069742e",
      "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69"
      "da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad6759"
      "45585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b61161ae10b594f09e26a7e902ecbd0600691"});
  // portal-v1 §9.1 frames: len(4) || nonce(12) || ciphertext || tag, no associated data.
  const auto doc = portal::test::load_vectors("secure_frames.json");
  for (const auto& v : doc.at("vectors").as_array()) {
    const std::string frame = portal::test::str(v, "frame_hex");
    p.vectors.push_back(
        CipherVector{"secure_frames.json " + portal::test::str(v, "direction"),
                     portal::test::str(v, "key_hex"), portal::test::str(v, "nonce_hex"), "",
                     portal::test::str(v, "plaintext_hex"), frame.substr(2 * (4 + 12))});
  }
  return p;
}

CipherParams aes_gcm() {
  CipherParams p;
  p.name = "openssl_aes_256_gcm";
  p.plugin = std::filesystem::path(PORTAL_BUILD_PLUGIN_DIR) / "portal-cipher-openssl.so";
  p.algorithm = "aes-256-gcm";
  const std::string zero_key(64, '0'), zero_nonce(24, '0');
  p.vectors.push_back(CipherVector{"GCM test case 13", zero_key, zero_nonce, "", "",
                                   "530f8afbc74536b9a963b4f1c4cb738b"});
  p.vectors.push_back(
      CipherVector{"GCM test case 14", zero_key, zero_nonce, "", "00000000000000000000000000000000",
                   "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"});
  p.vectors.push_back(CipherVector{
      "GCM test case 16", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
      "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
      "b525b16aedf5aa0de657ba637b39",
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b105682"
      "8838c5f61e6393ba7a0abcc9f66276fc6ece0f4e1768cddf8853bb2d551b"});
  return p;
}

}  // namespace

PORTAL_CIPHER_CONFORMANCE(
    Shipped,
    ::testing::Values(chacha("chacha20_poly1305", "portal-cipher-chacha.so"),
                      chacha("openssl_chacha20_poly1305", "portal-cipher-openssl.so"), aes_gcm()));
