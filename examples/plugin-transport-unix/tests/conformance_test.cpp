// SPDX-License-Identifier: Apache-2.0
// The conformance kit's transport suites, run against the built plugin file as a host loads it.
#include "portal/conformance/transport.hpp"

namespace {

using namespace std::chrono_literals;

portal::conformance::TransportParams unix_transport() {
  portal::conformance::TransportParams p;
  p.name = "unix";
  p.plugin = UNIX_PLUGIN_FILE;
  p.listen_uri = "unix://{tmp}/s.sock";  // a fresh private directory per test
  p.half_close = true;
  // Nobody listens there; the folder does not exist; a regular file is no socket.
  p.bad_connect_uris = {"unix://{tmp}/nobody.sock", "unix:///nonexistent-portal-dir/s.sock",
                        "unix:///etc/hostname"};
  p.idle_settings = {{"idle_timeout_ms", "300"}};
  p.idle_timeout = 300ms;
  return p;
}

}  // namespace

PORTAL_TRANSPORT_CONFORMANCE(Unix, ::testing::Values(unix_transport()));
PORTAL_TRANSPORT_IDLE_CONFORMANCE(Unix, ::testing::Values(unix_transport()));
