// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the handshake message parser and checks, from both sides. The first input byte
// picks the clock offset, so timestamps around the window edges get explored; its top bit picks
// whether both sides negotiate (docs/adr/0014), so the capability checks get explored too.
#include <cstdint>

#include "portal/handshake/handshake.hpp"

namespace {

using namespace portal;

struct Fixture {
  identity::Credential client = *identity::Credential::from_seed(base::Bytes(32, 1));
  identity::Credential server = *identity::Credential::from_seed(base::Bytes(32, 2));
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture f;
  if (size == 0) return 0;
  const auto now = base::Clock::SystemTime{std::chrono::seconds{1762473600 + (data[0] % 64) - 32}};
  const base::ByteSpan input(data + 1, size - 1);
  handshake::Negotiation negotiation;
  if (data[0] & 0x80) {
    negotiation = {
        (data[0] & 0x40) ? handshake::ChannelMode::Negotiated : handshake::ChannelMode::Auto,
        {"chacha20-poly1305", "aes-256-gcm"}};
  }

  handshake::ReplayCache cache(64);
  base::ReplayRandom server_random(base::Bytes(44, 7));
  handshake::ServerHandshake server(f.server, {"http/1.1", "h2"}, cache, server_random, {},
                                    negotiation);
  base::ByteSpan rest = input;
  while (!rest.empty() && server.state() == handshake::State::AwaitingPeer) {
    auto used = server.handle_input(rest, now);
    if (!used || *used == 0) break;
    rest = rest.subspan(*used);
  }
  server.handle_eof();

  base::ReplayRandom client_random(base::Bytes(44, 9));
  handshake::ClientHandshake client(f.client, f.server.id(), "http/1.1", client_random, {},
                                    negotiation);
  (void)client.start(now);
  rest = input;
  while (!rest.empty() && client.state() == handshake::State::AwaitingPeer) {
    auto used = client.handle_input(rest, now);
    if (!used || *used == 0) break;
    rest = rest.subspan(*used);
  }
  client.handle_eof();
  return 0;
}
