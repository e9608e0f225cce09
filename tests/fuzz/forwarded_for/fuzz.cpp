// SPDX-License-Identifier: Apache-2.0
// Fuzz target: X-Forwarded-For and the trusted proxy sets. The input is lines: the TCP peer's
// address, the X-Forwarded-For header, then one trusted range (CIDR) per line. Checked:
// AddressSet::parse() says why it refuses; a set that holds an address holds it also written as
// IPv4-mapped IPv6; an address given without a prefix is in its own set; and
// forwarded_client() answers either the peer or one of the header's hops that is an IP address
// and not a trusted proxy, exactly as walking the hops from the right says.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "portal/base/parse.hpp"
#include "portal/transport/forwarded.hpp"

using namespace portal;

namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto at = text.find(sep);
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return out;
    text.remove_prefix(at + 1);
  }
}

bool is_address(std::string_view s) {
  std::uint8_t b[16];
  bool v4 = false;
  return base::address_bytes(s, b, v4);
}

// The rule, written plainly: from the right, the first hop that is not trusted; the peer when
// a hop is not an address or when every hop is trusted (or there is none).
std::string expected_client(std::string_view peer, std::string_view header,
                            const transport::AddressSet& set) {
  const auto hops = split(header, ',');
  for (std::size_t i = hops.size(); i-- > 0;) {
    std::string_view before =
        header.substr(0, static_cast<std::size_t>(hops[i].data() - header.data()) + hops[i].size());
    if (base::trim_blanks(before).empty()) break;
    const auto hop = base::trim_blanks(hops[i]);
    if (!is_address(hop)) return std::string(peer);
    if (!set.contains(hop)) return std::string(hop);
  }
  return std::string(peer);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto lines = split(text, '\n');
  const std::string_view peer = lines[0];
  const std::string_view header = lines.size() > 1 ? lines[1] : std::string_view{};
  std::vector<std::string> cidrs;
  for (std::size_t i = 2; i < lines.size() && cidrs.size() < 64; ++i) cidrs.emplace_back(lines[i]);

  std::string problem;
  auto set = transport::AddressSet::parse(cidrs, problem);
  if (!set) {
    if (problem.empty()) std::abort();
    set = transport::AddressSet::parse({}, problem);
    if (!set || !set->empty()) std::abort();
  } else {
    for (const auto& c : cidrs) {
      const auto bare = base::trim_blanks(c);
      if (c.find('/') == std::string::npos && !set->contains(bare)) std::abort();
    }
  }
  // The peer and every hop: the IPv4-mapped form matches as the IPv4 form does.
  for (const auto hop : split(header, ',')) {
    const auto h = base::trim_blanks(hop);
    std::uint8_t b[16];
    bool v4 = false;
    if (base::address_bytes(h, b, v4) && h.find(':') == std::string_view::npos) {
      if (set->contains(h) != set->contains("::ffff:" + std::string(h))) std::abort();
    }
  }

  const auto trusted = [&](std::string_view a) { return set->contains(a); };
  const std::string client = transport::forwarded_client(peer, header, trusted);
  if (client != peer) {
    if (!is_address(client) || set->contains(client)) std::abort();
    if (header.find(client) == std::string_view::npos) std::abort();
  }
  if (client != expected_client(peer, header, *set)) std::abort();
  // Without a trust function, the last hop (when it is an address) is the client.
  (void)transport::forwarded_client(peer, header, nullptr);
  return 0;
}
