// SPDX-License-Identifier: Apache-2.0
#include "portal/base/encoding.hpp"

#include <gtest/gtest.h>

namespace portal::base {
namespace {

TEST(BaseEncoding, HexRoundTrip) {
  const Bytes b{0x00, 0x7f, 0x80, 0xff};
  EXPECT_EQ(hex_encode(b), "007f80ff");
  EXPECT_EQ(hex_decode("007F80ff").value(), b);
  EXPECT_EQ(hex_decode("").value(), Bytes{});
}

TEST(BaseEncoding, HexRejectsMalformed) {
  EXPECT_EQ(hex_decode("abc").error(), Errc::InvalidHex);
  EXPECT_EQ(hex_decode("zz").error(), Errc::InvalidHex);
  EXPECT_EQ(hex_decode("0 ").error(), Errc::InvalidHex);
}

// RFC 4648 §10 test vectors, without padding for base32 (the v1 ID form).
TEST(BaseEncoding, Base32Rfc4648) {
  const std::pair<const char*, const char*> cases[] = {{"", ""},
                                                       {"f", "MY"},
                                                       {"fo", "MZXQ"},
                                                       {"foo", "MZXW6"},
                                                       {"foob", "MZXW6YQ"},
                                                       {"fooba", "MZXW6YTB"},
                                                       {"foobar", "MZXW6YTBOI"}};
  for (const auto& [plain, encoded] : cases) {
    EXPECT_EQ(base32_encode(as_bytes(plain)), encoded);
    EXPECT_EQ(base32_decode(encoded).value(), to_bytes(as_bytes(plain))) << encoded;
  }
}

TEST(BaseEncoding, Base32RejectsMalformed) {
  EXPECT_EQ(base32_decode("mzxw6").error(), Errc::InvalidBase32);     // lower case
  EXPECT_EQ(base32_decode("MY======").error(), Errc::InvalidBase32);  // padding
  EXPECT_EQ(base32_decode("M").error(), Errc::InvalidBase32);         // impossible length
  EXPECT_EQ(base32_decode("MZ").error(), Errc::InvalidBase32);        // non-zero trailing bits
  EXPECT_EQ(base32_decode("M1").error(), Errc::InvalidBase32);        // '1' not in alphabet
}

TEST(BaseEncoding, Base64Rfc4648) {
  const std::pair<const char*, const char*> cases[] = {{"", ""},
                                                       {"f", "Zg=="},
                                                       {"fo", "Zm8="},
                                                       {"foo", "Zm9v"},
                                                       {"foob", "Zm9vYg=="},
                                                       {"fooba", "Zm9vYmE="},
                                                       {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : cases) {
    EXPECT_EQ(base64_encode(as_bytes(plain)), encoded);
    EXPECT_EQ(base64_decode(encoded).value(), to_bytes(as_bytes(plain))) << encoded;
  }
}

TEST(BaseEncoding, Base64LineWrapping) {
  Bytes data(100);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<Byte>(i);
  const std::string wrapped = base64_encode(data, 64);
  // 100 bytes -> 136 characters -> lines of 64, 64, 8, each ending in '\n'.
  ASSERT_EQ(wrapped.size(), 136u + 3u);
  EXPECT_EQ(wrapped[64], '\n');
  EXPECT_EQ(wrapped[129], '\n');
  EXPECT_EQ(wrapped.back(), '\n');
  EXPECT_EQ(base64_decode(wrapped).value(), data);
}

TEST(BaseEncoding, Base64RejectsMalformed) {
  EXPECT_EQ(base64_decode("Zg=").error(), Errc::InvalidBase64);       // incomplete group
  EXPECT_EQ(base64_decode("Z===").error(), Errc::InvalidBase64);      // too much padding
  EXPECT_EQ(base64_decode("Zg==Zg==").error(), Errc::InvalidBase64);  // data after padding
  EXPECT_EQ(base64_decode("Zh==").error(), Errc::InvalidBase64);      // non-zero padding bits
  EXPECT_EQ(base64_decode("Zm9*").error(), Errc::InvalidBase64);      // bad character
}

}  // namespace
}  // namespace portal::base
