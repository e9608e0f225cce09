// SPDX-License-Identifier: Apache-2.0
#include "portal/mux/mux.hpp"

namespace portal::mux {

Session::~Session() = default;

}  // namespace portal::mux
