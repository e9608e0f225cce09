// SPDX-License-Identifier: Apache-2.0
#pragma once

// A throwaway PKI made with the `openssl` command at test time, in a private temp dir (nothing
// committed): a CA, a relay certificate for 127.0.0.1 and localhost signed by it, one for another
// host name, an expired one, a self-signed one (for pins), and a second CA with a relay
// certificate of its own (for reloads).

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

#include "support/temp_dir.hpp"

namespace portal::test {

class TestPki {
 public:
  TestPki() {
    const std::string d = dir_.path().string();
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    std::ofstream(d + "/san") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    std::ofstream(d + "/other") << "subjectAltName=DNS:other.example\n";
    run("req -x509 " + ec + " -keyout ca.key -out ca.pem -days 2 -subj '/CN=Portal Test CA'");
    run("req " + ec + " -keyout relay.key -out relay.csr -subj '/CN=relay'");
    run("x509 -req -in relay.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out relay.pem "
        "-days 2 -extfile san");
    run("x509 -req -in relay.csr -CA ca.pem -CAkey ca.key -out other.pem -days 2 -extfile other");
    run("x509 -req -in relay.csr -CA ca.pem -CAkey ca.key -out expired.pem -days -1 -extfile san");
    run("req -x509 " + ec +
        " -keyout self.key -out self.pem -days 2 -subj '/CN=self-signed' "
        "-addext subjectAltName=IP:127.0.0.1");
    // A second CA and a relay certificate from it (a renewal that changes the chain).
    run("req -x509 " + ec + " -keyout ca2.key -out ca2.pem -days 2 -subj '/CN=Portal Test CA 2'");
    run("req " + ec + " -keyout relay2.key -out relay2.csr -subj '/CN=relay2'");
    run("x509 -req -in relay2.csr -CA ca2.pem -CAkey ca2.key -CAcreateserial -out relay2.pem "
        "-days 2 -extfile san");
    // A second key, for a certificate/key mismatch.
    run("genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out stranger.key");
    for (const char* key :
         {"ca.key", "relay.key", "self.key", "stranger.key", "ca2.key", "relay2.key"}) {
      ::chmod((d + "/" + key).c_str(), 0600);
    }
  }

  [[nodiscard]] std::string operator/(const std::string& name) const {
    return (dir_.path() / name).string();
  }

  /// The hex SHA-256 of certificate `name`'s SubjectPublicKeyInfo, as the openssl command
  /// computes it (what spki_sha256 pins).
  [[nodiscard]] std::string pin(const std::string& name) const {
    const std::string cmd = "openssl x509 -in '" + *this / name +
                            "' -pubkey -noout | openssl pkey -pubin -outform der | "
                            "sha256sum | cut -c1-64";
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[128];
      while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
      ::pclose(p);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
  }

 private:
  void run(const std::string& args) const {
    const std::string cmd =
        "cd '" + dir_.path().string() + "' && openssl " + args + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl " + args + ": failed");
  }

  TempDir dir_;
};

}  // namespace portal::test
