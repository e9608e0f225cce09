// SPDX-License-Identifier: Apache-2.0
#pragma once

// A test-only plugin interface (Kind::Extension) with a coroutine method, to prove that an
// awaitable crosses an RTLD_LOCAL plugin boundary.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>

#include "portal/base/result.hpp"
#include "portal/plugin/descriptor.hpp"

namespace portal::test {

class EchoService : public plugin::Factory {
 public:
  static constexpr std::string_view kInterface = "portal.test.echo/1";
  [[nodiscard]] std::string_view interface_name() const noexcept final { return kInterface; }

  /// Waits `delay` on a timer of the caller's executor, then returns "echo:" + text.
  virtual boost::asio::awaitable<base::Result<std::string>> async_echo(
      std::string text, std::chrono::milliseconds delay) = 0;

  /// Throws inside plugin::guard(); must come back as plugin::Errc::PluginFailure.
  [[nodiscard]] virtual base::Result<int> throw_inside_guard() noexcept = 0;
};

}  // namespace portal::test
