// SPDX-License-Identifier: Apache-2.0
// A host program that embeds the Portal client SDK, with the blocking API (no event loop of
// its own):
//
//   portal-example-echo listen RELAY NAME PLUGIN_DIR   holds the lease NAME and echoes every
//                                                      connection (one thread per connection
//                                                      here, because the host is blocking)
//   portal-example-echo dial RELAY NAME PLUGIN_DIR TEXT  connects to NAME, sends TEXT, prints
//                                                      the echo
//
// The relay's embedded defaults listen on ws://127.0.0.1:4017/relay.

#include <cstdio>
#include <string>
#include <thread>

#include "portal/base/random.hpp"
#include "portal/client/blocking.hpp"

namespace client = portal::client;

namespace {

int fail(const std::string& what, const portal::base::ErrorCode& ec, const std::string& detail) {
  std::fprintf(stderr, "echo: %s: %s%s\n", what.c_str(), ec.message().c_str(),
               detail.empty() ? "" : (" (" + detail + ")").c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || (std::string(argv[1]) == "dial" && argc < 6)) {
    std::fprintf(stderr,
                 "usage: %s listen RELAY NAME PLUGIN_DIR\n"
                 "       %s dial RELAY NAME PLUGIN_DIR TEXT\n",
                 argv[0], argv[0]);
    return 2;
  }
  const std::string mode = argv[1], relay = argv[2], name = argv[3];

  // The stack: plugins from PLUGIN_DIR, the default mux, cipher and transports.
  portal::config::ClientConfig cfg;
  cfg.relays = {relay};
  cfg.plugin_dirs = {argv[4]};
  std::string detail;
  auto stack = client::assemble(cfg, detail);
  if (!stack) {
    std::fprintf(stderr, "echo: %s\n", detail.c_str());
    return 1;
  }
  auto me = portal::identity::Credential::generate(portal::base::OsRandom::instance());
  if (!me) return fail("identity", me.error(), "");
  client::Options options;
  options.relays = cfg.relays;
  auto c = client::BlockingClient::connect(std::move(*me), stack, options, &detail);
  if (!c) return fail("connect to " + relay, c.error(), detail);

  if (mode == "listen") {
    auto listener = (*c)->listen(name, {"echo/1"}, {}, &detail);
    if (!listener) return fail("listen as " + name, listener.error(), detail);
    std::printf("listening as %s\n", name.c_str());
    std::fflush(stdout);
    for (;;) {
      auto s = (*listener)->accept();
      if (!s) return fail("accept", s.error(), "");
      std::thread([s = std::shared_ptr<client::BlockingStream>(std::move(*s))] {
        std::array<portal::base::Byte, 16 * 1024> buf{};
        for (;;) {
          auto n = s->read_some(buf);
          if (!n || *n == 0) break;
          if (!s->write(portal::base::ByteSpan(buf.data(), *n))) return;
        }
        (void)s->shutdown_write();
      }).detach();
    }
  }

  // dial
  auto s = (*c)->dial(name, "echo/1", &detail);
  if (!s) return fail("dial " + name, s.error(), detail);
  const std::string text = argv[5];
  if (auto w = (*s)->write(portal::base::as_bytes(text)); !w) return fail("write", w.error(), "");
  if (auto h = (*s)->shutdown_write(); !h) return fail("shutdown", h.error(), "");
  std::string echoed;
  std::array<portal::base::Byte, 16 * 1024> buf{};
  for (;;) {
    auto n = (*s)->read_some(buf);
    if (!n) return fail("read", n.error(), "");
    if (*n == 0) break;
    echoed.append(reinterpret_cast<const char*>(buf.data()), *n);
  }
  std::printf("%s\n", echoed.c_str());
  return echoed == text ? 0 : 1;
}
