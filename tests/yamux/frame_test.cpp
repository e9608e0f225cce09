// SPDX-License-Identifier: Apache-2.0
#include "portal/yamux/frame.hpp"

#include <gtest/gtest.h>

#include "portal/base/encoding.hpp"
#include "support/vectors.hpp"

namespace portal::yamux {
namespace {

// Every header of yamux.json encodes and decodes byte for byte.
TEST(YamuxFrameVectors, HeadersByteForByte) {
  const auto doc = test::load_vectors("yamux.json");
  const auto& vectors = doc.at("vectors").as_array();
  ASSERT_EQ(vectors.size(), 18u);
  for (const auto& v : vectors) {
    SCOPED_TRACE(test::str(v, "description"));
    const Header h{
        v.at("version").to_number<std::uint8_t>(), v.at("type_value").to_number<std::uint8_t>(),
        v.at("flags_value").to_number<std::uint16_t>(),
        v.at("stream_id").to_number<std::uint32_t>(), v.at("length").to_number<std::uint32_t>()};
    base::Byte out[kHeaderSize];
    encode_header(h, out);
    EXPECT_EQ(base::hex_encode(out), test::str(v, "header_hex"));
    const auto wire = test::hex(v, "header_hex");
    EXPECT_EQ(decode_header(wire.data()), h);
    std::uint16_t flags = 0;
    for (const auto& f : v.at("flags").as_array()) {
      const auto name = std::string(f.as_string());
      flags |= name == "SYN"   ? flag::kSyn
               : name == "ACK" ? flag::kAck
               : name == "FIN" ? flag::kFin
                               : flag::kRst;
    }
    EXPECT_EQ(flags, h.flags);
  }
}

}  // namespace
}  // namespace portal::yamux
