// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the secure-channel frame decoder, with a small receive limit so that length
// checks, partial frames, empty frames and authentication failures all get reached. Every input
// goes to both channels: v1 and the negotiated one (sequence, type and end-of-stream checks).
#include <cstdint>

#include "chacha20_poly1305.hpp"
#include "portal/secure_channel/secure_channel.hpp"

using namespace portal;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto make = [] {
    auto a = plugins::chacha::factory().create("chacha20-poly1305", base::Bytes(32, 3));
    return std::shared_ptr<cipher::Aead>(std::move(*a));
  };
  secure_channel::Options options;
  options.max_frame_size = 4096;
  for (bool negotiated : {false, true}) {
    base::ReplayRandom random(base::Bytes(12));
    auto channel = negotiated
                       ? secure_channel::SecureChannel::create_negotiated(make(), make(), options)
                       : secure_channel::SecureChannel::create(make(), make(), random, options);
    if (!channel) return 0;
    base::ByteSpan rest(data, size);
    base::Byte out[512];
    while (!rest.empty()) {
      auto used = channel->handle_input(rest);
      if (!used) break;
      rest = rest.subspan(*used);
      while (channel->read(out) > 0) {
      }
      if (*used == 0 && channel->readable().empty()) break;
    }
    (void)channel->handle_eof();
  }
  return 0;
}
