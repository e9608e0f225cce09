// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

#include "portal/base/bytes.hpp"
#include "portal/base/encoding.hpp"

namespace portal::test {

/// The PKCS#8 PEM of an Ed25519 seed, built here from RFC 8410 §7 independently of the code
/// under test: DER 302e020100300506032b657004220420 || seed, base64 in 64-column lines.
inline std::string pem_from_seed(base::ByteSpan seed) {
  base::Bytes der = *base::hex_decode("302e020100300506032b657004220420");
  der.insert(der.end(), seed.begin(), seed.end());
  return "-----BEGIN PRIVATE KEY-----\n" + base::base64_encode(der, 64) +
         "-----END PRIVATE KEY-----\n";
}

}  // namespace portal::test
