// SPDX-License-Identifier: Apache-2.0
// The plugin entry of portal.mux.yamux.
#include "driver/yamux_session.hpp"
#include "portal/plugin/sdk.hpp"
#include "portal/version.hpp"

namespace {

class Factory final : public portal::mux::MuxFactory {
 public:
  portal::base::Result<void> validate(const portal::mux::Settings& settings,
                                      std::string& problem) noexcept override {
    return portal::plugin::guard([&]() -> portal::base::Result<void> {
      auto c = portal::yamux::parse_settings(settings, problem);
      if (!c) return c.error();
      return {};
    });
  }

  portal::base::Result<std::shared_ptr<portal::mux::Session>> create(
      std::unique_ptr<portal::stream::ByteStream> transport, portal::mux::Role role,
      const portal::mux::Settings& settings) noexcept override {
    return portal::plugin::guard(
        [&]() -> portal::base::Result<std::shared_ptr<portal::mux::Session>> {
          std::string problem;
          auto c = portal::yamux::parse_settings(settings, problem);
          if (!c) return c.error();
          return portal::yamux::start_session(std::move(transport),
                                              role == portal::mux::Role::Client
                                                  ? portal::yamux::Role::Client
                                                  : portal::yamux::Role::Server,
                                              *c);
        });
  }
};

portal::plugin::Factory* make_factory() noexcept {
  static Factory factory;
  return &factory;
}

}  // namespace

PORTAL_PLUGIN(portal::plugin::Kind::Mux, "portal.mux.yamux", portal::kVersion, make_factory,
              "yamux")
