// SPDX-License-Identifier: Apache-2.0
// A transport plugin as built for plugin ABI 2.1, before host-less URIs (scheme:///path): the
// tcp transport under the scheme "oldtcp", its descriptor written by hand with minor 1. The host
// must not hand it a URI without a host (tests/plugin/host_test.cpp).
#include <boost/dll/alias.hpp>

#include "portal/plugin/descriptor.hpp"
#include "tcp_transport.hpp"

namespace {

portal::plugin::Factory* make_factory() noexcept { return &portal::plugins::tcp::factory(); }

const char* const provides[] = {"oldtcp", nullptr};

const portal::plugin::Descriptor descriptor = {portal::plugin::kAbiMajor,
                                               1,
                                               sizeof(portal::plugin::Descriptor),
                                               portal::plugin::Kind::Transport,
                                               "portal.test.old-transport",
                                               "0.0.1",
                                               provides,
                                               PORTAL_PLUGIN_FINGERPRINT,
                                               &make_factory};

const portal::plugin::Descriptor* entry() noexcept { return &descriptor; }

}  // namespace

BOOST_DLL_ALIAS(entry, portal_plugin_v1)
