// SPDX-License-Identifier: Apache-2.0
#include "portal/crypto/hkdf.hpp"

#include <cryptopp/hmac.h>
#include <cryptopp/sha.h>

#include <algorithm>
#include <array>

#include "portal/crypto/errors.hpp"

namespace portal::crypto {

base::SecretArray<32> hkdf_sha256_extract(base::ByteSpan salt, base::ByteSpan ikm) noexcept {
  // RFC 5869 §2.2: an absent salt is HashLen zero bytes (the same HMAC key as an empty one).
  static constexpr std::array<base::Byte, 32> kZeroSalt{};
  if (salt.empty()) salt = kZeroSalt;
  base::SecretArray<32> prk;
  CryptoPP::HMAC<CryptoPP::SHA256> mac(salt.data(), salt.size());
  mac.CalculateDigest(prk.data(), ikm.data(), ikm.size());
  return prk;
}

base::Result<void> hkdf_sha256_expand(base::ByteSpan prk, base::ByteSpan info,
                                      base::MutableByteSpan out) noexcept {
  if (out.size() > kHkdfSha256MaxOutput) return Errc::OutputTooLong;
  // RFC 5869 §2.3: T(i) = HMAC(PRK, T(i-1) | info | i), output = T(1) | T(2) | ...
  CryptoPP::HMAC<CryptoPP::SHA256> mac(prk.data(), prk.size());
  base::SecretArray<32> block;
  std::size_t done = 0;
  for (unsigned counter = 1; done < out.size(); ++counter) {
    if (counter > 1) mac.Update(block.data(), block.size());
    mac.Update(info.data(), info.size());
    const auto c = static_cast<base::Byte>(counter);
    mac.Update(&c, 1);
    mac.Final(block.data());
    const std::size_t n = std::min(block.size(), out.size() - done);
    std::copy_n(block.data(), n, out.data() + done);
    done += n;
  }
  return {};
}

base::Result<void> hkdf_sha256(base::ByteSpan ikm, base::ByteSpan salt, base::ByteSpan info,
                               base::MutableByteSpan out) noexcept {
  if (out.size() > kHkdfSha256MaxOutput) return Errc::OutputTooLong;
  const auto prk = hkdf_sha256_extract(salt, ikm);
  return hkdf_sha256_expand(prk.span(), info, out);
}

}  // namespace portal::crypto
