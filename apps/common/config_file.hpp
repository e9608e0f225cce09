// SPDX-License-Identifier: Apache-2.0
#pragma once

// Reading a JSON config file for the apps: bounded in size, problems with file, key and reason.

#include <fstream>
#include <string>
#include <vector>

#include "portal/config/client_config.hpp"
#include "portal/config/relay_config.hpp"

namespace portal::apps {

constexpr std::size_t kMaxConfigFile = 1024 * 1024;

/// Reads `path` and applies it over `cfg` (a RelayConfig or a ClientConfig); returns the
/// problems (empty when the file is valid).
template <class Config>
std::vector<config::Problem> load_config_file(const std::string& path, Config& cfg) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {config::Problem{"", "cannot open the file", 0, 0}};
  std::string text(kMaxConfigFile + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxConfigFile) return {config::Problem{"", "larger than 1 MiB", 0, 0}};
  std::vector<config::Problem> problems;
  config::apply_json(text, cfg, problems);
  return problems;
}

}  // namespace portal::apps
