// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to the plugin: the server and client entry points (each in its own .cpp file, so that
// the heavy Beast instantiations compile in parallel and no file pays for both).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "ws_transport.hpp"

namespace portal::plugins::ws {

base::Result<std::unique_ptr<transport::Listener>> listen_ws(
    const boost::asio::any_io_executor& executor, const transport::Uri& uri,
    const Options& options);

boost::asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>> connect_ws(
    boost::asio::any_io_executor executor, transport::Uri uri, Options options);

}  // namespace portal::plugins::ws
