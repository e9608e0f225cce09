// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the PROXY protocol header parser. The input is the start of a connection; the
// parser is driven the way a byte-exact driver drives it (exactly the bytes it asks for), and
// every promise the drivers rely on is checked: it asks for more than it has, never past its
// limits, and a header it accepts fits in what it was given.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "portal/transport/proxy_header.hpp"

using namespace portal::transport;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::size_t have = 0;
  for (;;) {
    const auto h = parse_proxy_header(std::span<const std::uint8_t>(data, have));
    if (h.state == ProxyHeader::State::Done) {
      if (h.size == 0 || h.size > have || (h.version != 1 && h.version != 2)) std::abort();
      if (h.size > kProxyV2HeadBytes + kProxyV2MaxBlockBytes) std::abort();
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
