// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <map>
#include <string>

namespace portal::base {

/// Settings as the config file gives them to a plugin or a component: text values by key. The
/// one type behind config::Settings, mux::Settings and transport::Settings; each plugin reads its
/// own keys with plugin::SettingsReader (portal/plugin/settings.hpp).
using Settings = std::map<std::string, std::string, std::less<>>;

}  // namespace portal::base
