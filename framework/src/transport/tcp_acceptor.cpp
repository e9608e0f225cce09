// SPDX-License-Identifier: Apache-2.0
#include "portal/transport/tcp_acceptor.hpp"

#include <string>

namespace portal::transport {

base::Result<boost::asio::ip::tcp::acceptor> bind_tcp_acceptor(
    const boost::asio::any_io_executor& executor, const Uri& uri, int backlog) {
  using boost::asio::ip::tcp;
  boost::system::error_code ec;
  tcp::resolver resolver(executor);
  const std::string port = std::to_string(uri.port);
  auto endpoints =
      resolver.resolve(uri.host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) return base::ErrorCode(ec);
  if (endpoints.empty()) return Errc::InvalidUri;
  const tcp::endpoint endpoint = *endpoints.begin();
  tcp::acceptor acceptor(executor);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(backlog, ec);
  if (ec) return base::ErrorCode(ec);
  return acceptor;
}

}  // namespace portal::transport
