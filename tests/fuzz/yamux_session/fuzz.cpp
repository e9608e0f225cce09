// SPDX-License-Identifier: Apache-2.0
// Fuzz target: a yamux session core fed arbitrary bytes and timestamps. Input is a sequence of
// chunks: [1 byte: op][1 byte: length n][n bytes]. Ops pick input, a clock advance, or a command
// (open, accept, read, write, close, reset, ping, go away), so peer bytes meet every state.
#include <cstdint>

#include "portal/yamux/session.hpp"

using namespace portal;
using namespace portal::yamux;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Config config;
  config.accept_backlog = 8;
  config.max_streams = 16;
  Time now{std::chrono::seconds(1)};
  Session s(size > 0 && (data[0] & 1) ? Role::Server : Role::Client, config, now);
  std::uint32_t last_stream = 0;
  std::size_t pos = size > 0 ? 1 : 0;
  base::Byte buf[512];
  while (pos + 2 <= size) {
    const std::uint8_t op = data[pos];
    const std::size_t n = std::min<std::size_t>(data[pos + 1], size - pos - 2);
    const base::ByteSpan arg(data + pos + 2, n);
    pos += 2 + n;
    switch (op % 10) {
      case 0:
      case 1:
      case 2: (void)s.handle_input(arg, now); break;
      case 3:
        now += std::chrono::milliseconds(n * 997);
        s.handle_timeout(now);
        break;
      case 4:
        if (auto id = s.open(now)) last_stream = *id;
        break;
      case 5:
        if (auto id = s.accept()) last_stream = *id;
        break;
      case 6: (void)s.read(last_stream, buf); break;
      case 7: (void)s.write(last_stream, arg); break;
      case 8:
        if (n % 2) {
          (void)s.close_stream(last_stream, now);
        } else {
          s.reset(last_stream);
        }
        break;
      case 9:
        if (n % 3 == 0) {
          s.go_away(GoAwayCode::Normal);
        } else {
          (void)s.ping(now);
        }
        break;
    }
    s.consume_output(s.pending_output().size());
    while (s.poll_event()) {
    }
    (void)s.poll_deadline();
  }
  return 0;
}
