// SPDX-License-Identifier: Apache-2.0
#pragma once

// Key file errors for the `portal` subcommands: one line naming the file and, for permissions,
// how to fix them.

#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "../common/cli_main.hpp"
#include "portal/identity/credential.hpp"
#include "portal/platform/key_file.hpp"

namespace portal::apps {

inline std::string quoted(const std::string& path) { return "'" + path + "'"; }

[[noreturn]] inline void fail_key_file(const std::string& action, const std::string& path,
                                       const base::ErrorCode& ec) {
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

inline identity::Credential load_key(const std::string& path) {
  auto credential = platform::load_key_file(path);
  if (!credential) fail_key_file("cannot load key file", path, credential.error());
  return std::move(*credential);
}

}  // namespace portal::apps
