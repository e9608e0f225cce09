// SPDX-License-Identifier: Apache-2.0
#include "portal/handshake/messages.hpp"

#include <gtest/gtest.h>

#include "portal/base/encoding.hpp"
#include "portal/handshake/errors.hpp"
#include "support/vectors.hpp"

namespace portal::handshake {
namespace {

using base::hex_encode;

InitPayload from_fields(const boost::json::value& f) {
  InitPayload p;
  p.version = f.at("version").to_number<std::uint32_t>();
  p.nonce = test::hex(f, "nonce_hex");
  p.timestamp = f.at("timestamp").to_number<std::int64_t>();
  p.identity.id = test::str(f.at("identity"), "id");
  p.identity.public_key = test::hex(f.at("identity"), "public_key_hex");
  p.alpn = test::str(f, "alpn");
  p.session_public_key = test::hex(f, "session_public_key_hex");
  return p;
}

// The serialized payloads and SignedPayloads of handshake.json, both directions.
TEST(HandshakeMessages, EncodeAndDecodeVectorsByteForByte) {
  const auto doc = test::load_vectors("handshake.json");
  for (const char* side : {"client", "server"}) {
    SCOPED_TRACE(side);
    const auto& v = doc.at(std::string(side) + "_init");
    const InitPayload p = from_fields(v.at("fields"));
    const auto payload_hex = test::str(v, std::string(side) + "_init_payload_hex");
    EXPECT_EQ(hex_encode(encode(p)), payload_hex);
    auto back = decode_init_payload(test::from_hex(payload_hex));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, p);

    const SignedPayload sp{test::from_hex(payload_hex),
                           test::hex(v, std::string(side) + "_signature_hex")};
    const auto signed_hex = test::str(v, std::string(side) + "_signed_payload_hex");
    EXPECT_EQ(hex_encode(encode(sp)), signed_hex);
    auto sp_back = decode_signed_payload(test::from_hex(signed_hex));
    ASSERT_TRUE(sp_back);
    EXPECT_EQ(*sp_back, sp);
  }
}

TEST(HandshakeMessages, MalformedBytesAreAnError) {
  EXPECT_EQ(decode_signed_payload(base::Bytes{0x0a, 0x10, 1}).error(), Errc::MalformedMessage);
  EXPECT_EQ(decode_init_payload(base::Bytes{0xff}).error(), Errc::MalformedMessage);
  // An unknown version parses (proto3 enums are open) so that the version check can refuse it.
  InitPayload p;
  p.version = 7;
  auto back = decode_init_payload(encode(p));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->version, 7u);
}

}  // namespace
}  // namespace portal::handshake
