// SPDX-License-Identifier: Apache-2.0
// The PROXY protocol header parser: both versions, every address family, the limits, and the
// promise the drivers rely on: it never asks for a byte past the header.
#include "portal/transport/proxy_header.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace portal::transport {
namespace {

using Bytes = std::vector<std::uint8_t>;
using State = ProxyHeader::State;

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

const Bytes kSignature{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// A v2 header: version/command byte, family/protocol byte, then `block` (addresses and TLVs).
Bytes v2(std::uint8_t ver_cmd, std::uint8_t fam, const Bytes& block) {
  Bytes out = kSignature;
  out.push_back(ver_cmd);
  out.push_back(fam);
  out.push_back(static_cast<std::uint8_t>(block.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(block.size()));
  out.insert(out.end(), block.begin(), block.end());
  return out;
}

// Feeds `header` followed by `after` the way a byte-exact driver does: exactly the bytes the
// parser asks for. Checks that it never asks past the header, and returns the final outcome.
ProxyHeader feed(const Bytes& header, const Bytes& after = Bytes{0x00, 0x01, 0x00, 0x00}) {
  Bytes stream = header;
  stream.insert(stream.end(), after.begin(), after.end());
  Bytes have;
  for (int guard = 0; guard < 10'000; ++guard) {
    auto h = parse_proxy_header(have);
    if (h.state != State::NeedMore) return h;
    EXPECT_GT(h.need, have.size());
    if (h.need > stream.size()) return h;  // the input ended: still NeedMore
    EXPECT_LE(h.need, header.size()) << "asked past the header";
    have.assign(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(h.need));
  }
  ADD_FAILURE() << "no outcome";
  return {};
}

TEST(ProxyHeader, V1NamesTheClientOfBothFamilies) {
  auto h = feed(bytes_of("PROXY TCP4 198.51.100.7 192.0.2.1 51234 443\r\n"));
  ASSERT_EQ(h.state, State::Done) << h.problem;
  EXPECT_EQ(h.version, 1);
  EXPECT_EQ(h.source, "198.51.100.7");
  EXPECT_EQ(h.source_port, 51234);
  EXPECT_EQ(h.size, 45u);

  h = feed(bytes_of("PROXY TCP6 2001:db8::7 2001:db8::1 65535 4027\r\n"));
  ASSERT_EQ(h.state, State::Done) << h.problem;
  EXPECT_EQ(h.source, "2001:db8::7");
  EXPECT_EQ(h.source_port, 65535);

  // IPv4-mapped: named as IPv4, so per-address counts see one client.
  h = feed(bytes_of("PROXY TCP6 ::ffff:198.51.100.7 ::1 1 2\r\n"));
  ASSERT_EQ(h.state, State::Done) << h.problem;
  EXPECT_EQ(h.source, "198.51.100.7");
}

TEST(ProxyHeader, V1UnknownNamesNoClient) {
  for (const std::string line : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"}) {
    auto h = feed(bytes_of(line));
    ASSERT_EQ(h.state, State::Done) << line << h.problem;
    EXPECT_TRUE(h.source.empty());
    EXPECT_EQ(h.size, line.size());
  }
}

TEST(ProxyHeader, V1RefusesMalformedLinesWithAReason) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"PROXY TCP4 198.51.100.7 192.0.2.1 51234\r\n", "expected"},
      {"PROXY TCP4 198.51.100.7 192.0.2.1 51234 443 extra\r\n", "expected"},
      {"PROXY TCP4 198.51.100.7 192.0.2.1 51234 443 \r\n", "expected"},
      {"PROXY TCP4  198.51.100.7 192.0.2.1 1 443\r\n", "expected"},
      {"PROXY TCP4 198.51.100.07x 192.0.2.1 1 443\r\n", "not an IPv4"},
      {"PROXY TCP4 2001:db8::7 192.0.2.1 1 443\r\n", "not an IPv4"},
      {"PROXY TCP6 198.51.100.7 2001:db8::1 1 443\r\n", "not an IPv6"},
      {"PROXY TCP6 fe80::1%eth0 2001:db8::1 1 443\r\n", "has a scope"},
      {"PROXY TCP4 198.51.100.7 192.0.2.1 65536 443\r\n", "port"},
      {"PROXY TCP4 198.51.100.7 192.0.2.1 -1 443\r\n", "port"},
      {"PROXY UDP4 198.51.100.7 192.0.2.1 1 443\r\n", "TCP4, TCP6 or UNKNOWN"},
      {"PROXY TCP4 198.51.100.7 192.0.2.1 1 443\n", "printable"},
      {"PROXY TCP4 198.51.100.7\r192.0.2.1 1 443\r\n", "CR without LF"},
      {"PROXX TCP4 198.51.100.7 192.0.2.1 1 443\r\n", "starts with"},
      {"GET / HTTP/1.1\r\n\r\n", "first byte"},
  };
  for (const auto& [line, reason] : cases) {
    auto h = feed(bytes_of(line));
    ASSERT_EQ(h.state, State::Invalid) << line;
    EXPECT_NE(h.problem.find(reason), std::string::npos) << line << ": " << h.problem;
  }
}

TEST(ProxyHeader, V1LineLongerThanTheLimitIsRefusedWithoutWaitingForItsEnd) {
  const std::string prefix = "PROXY TCP6 ";
  const Bytes line = bytes_of(prefix + std::string(kProxyV1MaxBytes, 'a'));
  // Never more than the limit is asked for.
  Bytes have;
  for (;;) {
    auto h = parse_proxy_header(have);
    if (h.state != State::NeedMore) {
      EXPECT_EQ(h.state, State::Invalid);
      EXPECT_NE(h.problem.find("longer than 107"), std::string::npos) << h.problem;
      break;
    }
    ASSERT_LE(h.need, kProxyV1MaxBytes);
    have.assign(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(h.need));
  }
  EXPECT_EQ(have.size(), kProxyV1MaxBytes);
}

TEST(ProxyHeader, V2NamesTheClientOfBothFamiliesAndSkipsTlvs) {
  // IPv4 over TCP: src 198.51.100.7:51234, dst 192.0.2.1:443, then an AUTHORITY TLV.
  Bytes block{198, 51, 100, 7, 192, 0, 2, 1, 0xC8, 0x22, 0x01, 0xBB};
  const Bytes tlv{0x02, 0x00, 0x0b, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'o', 'r', 'g'};
  block.insert(block.end(), tlv.begin(), tlv.end());
  auto h = feed(v2(0x21, 0x11, block));
  ASSERT_EQ(h.state, State::Done) << h.problem;
  EXPECT_EQ(h.version, 2);
  EXPECT_EQ(h.source, "198.51.100.7");
  EXPECT_EQ(h.source_port, 51234);
  EXPECT_EQ(h.size, 16 + block.size());

  Bytes block6(36, 0);
  block6[0] = 0x20;
  block6[1] = 0x01;
  block6[2] = 0x0d;
  block6[3] = 0xb8;
  block6[15] = 0x07;
  block6[32] = 0x10;
  block6[33] = 0x00;
  h = feed(v2(0x21, 0x21, block6));
  ASSERT_EQ(h.state, State::Done) << h.problem;
  EXPECT_EQ(h.source, "2001:db8::7");
  EXPECT_EQ(h.source_port, 4096);
}

TEST(ProxyHeader, V2LocalUnspecAndUnixNameNoClient) {
  // LOCAL (a health check from the proxy itself), whatever the family says.
  auto h = feed(v2(0x20, 0x11, Bytes(12, 1)));
  ASSERT_EQ(h.state, State::Done) << h.problem;
  EXPECT_TRUE(h.source.empty());
  h = feed(v2(0x20, 0x00, {}));
  ASSERT_EQ(h.state, State::Done) << h.problem;
  EXPECT_EQ(h.size, 16u);
  h = feed(v2(0x21, 0x00, {}));  // PROXY with UNSPEC
  ASSERT_EQ(h.state, State::Done) << h.problem;
  EXPECT_TRUE(h.source.empty());
  h = feed(v2(0x21, 0x31, Bytes(216, 'u')));  // UNIX stream
  ASSERT_EQ(h.state, State::Done) << h.problem;
  EXPECT_TRUE(h.source.empty());
}

TEST(ProxyHeader, V2RefusesMalformedHeadersWithAReason) {
  const std::vector<std::pair<Bytes, std::string>> cases{
      {v2(0x11, 0x11, Bytes(12, 1)), "version 1"},
      {v2(0x22, 0x11, Bytes(12, 1)), "command 2"},
      {v2(0x21, 0x12, Bytes(12, 1)), "not a stream"},
      {v2(0x21, 0x11, Bytes(11, 1)), "11 bytes is short"},
      {v2(0x21, 0x21, Bytes(35, 1)), "35 bytes is short"},
      {v2(0x21, 0x41, Bytes(12, 1)), "family 4"},
      {v2(0x21, 0x01, {}), "protocol 1"},
      {v2(0x21, 0x33, Bytes(216, 'u')), "protocol 3"},
  };
  for (const auto& [header, reason] : cases) {
    auto h = feed(header);
    ASSERT_EQ(h.state, State::Invalid) << reason;
    EXPECT_NE(h.problem.find(reason), std::string::npos) << h.problem;
  }
  Bytes bad_signature = v2(0x21, 0x11, Bytes(12, 1));
  bad_signature[7] = 'q';
  auto h = feed(bad_signature);
  ASSERT_EQ(h.state, State::Invalid);
  EXPECT_NE(h.problem.find("signature"), std::string::npos) << h.problem;
}

TEST(ProxyHeader, V2BlockOverTheLimitIsRefusedBeforeItIsRead) {
  Bytes head = kSignature;
  head.insert(head.end(), {0x21, 0x11, 0xFF, 0xFF});
  auto h = parse_proxy_header(head);
  ASSERT_EQ(h.state, State::Invalid);
  EXPECT_NE(h.problem.find("65551 bytes, over the limit of 4112"), std::string::npos) << h.problem;
  // At the limit: asked for, then parsed.
  auto at = feed(v2(0x21, 0x11, Bytes(kProxyV2MaxBlockBytes, 9)));
  ASSERT_EQ(at.state, State::Done) << at.problem;
  EXPECT_EQ(at.source, "9.9.9.9");
}

TEST(ProxyHeader, ExtraBytesAfterTheHeaderAreNotPartOfIt) {
  const Bytes line = bytes_of("PROXY TCP4 198.51.100.7 192.0.2.1 1 2\r\n");
  Bytes with_more = line;
  with_more.insert(with_more.end(), 300, 0x00);
  auto h = parse_proxy_header(with_more);
  ASSERT_EQ(h.state, State::Done) << h.problem;
  EXPECT_EQ(h.size, line.size());
  Bytes v2_more = v2(0x21, 0x11, Bytes(12, 3));
  const auto size = v2_more.size();
  v2_more.insert(v2_more.end(), 5000, 0x00);
  h = parse_proxy_header(v2_more);
  ASSERT_EQ(h.state, State::Done) << h.problem;
  EXPECT_EQ(h.size, size);
}

TEST(ProxyHeader, ArbitraryPrefixesNeverAskPastTheLimits) {
  // Every one-byte start, and truncations of valid headers: an outcome or a bounded ask.
  for (int b = 0; b < 256; ++b) {
    const Bytes one{static_cast<std::uint8_t>(b)};
    auto h = parse_proxy_header(one);
    if (b == 'P' || b == 0x0D) {
      EXPECT_EQ(h.state, State::NeedMore) << b;
    } else {
      EXPECT_EQ(h.state, State::Invalid) << b;
    }
  }
  const Bytes full = v2(0x21, 0x11, Bytes(12, 3));
  for (std::size_t n = 0; n < full.size(); ++n) {
    auto h = parse_proxy_header(Bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
    ASSERT_EQ(h.state, State::NeedMore) << n;
    EXPECT_GT(h.need, n);
    EXPECT_LE(h.need, full.size());
  }
}

}  // namespace
}  // namespace portal::transport
