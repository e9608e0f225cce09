// SPDX-License-Identifier: Apache-2.0
// Fuzz target: WebSocket framing as the relay's ws:// listener reads it. A valid upgrade request
// comes first; the input (after its first byte, which picks the limits and how the bytes arrive)
// is what the client sends after it: frames, masked or not, fragmented, control frames, close
// codes, text, lengths in all three encodings. The ws transport's own code runs it
// (plugins/transport-ws/ws_testing.hpp: the upgrade, configure()'s settings, WsStream's
// part-by-part reads and its writes cut at max_write_message) on an in-memory stream, and the
// stream echoes everything it reads. Checked: the upgrade succeeds; the server's frames are
// well formed and unmasked; the echoed data frames are at most max_write_message bytes and
// carry exactly a prefix of what the stream read; the stream never reads more than was sent.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ws_testing.hpp"

using namespace portal;

namespace {

constexpr std::string_view kUpgrade =
    "GET /relay HTTP/1.1\r\n"
    "Host: relay.example\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

// Walks the server's frames after the 101 answer; false when one is malformed. The payloads of
// binary frames are appended to `data`.
bool server_frames(std::string_view w, std::size_t max_frame, std::string& data) {
  const auto end = w.find("\r\n\r\n");
  if (w.substr(0, 12) != "HTTP/1.1 101" || end == std::string_view::npos) return false;
  w.remove_prefix(end + 4);
  while (!w.empty()) {
    if (w.size() < 2) return false;
    const auto b0 = static_cast<std::uint8_t>(w[0]);
    const auto b1 = static_cast<std::uint8_t>(w[1]);
    if ((b0 & 0x70) != 0 || (b1 & 0x80) != 0) return false;  // no RSV bits, never masked
    std::size_t at = 2;
    std::uint64_t len = b1 & 0x7f;
    if (len >= 126) {
      const std::size_t bytes = len == 126 ? 2 : 8;
      if (w.size() < at + bytes) return false;
      len = 0;
      for (std::size_t i = 0; i < bytes; ++i) len = len << 8 | static_cast<std::uint8_t>(w[at + i]);
      at += bytes;
    }
    if (w.size() - at < len) return false;
    const auto opcode = b0 & 0x0f;
    if (opcode == 0x2) {
      if ((b0 & 0x80) == 0 || len > max_frame) return false;  // one write, one final frame
      data.append(w.substr(at, len));
    } else if (opcode != 0x8 && opcode != 0x9 && opcode != 0xa) {
      return false;  // the server sends binary, close, ping and pong only
    }
    w.remove_prefix(at + len);
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  std::string input(kUpgrade);
  input.append(reinterpret_cast<const char*>(data) + 1, size - 1);

  plugins::ws::testing::Connection c;
  if ((flags & 1) != 0) {  // small limits: messages over max_message_size are refused (1009)
    c.options.max_message_size = 256;
    c.options.max_write_message = 64;
  }
  static constexpr std::size_t kChunks[] = {0, 1, 3, 5, 17, 64, 300, 4096};
  c.read_chunk = kChunks[(flags >> 1) & 7];
  c.stops.push_back(kUpgrade.size());  // the client waits for the 101

  const auto out = plugins::ws::testing::serve_connection(c, input);
  if (!out.upgraded || out.peer != c.peer_address) std::abort();
  if (out.received.size() > size) std::abort();
  std::string echoed;
  if (!server_frames(out.written, c.options.max_write_message, echoed)) std::abort();
  if (out.received.compare(0, echoed.size(), echoed) != 0) std::abort();
  return 0;
}
