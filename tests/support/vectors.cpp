// SPDX-License-Identifier: Apache-2.0
#include "support/vectors.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "portal/base/encoding.hpp"

namespace portal::test {

boost::json::value load_vectors(std::string_view name) {
  const std::string path = std::string(PORTAL_VECTORS_DIR) + "/" + std::string(name);
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open vector file " + path);
  std::stringstream text;
  text << in.rdbuf();
  boost::json::error_code ec;
  auto value = boost::json::parse(text.str(), ec);
  if (ec) throw std::runtime_error("cannot parse " + path + ": " + ec.message());
  return value;
}

std::string str(const boost::json::value& obj, std::string_view key) {
  return std::string(obj.as_object().at(key).as_string());
}

base::Bytes from_hex(std::string_view text) {
  auto bytes = base::hex_decode(text);
  if (!bytes) throw std::runtime_error("bad hex in vector: " + std::string(text));
  return *bytes;
}

base::Bytes hex(const boost::json::value& obj, std::string_view key) {
  return from_hex(str(obj, key));
}

}  // namespace portal::test
