// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the PKCS#8 PEM / DER key parser.
#include <cstdint>
#include <string_view>

#include "portal/identity/pkcs8.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)portal::identity::from_pkcs8_pem(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
