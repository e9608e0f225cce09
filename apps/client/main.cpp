// SPDX-License-Identifier: Apache-2.0
// portal: the Portal client tool. Subcommands: keygen, id, vanity.

#include <sys/stat.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "../common/cli_main.hpp"
#include "portal/base/random.hpp"
#include "portal/identity/credential.hpp"
#include "portal/identity/key_file.hpp"
#include "portal/version.hpp"
#include "vanity.hpp"

namespace {

using portal::apps::UsageError;
namespace identity = portal::identity;

std::string quoted(const std::string& path) { return "'" + path + "'"; }

// One line that says what failed, with the file and, for permissions, how to fix it.
[[noreturn]] void fail_key_file(const std::string& action, const std::string& path,
                                const portal::base::ErrorCode& ec) {
  std::string msg = action + " " + quoted(path) + ": " + ec.message();
  if (ec == identity::Errc::KeyFileTooOpen) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      msg += " (it is " + std::string(mode) + "; fix with: chmod 600 " + quoted(path) + ")";
    }
  } else if (ec == identity::Errc::KeyFileExists) {
    msg += " (use --force to replace it)";
  }
  throw UsageError(msg);
}

identity::Credential load_key(const std::string& path) {
  auto credential = identity::load_key_file(path);
  if (!credential) fail_key_file("cannot load key file", path, credential.error());
  return std::move(*credential);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Portal client: identities, exposing services and connecting to them", "portal"};
  portal::apps::use_one_line_errors(app);
  app.set_version_flag("--version", std::string("portal ") + portal::kVersion);
  app.require_subcommand(1);

  auto* keygen = app.add_subcommand(
      "keygen",
      "Create a new Ed25519 identity, write it as a PKCS#8 PEM key file (mode 0600) "
      "and print its ID");
  std::string keygen_out;
  bool keygen_force = false;
  keygen->add_option("--out", keygen_out, "Key file to create")->required();
  keygen->add_flag("--force", keygen_force, "Replace the file if it exists");

  auto* id = app.add_subcommand("id", "Print the 26-character ID of a key file");
  std::string id_key;
  id->add_option("--key", id_key, "PKCS#8 PEM Ed25519 key file (mode 0600)")->required();

  portal::apps::client::VanityOptions vanity_options;
  auto* vanity = portal::apps::client::add_vanity_command(app, vanity_options);

  return portal::apps::run_cli(app, argc, argv, [&]() -> int {
    if (keygen->parsed()) {
      auto credential = identity::Credential::generate(portal::base::OsRandom::instance());
      if (!credential) throw UsageError("cannot create a key: " + credential.error().message());
      auto saved = identity::save_key_file(
          keygen_out, *credential,
          keygen_force ? identity::Overwrite::Yes : identity::Overwrite::No);
      if (!saved) fail_key_file("cannot write key file", keygen_out, saved.error());
      std::cout << credential->id() << '\n';
      return 0;
    }
    if (id->parsed()) {
      std::cout << load_key(id_key).id() << '\n';
      return 0;
    }
    if (vanity->parsed()) return portal::apps::client::run_vanity(vanity_options);
    return 1;  // unreachable: require_subcommand(1)
  });
}
