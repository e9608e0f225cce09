// SPDX-License-Identifier: Apache-2.0
#include "portal/directory/directory.hpp"

namespace portal::directory {

DirectoryClient::~DirectoryClient() = default;

}  // namespace portal::directory
