// SPDX-License-Identifier: Apache-2.0
#pragma once

// portal.directory.redis: the settings and the client (docs/fleet.md).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "portal/directory/directory.hpp"

namespace portal::redis {

/// The plugin's settings, parsed.
struct Config {
  std::string host;  ///< from `url`: a host name or an IP address (without brackets)
  std::uint16_t port = 6379;
  std::uint32_t db = 0;
  std::string user;           ///< AUTH user (ACL); empty: AUTH with the password alone
  std::string password_file;  ///< empty: no AUTH
  std::string key_prefix = "portal:";
  std::size_t queue = 4096;
  std::chrono::milliseconds timeout{1000};
  std::chrono::milliseconds reconnect{100};  ///< the first backoff; it doubles up to 5 s
};

/// Parses and checks `settings`; on error `problem` names the key. Reads nothing from disk.
bool parse_config(const directory::Settings& settings, Config& config, std::string& problem);

/// Reads the password from `path` (one line; a trailing newline is dropped).
bool read_password(const std::string& path, std::string& password, std::string& problem);

/// Opens a client (its connection thread starts at once).
std::shared_ptr<directory::DirectoryClient> open_client(boost::asio::any_io_executor executor,
                                                        Config config, std::string password,
                                                        const lease::DirectoryBounds& bounds);

}  // namespace portal::redis
