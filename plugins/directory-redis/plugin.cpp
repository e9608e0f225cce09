// SPDX-License-Identifier: Apache-2.0
// The plugin entry of portal.directory.redis (docs/fleet.md).
#include <boost/system/errc.hpp>

#include "portal/plugin/sdk.hpp"
#include "portal/version.hpp"
#include "redis_directory.hpp"

namespace {

// Settings the directory interface has no error code of its own for.
portal::base::ErrorCode invalid_setting() {
  return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
}

class Factory final : public portal::directory::DirectoryFactory {
 public:
  portal::base::Result<void> validate(const portal::directory::Settings& settings,
                                      std::string& problem) noexcept override {
    return portal::plugin::guard([&]() -> portal::base::Result<void> {
      portal::redis::Config config;
      if (!portal::redis::parse_config(settings, config, problem)) return invalid_setting();
      return {};
    });
  }

  const char* const* secret_keys() const noexcept override {
    static const char* const keys[] = {"password_file", nullptr};
    return keys;
  }

  portal::base::Result<std::shared_ptr<portal::directory::DirectoryClient>> open(
      boost::asio::any_io_executor executor, const portal::directory::Settings& settings,
      const portal::lease::DirectoryBounds& bounds, std::string& problem) noexcept override {
    return portal::plugin::guard(
        [&]() -> portal::base::Result<std::shared_ptr<portal::directory::DirectoryClient>> {
          portal::redis::Config config;
          if (!portal::redis::parse_config(settings, config, problem)) return invalid_setting();
          if (bounds.max_records == 0 || bounds.max_value == 0 || bounds.max_key == 0) {
            problem = "directory bounds must all be at least 1";
            return invalid_setting();
          }
          std::string password;
          if (!config.password_file.empty() &&
              !portal::redis::read_password(config.password_file, password, problem)) {
            return invalid_setting();
          }
          return portal::redis::open_client(std::move(executor), std::move(config),
                                            std::move(password), bounds);
        });
  }
};

portal::plugin::Factory* make_factory() noexcept {
  static Factory factory;
  return &factory;
}

}  // namespace

PORTAL_PLUGIN(portal::plugin::Kind::Directory, "portal.directory.redis", portal::kVersion,
              make_factory, "redis")
