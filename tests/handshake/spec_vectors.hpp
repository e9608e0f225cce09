// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>

#include "portal/base/bytes.hpp"
#include "portal/base/clock.hpp"
#include "portal/identity/credential.hpp"
#include "support/vectors.hpp"

namespace portal::test {

/// The fixed inputs of the spec's handshake.json (portal-v1 §14), shared by the handshake tests:
/// identities, timestamps, both init messages, and the random bytes each side draws.
struct SpecHandshake {
  boost::json::value doc = test::load_vectors("handshake.json");
  const boost::json::value& in = doc.at("inputs");
  const boost::json::value& results = doc.at("results");
  identity::Credential client =
      *identity::Credential::from_seed(test::hex(in.at("client_identity"), "seed_hex"));
  identity::Credential server =
      *identity::Credential::from_seed(test::hex(in.at("server_identity"), "seed_hex"));
  std::int64_t client_ts = in.at("client_timestamp").to_number<std::int64_t>();
  std::int64_t server_ts = in.at("server_timestamp").to_number<std::int64_t>();
  base::Bytes client_wire = test::hex(doc.at("client_init"), "client_wire_hex");
  base::Bytes server_wire = test::hex(doc.at("server_init"), "server_wire_hex");

  base::Bytes client_random() const {
    base::Bytes r = test::hex(in, "client_ephemeral_private_hex");
    const base::Bytes n = test::hex(in, "client_nonce_hex");
    r.insert(r.end(), n.begin(), n.end());
    return r;
  }
  base::Bytes server_random() const {
    base::Bytes r = test::hex(in, "server_ephemeral_private_hex");
    const base::Bytes n = test::hex(in, "server_nonce_hex");
    r.insert(r.end(), n.begin(), n.end());
    return r;
  }
  static base::Clock::SystemTime at(std::int64_t unix_seconds) {
    return base::Clock::SystemTime{std::chrono::seconds{unix_seconds}};
  }
};

}  // namespace portal::test
