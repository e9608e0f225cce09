// SPDX-License-Identifier: Apache-2.0
#include "vanity.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "../common/cli_main.hpp"
#include "keys.hpp"
#include "portal/base/random.hpp"
#include "portal/base/secret.hpp"
#include "portal/crypto/ed25519.hpp"
#include "portal/identity/credential.hpp"
#include "portal/identity/identity.hpp"
#include "portal/platform/key_file.hpp"

namespace portal::apps::client {
namespace {

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

// portal-v1 §5.2: the ID is the RFC 4648 base32 of 16 bytes, unpadded.
constexpr std::string_view kIdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr int kIdBits = 128;
constexpr int kBitsPerChar = 5;
// 128 = 25 * 5 + 3: base32_encode() shifts the last 3 bits left by 2, so the 26th character's
// value is a multiple of 4 (A E I M Q U Y 4).
constexpr unsigned kLastCharZeroBitsMask = 0x3;

constexpr auto kProgressInterval = std::chrono::seconds(2);
// getentropy(3) returns at most 256 bytes per call: draw 8 seeds at a time.
constexpr std::size_t kSeedsPerDraw = 8;

// Prefix text for an error message: printable ASCII as is, any other byte as \xHH.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  return out;
}

std::string upper_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// The ID bits a prefix fixes: 5 per character, but the 26th character holds only 3.
int prefix_bits(std::size_t length) {
  return static_cast<int>(std::min<std::size_t>(length * kBitsPerChar, kIdBits));
}

std::string format_count(double n) {
  char buf[32];
  if (n < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", n);
  } else {
    std::snprintf(buf, sizeof buf, "%.2e", n);
  }
  return buf;
}

std::string format_duration(double seconds) {
  char buf[48];
  if (!std::isfinite(seconds)) return "forever";
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  } else if (seconds < 86400) {
    const auto s = static_cast<long>(seconds);
    std::snprintf(buf, sizeof buf, "%ldh%02ldm%02lds", s / 3600, s / 60 % 60, s % 60);
  } else if (seconds < 365.25 * 86400) {
    std::snprintf(buf, sizeof buf, "%.1f days", seconds / 86400);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g years", seconds / (365.25 * 86400));
  }
  return buf;
}

[[noreturn]] void fail_key_file(const std::string& path, const std::string& reason) {
  throw UsageError("cannot write key file " + quoted(path) + ": " + reason);
}

// Refuses, before a search that may take hours, an --out that save_key_file() would refuse.
// save_key_file() still decides at the end; this only catches the common mistakes early.
void check_out_path(const VanityOptions& options) {
  namespace fs = std::filesystem;
  const fs::path path(options.out);
  std::error_code ec;
  const auto status = fs::symlink_status(path, ec);
  if (fs::exists(status)) {
    if (fs::is_directory(fs::status(path, ec))) fail_key_file(options.out, "it is a directory");
    if (!options.force) {
      fail_key_file(options.out, base::ErrorCode(identity::Errc::KeyFileExists).message() +
                                     " (use --force to replace it)");
    }
  }
  // save_key_file() creates a temporary file next to the key and renames it into place.
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    fail_key_file(options.out, "directory " + quoted(dir.string()) + ": " + std::strerror(errno));
  }
}

// The shared state of one search. Workers only read `prefix`, bump `attempts` and, on a match
// or a failure, take the mutex once to hand over the result and stop everyone.
struct Search {
  std::string prefix;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> attempts{0};
  std::mutex mutex;
  std::condition_variable finished;           // signalled with `stop`
  std::optional<identity::Credential> found;  // guarded by `mutex`
  std::optional<base::ErrorCode> error;       // guarded by `mutex`

  void finish(std::optional<identity::Credential> credential, std::optional<base::ErrorCode> ec) {
    {
      std::lock_guard lock(mutex);
      if (stop.load()) return;  // someone else finished first; keep the first result only
      found = std::move(credential);
      error = ec;
      stop.store(true);
    }
    finished.notify_all();
  }
};

// One search thread. Each attempt is what the original vanity-id does (portal-v1 §11.7): a fresh
// random 32-byte seed, its Ed25519 key pair and ID (§5.2), compared with the prefix.
void search_worker(Search& search) {
  base::SecretArray<kSeedsPerDraw * crypto::kEd25519SeedSize> seeds;
  while (!search.stop.load(std::memory_order_relaxed)) {
    if (auto drawn = base::OsRandom::instance().fill(seeds.mutable_span()); !drawn) {
      search.finish(std::nullopt, drawn.error());
      return;
    }
    for (std::size_t i = 0; i < kSeedsPerDraw; ++i) {
      auto credential = identity::Credential::from_seed(
          seeds.span().subspan(i * crypto::kEd25519SeedSize, crypto::kEd25519SeedSize));
      if (!credential) {
        search.finish(std::nullopt, credential.error());
        return;
      }
      if (credential->id().starts_with(search.prefix)) {
        search.attempts.fetch_add(i + 1, std::memory_order_relaxed);
        search.finish(std::move(*credential), std::nullopt);
        return;
      }
    }
    search.attempts.fetch_add(kSeedsPerDraw, std::memory_order_relaxed);
  }
}

// Joins the search threads however run_vanity() leaves, after telling them to stop.
class Workers {
 public:
  explicit Workers(Search& search) : search_(search) {}
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;
  ~Workers() {
    search_.stop.store(true);
    for (auto& t : threads_) t.join();
  }
  void start(unsigned count) {
    threads_.reserve(count);
    for (unsigned i = 0; i < count; ++i) threads_.emplace_back(search_worker, std::ref(search_));
  }
  void join() {
    search_.stop.store(true);
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  Search& search_;
  std::vector<std::thread> threads_;
};

struct Progress {
  std::uint64_t attempts;
  double elapsed;  // seconds
  double rate;     // attempts per second
};

std::string describe(const Progress& p, double expected) {
  return format_count(static_cast<double>(p.attempts)) + " attempts, " + format_count(p.rate) +
         "/s, " + format_duration(p.elapsed) + " elapsed; expected ~" + format_count(expected) +
         " attempts per match (" +
         (p.rate > 0 ? "about " + format_duration(expected / p.rate)
                     : std::string("rate unknown")) +
         " at this rate)";
}

}  // namespace

CLI::App* add_vanity_command(CLI::App& app, VanityOptions& options) {
  auto* cmd = app.add_subcommand(
      "vanity",
      "Search for an identity whose ID starts with PREFIX, write it as a PKCS#8 PEM key file "
      "(mode 0600) and print its ID");
  cmd->add_option("PREFIX", options.prefix,
                  "Wanted start of the 26-character ID: letters A-Z (any case) and digits 2-7; "
                  "each character multiplies the expected work by 32")
      ->required();
  cmd->add_option("--out", options.out, "Key file to create")->required();
  cmd->add_flag("--force", options.force, "Replace the file if it exists");
  options.threads = std::max(1u, std::thread::hardware_concurrency());
  cmd->add_option("--threads", options.threads, "Search threads (default: one per hardware thread)")
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  cmd->add_option("--max-seconds", options.max_seconds,
                  "Give up after this many seconds, with exit code 2 (0 = no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->footer(
      "Progress goes to stderr every 2 s; only the ID goes to stdout. The private key is never "
      "printed.");
  return cmd;
}

std::string impossible_prefix_reason(std::string_view prefix) {
  if (prefix.empty()) return "empty prefix: every ID matches; use 'portal keygen'";
  for (char c : prefix) {
    if (kIdAlphabet.find(c) == std::string_view::npos) {
      return "prefix " + quoted(printable(prefix)) +
             " can never match: " + quoted(printable(std::string_view(&c, 1))) +
             " is not in the ID alphabet A-Z 2-7 (RFC 4648 base32; 0, 1, 8 and 9 never occur)";
    }
  }
  if (prefix.size() > identity::kIdLength) {
    return "prefix " + quoted(printable(prefix)) + " can never match: it is " +
           std::to_string(prefix.size()) + " characters long and an ID has " +
           std::to_string(identity::kIdLength);
  }
  if (prefix.size() == identity::kIdLength) {
    const char last = prefix.back();
    if ((kIdAlphabet.find(last) & kLastCharZeroBitsMask) != 0) {
      return "prefix " + quoted(printable(prefix)) +
             " can never match: the 26th character of an ID holds " +
             "the last 3 of its 128 bits and 2 zero bits, so it is one of A E I M Q U Y 4, never " +
             quoted(std::string(1, last));
    }
  }
  return {};
}

int run_vanity(const VanityOptions& options) {
  const std::string prefix = upper_ascii(options.prefix);
  if (auto reason = impossible_prefix_reason(prefix); !reason.empty()) throw UsageError(reason);
  check_out_path(options);

  const double expected = std::ldexp(1.0, prefix_bits(prefix.size()));
  std::cerr << "portal vanity: searching for an ID starting with " << prefix << " on "
            << options.threads << (options.threads == 1 ? " thread" : " threads") << "; expected ~"
            << format_count(expected) << " attempts\n";

  Search search;
  search.prefix = prefix;
  const auto start = Clock::now();
  // A limit beyond about 30 years is no limit (and would overflow the clock).
  const auto deadline =
      options.max_seconds > 0 && options.max_seconds < 1e9
          ? start + std::chrono::duration_cast<Clock::duration>(Seconds(options.max_seconds))
          : Clock::time_point::max();
  auto progress = [&] {
    const double elapsed = Seconds(Clock::now() - start).count();
    const auto attempts = search.attempts.load(std::memory_order_relaxed);
    return Progress{attempts, elapsed, elapsed > 0 ? static_cast<double>(attempts) / elapsed : 0};
  };

  {
    Workers workers(search);
    workers.start(options.threads);
    auto next_report = start + kProgressInterval;
    std::unique_lock lock(search.mutex);
    while (!search.stop.load()) {
      search.finished.wait_until(lock, std::min(next_report, deadline),
                                 [&] { return search.stop.load(); });
      if (search.stop.load()) break;
      const auto now = Clock::now();
      if (now >= deadline) break;
      if (now >= next_report) {
        std::cerr << "portal vanity: " << describe(progress(), expected) << '\n';
        next_report += kProgressInterval;
      }
    }
    lock.unlock();
    workers.join();
  }

  const Progress done = progress();
  // A match that lands just as time runs out still counts.
  if (!search.found) {
    if (search.error) throw UsageError("cannot create a key: " + search.error->message());
    char limit[32];
    std::snprintf(limit, sizeof limit, "%g", options.max_seconds);
    throw UsageError("gave up after --max-seconds " + std::string(limit) +
                         ": no ID starting with " + prefix + " in " + describe(done, expected),
                     kVanityTimedOutExitCode);
  }

  const identity::Credential& credential = *search.found;
  auto saved = platform::save_key_file(
      options.out, credential, options.force ? platform::Overwrite::Yes : platform::Overwrite::No);
  if (!saved) {
    std::string reason = saved.error().message();
    if (saved.error() == identity::Errc::KeyFileExists) reason += " (use --force to replace it)";
    fail_key_file(options.out, reason + "; the ID found was " + credential.id());
  }
  std::cerr << "portal vanity: found after " << format_count(static_cast<double>(done.attempts))
            << " attempts in " << format_duration(done.elapsed) << " (" << format_count(done.rate)
            << "/s, " << format_count(done.rate / options.threads) << "/s per thread)\n";
  std::cout << credential.id() << '\n';
  return 0;
}

}  // namespace portal::apps::client
