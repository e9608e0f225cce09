// SPDX-License-Identifier: Apache-2.0
// Boost.JSON is header-only in 1.81: its implementation is compiled exactly once, here.
#include <boost/json/src.hpp>
