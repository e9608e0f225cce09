// SPDX-License-Identifier: Apache-2.0
// portal.test.echo: a well-formed Extension plugin whose method is a coroutine.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <stdexcept>

#include "plugin/echo_service.hpp"
#include "portal/plugin/sdk.hpp"

namespace {

class Echo final : public portal::test::EchoService {
 public:
  boost::asio::awaitable<portal::base::Result<std::string>> async_echo(
      std::string text, std::chrono::milliseconds delay) override {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, delay);
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) co_return ec;
    co_return "echo:" + text;
  }

  portal::base::Result<int> throw_inside_guard() noexcept override {
    return portal::plugin::guard(
        []() -> portal::base::Result<int> { throw std::runtime_error("plugin bug"); });
  }
};

portal::plugin::Factory* make_factory() noexcept {
  static Echo echo;
  return &echo;
}

}  // namespace

PORTAL_PLUGIN(portal::plugin::Kind::Extension, "portal.test.echo", "1.2.3", make_factory, "echo")
