// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// plugin::guard, without the rest of the SDK (no Boost.DLL): for code that a plugin and a static
/// build share, such as the ChaCha20-Poly1305 AEAD that the WebAssembly build links directly.

#include <exception>
#include <new>
#include <utility>

#include "portal/base/result.hpp"
#include "portal/plugin/errors.hpp"

namespace portal::plugin {

/// Runs `fn` (which returns a base::Result<T>) and turns any exception into an error, so that no
/// exception crosses the plugin boundary: std::bad_alloc becomes Errc::PluginOutOfMemory and
/// anything else Errc::PluginFailure. Use it as the body of every virtual method a plugin
/// implements whose code can throw.
template <class Fn>
auto guard(Fn&& fn) noexcept -> decltype(std::forward<Fn>(fn)()) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const std::bad_alloc&) {
    return Errc::PluginOutOfMemory;
  } catch (...) {
    return Errc::PluginFailure;
  }
}

}  // namespace portal::plugin
