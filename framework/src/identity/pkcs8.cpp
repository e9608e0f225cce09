// SPDX-License-Identifier: Apache-2.0
#include "portal/identity/pkcs8.hpp"

#include <array>
#include <cstring>

#include "portal/base/encoding.hpp"
#include "portal/base/secret.hpp"

namespace portal::identity {
namespace {

using base::Byte;
using base::ByteSpan;

constexpr std::string_view kPemBegin = "-----BEGIN PRIVATE KEY-----";
constexpr std::string_view kPemEnd = "-----END PRIVATE KEY-----";

// RFC 8410 §7: the DER of OneAsymmetricKey v1 for Ed25519 is this 16-byte prefix followed by the
// 32-byte seed: SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING
// (32) } }.
constexpr std::array<Byte, 16> kPkcs8Prefix = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                               0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
constexpr std::array<Byte, 3> kEd25519Oid = {0x2b, 0x65, 0x70};

// A strict DER reader for the few structures a key file holds. Every read checks bounds first.
class DerReader {
 public:
  explicit DerReader(ByteSpan in) : in_(in) {}

  [[nodiscard]] bool at_end() const { return pos_ == in_.size(); }
  [[nodiscard]] bool peek(Byte tag) const { return pos_ < in_.size() && in_[pos_] == tag; }

  // Reads one element with tag `tag` and returns its contents.
  [[nodiscard]] bool read(Byte tag, ByteSpan& contents) {
    if (in_.size() - pos_ < 2 || in_[pos_] != tag) return false;
    std::size_t p = pos_ + 1;
    std::size_t len = in_[p++];
    if (len & 0x80) {
      const std::size_t n = len & 0x7f;
      if (n == 0 || n > 2 || in_.size() - p < n) return false;
      len = 0;
      for (std::size_t i = 0; i < n; ++i) len = (len << 8) | in_[p++];
      // DER: the long form only for lengths >= 128, and with no leading zero byte.
      if (len < 0x80 || (n == 2 && len < 0x100)) return false;
    }
    if (in_.size() - p < len) return false;
    contents = in_.subspan(p, len);
    pos_ = p + len;
    return true;
  }

 private:
  ByteSpan in_;
  std::size_t pos_ = 0;
};

// Parses PKCS#8 DER (RFC 5208 / RFC 5958) holding an Ed25519 key and returns the seed.
base::Result<Credential> parse_pkcs8(ByteSpan der) {
  const auto bad = Errc::KeyFileNotEd25519;
  DerReader outer(der);
  ByteSpan body;
  if (!outer.read(0x30, body) || !outer.at_end()) return bad;

  DerReader r(body);
  ByteSpan version;
  if (!r.read(0x02, version) || version.size() != 1 || version[0] > 1) return bad;

  ByteSpan algorithm;
  if (!r.read(0x30, algorithm)) return bad;
  DerReader alg(algorithm);
  ByteSpan oid;
  // RFC 8410 §3: the parameters must be absent.
  if (!alg.read(0x06, oid) || !alg.at_end() || !base::constant_time_equal(oid, kEd25519Oid)) {
    return bad;
  }

  ByteSpan private_key;
  if (!r.read(0x04, private_key)) return bad;
  DerReader inner(private_key);
  ByteSpan seed;
  if (!inner.read(0x04, seed) || !inner.at_end() || seed.size() != 32) return bad;

  ByteSpan ignored;
  if (r.peek(0xa0) && !r.read(0xa0, ignored)) return bad;  // [0] attributes: not used

  auto credential = Credential::from_seed(seed);
  if (!credential) return bad;

  // RFC 5958 v2 may carry the public key ([1] IMPLICIT BIT STRING); it must match the seed.
  if (r.peek(0x81)) {
    ByteSpan pub;
    if (version[0] != 1 || !r.read(0x81, pub) || pub.size() != 33 || pub[0] != 0 ||
        !base::constant_time_equal(pub.subspan(1), credential->public_key())) {
      return bad;
    }
  }
  if (!r.at_end()) return bad;
  return credential;
}

}  // namespace

std::string to_pkcs8_pem(const Credential& credential) {
  base::SecretArray<kPkcs8Prefix.size() + 32> der;
  std::memcpy(der.data(), kPkcs8Prefix.data(), kPkcs8Prefix.size());
  std::memcpy(der.data() + kPkcs8Prefix.size(), credential.seed().data(), 32);
  std::string pem;
  pem.reserve(128);
  pem.append(kPemBegin).append("\n");
  std::string body = base::base64_encode(der.span(), 64);
  pem.append(body);
  base::secure_zero(body.data(), body.size());
  pem.append(kPemEnd).append("\n");
  return pem;
}

base::Result<Credential> from_pkcs8_pem(std::string_view pem) {
  const auto begin = pem.find(kPemBegin);
  if (begin == std::string_view::npos) return Errc::KeyFileNotPem;
  const auto body_start = begin + kPemBegin.size();
  const auto end = pem.find(kPemEnd, body_start);
  if (end == std::string_view::npos) return Errc::KeyFileNotPem;
  auto der = base::base64_decode(pem.substr(body_start, end - body_start));
  if (!der) return Errc::KeyFileNotPem;
  auto credential = parse_pkcs8(*der);
  base::secure_zero(der->data(), der->size());
  return credential;
}

}  // namespace portal::identity
