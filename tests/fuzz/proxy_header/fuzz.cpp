// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the PROXY protocol header parser. The input is the start of a connection; the
// parser is driven the way a byte-exact driver drives it (exactly the bytes it asks for), and
// every promise the drivers rely on is checked: it asks for more than it has, never past its
// limits, and a header it accepts fits in what it was given. An accepted header is also checked
// against the format: v1 is one line of at most 107 bytes ending in CRLF, v2 starts with its
// signature and is as long as its head says; the client it names is an IP address (normalised,
// no scope) with its port, or nobody (port 0).
#include <cstdint>
#include <cstdlib>
#include <span>

#include "portal/base/address_set.hpp"
#include "portal/transport/proxy_header.hpp"

using namespace portal::transport;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::size_t have = 0;
  for (;;) {
    const auto h = parse_proxy_header(std::span<const std::uint8_t>(data, have));
    if (h.state == ProxyHeader::State::Done) {
      if (h.size == 0 || h.size > have || (h.version != 1 && h.version != 2)) std::abort();
      if (h.size > kProxyV2HeadBytes + kProxyV2MaxBlockBytes) std::abort();
      if (h.version == 1) {
        if (data[0] != 'P' || h.size > kProxyV1MaxBytes || h.size < 15) std::abort();
        if (data[h.size - 2] != '\r' || data[h.size - 1] != '\n') std::abort();
      } else {
        if (data[0] != 0x0D || h.size < kProxyV2HeadBytes) std::abort();
        if (h.size != kProxyV2HeadBytes + (std::size_t{data[14]} << 8 | data[15])) std::abort();
      }
      if (h.source.empty()) {
        if (h.source_port != 0) std::abort();
      } else {
        std::uint8_t bytes[16];
        bool v4 = false;
        if (!portal::base::address_bytes(h.source, bytes, v4)) std::abort();
        if (h.source.find('%') != std::string::npos) std::abort();
        if (v4 && h.source.find(':') != std::string::npos) std::abort();  // mapped: as IPv4
      }
      // The same header with everything after it: the same outcome.
      const auto all = parse_proxy_header(std::span<const std::uint8_t>(data, size));
      if (all.state != ProxyHeader::State::Done || all.size != h.size || all.source != h.source)
        std::abort();
      break;
    }
    if (h.state == ProxyHeader::State::Invalid) {
      if (h.problem.empty()) std::abort();
      break;
    }
    if (h.need <= have || h.need > kProxyV2HeadBytes + kProxyV2MaxBlockBytes) std::abort();
    if (h.need > size) break;
    have = h.need;
  }
  return 0;
}
