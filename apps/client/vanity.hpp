// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <string_view>

namespace portal::apps::client {

/// Exit code of `portal vanity` when --max-seconds runs out before a match (other errors exit 1).
inline constexpr int kVanityTimedOutExitCode = 2;

/// What `portal vanity` was asked to do; filled in by CLI11 when the subcommand is parsed.
struct VanityOptions {
  std::string prefix;      ///< as typed; the search upper-cases it (ASCII only)
  std::string out;         ///< the key file to create
  bool force = false;      ///< replace `out` if it exists
  unsigned threads = 1;    ///< search threads; add_vanity_command() sets the hardware count
  double max_seconds = 0;  ///< give up after this long; 0 = no limit
};

/// Adds the `vanity` subcommand to `app`. `options` receives the parsed values and must outlive
/// the parse; the returned subcommand (owned by `app`) tells whether it was selected (parsed()).
CLI::App* add_vanity_command(CLI::App& app, VanityOptions& options);

/// Why no v1 ID can start with `prefix` (already upper-cased), as one line for the user, or an
/// empty string when some ID can. Refused: the empty prefix, characters outside the base32
/// alphabet A-Z 2-7, more than 26 characters, and a 26th character other than A E I M Q U Y 4
/// (portal-v1 §5.2: it carries 3 bits of the ID and 2 zero bits).
[[nodiscard]] std::string impossible_prefix_reason(std::string_view prefix);

/// Runs `portal vanity`: refuses an impossible prefix or an unwritable --out before searching,
/// then draws identities on `options.threads` threads until one's ID starts with the prefix,
/// writes it to `options.out` (PKCS#8 PEM, mode 0600) and prints the ID on stdout. Progress goes
/// to stderr about every 2 s. The private key is never printed. Returns the exit code (0).
/// Throws UsageError on every failure: kVanityTimedOutExitCode when --max-seconds runs out,
/// exit code 1 otherwise.
int run_vanity(const VanityOptions& options);

}  // namespace portal::apps::client
