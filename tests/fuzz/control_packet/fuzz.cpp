// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the v1 control codec. Bytes are read as LP(Packet) frames; every packet's payload
// goes through the decoder for its type, and what decodes is re-encoded.
#include <cstdint>

#include "portal/base/length_prefixed.hpp"
#include "portal/handshake/messages.hpp"
#include "portal/wire/control.hpp"

using namespace portal;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  base::ByteSpan rest(data, size);
  base::LengthPrefixedReader reader(64 * 1024);
  while (!rest.empty()) {
    auto used = reader.feed(rest);
    if (!used) break;
    rest = rest.subspan(*used);
    if (!reader.complete()) continue;
    if (auto p = wire::decode_packet(reader.body())) {
      const auto& payload = p->payload;
      if (auto m = wire::decode_relay_info_response(payload)) (void)wire::encode(*m);
      if (auto m = wire::decode_connection_request(payload)) (void)wire::encode(*m);
      if (auto c = wire::decode_response(payload)) (void)wire::encode_response(*c);
      if (auto sp = handshake::decode_signed_payload(payload)) {
        if (auto m = wire::decode_lease_update_request(sp->data)) (void)wire::encode(*m);
        if (auto m = wire::decode_lease_delete_request(sp->data)) (void)wire::encode(*m);
      }
      (void)wire::encode_packet_wire(*p);
    }
    reader.next();
  }
  return 0;
}
