// SPDX-License-Identifier: Apache-2.0
#include "portal/transport/forwarded.hpp"

#include "portal/base/parse.hpp"
#include "portal/transport/transport.hpp"

namespace portal::transport {

std::string forwarded_client(std::string_view peer, std::string_view header,
                             const std::function<bool(std::string_view)>& trusted) {
  // Hops from the right: the last one was added by the proxy we talk to.
  std::string_view rest = header;
  while (!base::trim_blanks(rest).empty()) {
    const auto comma = rest.rfind(',');
    const std::string_view hop =
        base::trim_blanks(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
    std::uint8_t bytes[16];
    bool v4 = false;
    if (!base::address_bytes(hop, bytes, v4)) return std::string(peer);
    if (!trusted || !trusted(hop)) return std::string(hop);
  }
  return std::string(peer);
}

}  // namespace portal::transport
