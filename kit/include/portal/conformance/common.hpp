// SPDX-License-Identifier: Apache-2.0
#pragma once

// What the conformance suites share: loading a plugin file through plugin::Host, running
// coroutines under a deadline, temporary directories and a checkable byte pattern. See
// docs/plugins.md ("Testing a plugin with the conformance kit").

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "portal/base/bytes.hpp"
#include "portal/base/result.hpp"
#include "portal/plugin/descriptor.hpp"
#include "portal/plugin/host.hpp"
#include "portal/stream/byte_stream.hpp"

// The plugin conformance kit (namespace described in docs/api-namespaces.dox).
namespace portal::conformance {

/// A plugin loaded through its own plugin::Host. The host stays alive as long as this does.
struct LoadedPlugin {
  std::shared_ptr<plugin::Host> host;            ///< the host that loaded the file
  std::shared_ptr<const plugin::Plugin> plugin;  ///< the plugin, as the host sees it
};

/// Loads `file` through a plugin::Host whose only directory is the file's own, with every check
/// an application applies (ownership, permissions, ABI, build fingerprint, descriptor). Each
/// file is loaded once per process; later calls return the same plugin. On refusal, `problem`
/// holds the host's one-line reason.
inline base::Result<LoadedPlugin> load_plugin(const std::filesystem::path& file,
                                              std::string& problem) {
  static std::mutex mutex;
  static std::map<std::filesystem::path, LoadedPlugin> loaded;
  std::lock_guard lock(mutex);
  std::error_code ec;
  const auto path = std::filesystem::absolute(file, ec);
  if (ec) {
    problem = file.string() + ": " + ec.message();
    return base::ErrorCode(ec);
  }
  if (auto it = loaded.find(path); it != loaded.end()) return it->second;
  plugin::HostOptions options;
  options.directories = {path.parent_path()};
  auto host = std::make_shared<plugin::Host>(options);
  auto p = host->load_file(path);
  if (!p) {
    problem = host->refusals().empty() ? path.string() + ": " + p.error().message()
                                       : host->refusals().back().to_string();
    return p.error();
  }
  LoadedPlugin out{host, *p};
  loaded.emplace(path, out);
  return out;
}

/// A fresh private directory (mode 0700) under $TMPDIR or /tmp, removed with its contents on
/// destruction. The suites make one per test for URIs that name files ("{tmp}" in a URI).
class TempDir {
 public:
  /// Creates the directory. Throws std::runtime_error if it cannot.
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/pck-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + tmpl);
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  /// Removes the directory and everything in it.
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  /// The directory.
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// `text` with every "{tmp}" replaced by `dir`.
inline std::string expand_tmp(std::string text, const std::filesystem::path& dir) {
  const std::string key = "{tmp}";
  for (auto at = text.find(key); at != std::string::npos; at = text.find(key, at)) {
    text.replace(at, key.size(), dir.string());
    at += dir.string().size();
  }
  return text;
}

/// Byte `offset` of the deterministic stream number `seed`: every offset has its own value
/// (64-bit mixing per 8-byte block), so a lost, duplicated or reordered piece is detected.
inline base::Byte pattern_byte(std::uint64_t seed, std::uint64_t offset) noexcept {
  std::uint64_t z = (seed * 0x9e3779b97f4a7c15ULL) ^ (offset / 8 + 0x632be59bd9b4e019ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<base::Byte>(z >> (8 * (offset % 8)));
}

/// Fills `out` with bytes [offset, offset + out.size()) of pattern `seed`.
inline void fill_pattern(std::uint64_t seed, std::uint64_t offset, base::MutableByteSpan out) {
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = pattern_byte(seed, offset + i);
}

/// The first index in `got` that differs from pattern `seed` at `offset`, or got.size().
inline std::size_t pattern_mismatch(std::uint64_t seed, std::uint64_t offset,
                                    base::ByteSpan got) noexcept {
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] != pattern_byte(seed, offset + i)) return i;
  }
  return got.size();
}

/// Runs coroutines on a private io_context (one thread: the test's) under a deadline, so that a
/// plugin that hangs fails the test instead of hanging it.
class Runner {
 public:
  /// A runner whose run() gives up after `limit`.
  explicit Runner(std::chrono::milliseconds limit) : limit_(limit) {}
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;
  /// Destroys the io_context and the work left in it, unless the runner was abandoned: then
  /// it is left alone (never run, never destroyed), since the suspended coroutines may refer to
  /// objects that are gone.
  ~Runner() {
    if (abandoned_) static_cast<void>(io_.release());
  }

  /// The io_context the plugin objects run on.
  [[nodiscard]] boost::asio::io_context& io() noexcept { return *io_; }
  /// Its executor.
  [[nodiscard]] boost::asio::any_io_executor executor() { return io_->get_executor(); }
  /// Whether a run() timed out.
  [[nodiscard]] bool abandoned() const noexcept { return abandoned_; }

  /// Keeps `objects` alive for the rest of the process if the runner was abandoned (a plugin
  /// object destroyed under a suspended operation, or after its io_context, is undefined
  /// behaviour); otherwise destroys them now. Used by the fixtures' TearDown.
  template <class T>
  void dispose(T& objects) {
    if (abandoned_) {
      static_cast<void>(new T(std::move(objects)));
    } else {
      T gone = std::move(objects);
    }
  }

  /// Runs `body` until it completes. A body still running after the limit, or one that throws,
  /// is a test failure (and the return value is false). After a time-out the runner is
  /// abandoned: the io_context never runs again (the body's coroutines may refer to the
  /// caller's variables, which are gone once the test returns), later run() calls fail at once,
  /// settle() does nothing, and the pending work is destroyed with the runner.
  bool run(std::function<boost::asio::awaitable<void>()> body) {
    if (abandoned_) {
      ADD_FAILURE() << "not run: an earlier step of this test timed out";
      return false;
    }
    auto state = std::make_shared<std::pair<bool, std::exception_ptr>>(false, nullptr);
    io_->restart();
    boost::asio::co_spawn(*io_, std::move(body), [state](std::exception_ptr e) {
      state->first = true;
      state->second = std::move(e);
    });
    const auto deadline = std::chrono::steady_clock::now() + limit_;
    while (!state->first && std::chrono::steady_clock::now() < deadline) {
      io_->run_for(std::chrono::milliseconds(10));
    }
    if (!state->first) {
      abandoned_ = true;
      ADD_FAILURE() << "timed out: the plugin did not complete within " << limit_.count() << " ms";
      return false;
    }
    if (state->second) {
      try {
        std::rethrow_exception(state->second);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "exception: " << e.what();
      } catch (...) {
        ADD_FAILURE() << "unknown exception";
      }
      return false;
    }
    return true;
  }

  /// Lets the io_context run for `d` (lets closes and resets propagate between a test's steps).
  void settle(std::chrono::milliseconds d) {
    if (abandoned_) return;
    io_->restart();
    io_->run_for(d);
  }

  /// Suspends the calling coroutine for `d`.
  static boost::asio::awaitable<void> sleep(std::chrono::milliseconds d) {
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, d);
    co_await t.async_wait(boost::asio::use_awaitable);
  }

 private:
  std::unique_ptr<boost::asio::io_context> io_ = std::make_unique<boost::asio::io_context>();
  std::chrono::milliseconds limit_;
  bool abandoned_ = false;
};

/// Coroutines running side by side, joined with wait(). An exception in one is a test failure.
/// Use from the runner's executor.
class Group {
 public:
  /// Starts `fn` (a callable returning awaitable<void>) on `executor`.
  template <class Fn>
  void spawn(boost::asio::any_io_executor executor, Fn fn) {
    ++*running_;
    boost::asio::co_spawn(executor, std::move(fn), [running = running_](std::exception_ptr e) {
      --*running;
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        ADD_FAILURE() << "exception: " << x.what();
      } catch (...) {
        ADD_FAILURE() << "unknown exception";
      }
    });
  }
  /// Completes when every coroutine started so far has finished.
  boost::asio::awaitable<void> wait() {
    while (*running_ > 0) co_await Runner::sleep(std::chrono::milliseconds(1));
  }
  /// How many are still running.
  [[nodiscard]] int running() const noexcept { return *running_; }

 private:
  std::shared_ptr<int> running_ = std::make_shared<int>(0);
};

/// Whether `r` holds a value; otherwise records a failure naming `what` and the error.
template <class T>
bool ok(const base::Result<T>& r, std::string_view what) {
  if (r) return true;
  ADD_FAILURE() << what << ": " << r.error().message() << " [" << r.error().category().name() << ":"
                << r.error().value() << "]";
  return false;
}

/// Writes `total` bytes of pattern `seed` in writes of varying size (1 byte to 256 KiB).
inline boost::asio::awaitable<bool> send_pattern(stream::ByteStream& s, std::uint64_t seed,
                                                 std::size_t total) {
  static constexpr std::size_t kSizes[] = {1, 7, 100, 1500, 4096, 65536, 262144, 33333};
  base::Bytes chunk;
  std::size_t i = 0;
  for (std::size_t sent = 0; sent < total; ++i) {
    chunk.resize(std::min(kSizes[i % std::size(kSizes)], total - sent));
    fill_pattern(seed, sent, chunk);
    if (!ok(co_await s.async_write(chunk), "async_write")) co_return false;
    sent += chunk.size();
  }
  co_return true;
}

/// Reads exactly `total` bytes and checks they are pattern `seed`.
inline boost::asio::awaitable<bool> expect_pattern(stream::ByteStream& s, std::uint64_t seed,
                                                   std::size_t total) {
  base::Bytes buf(64 * 1024);
  for (std::size_t got = 0; got < total;) {
    auto n = co_await s.async_read_some(
        base::MutableByteSpan(buf).first(std::min(buf.size(), total - got)));
    if (!ok(n, "async_read_some")) co_return false;
    if (*n == 0) {
      ADD_FAILURE() << "end of stream after " << got << " of " << total << " bytes";
      co_return false;
    }
    const auto bad = pattern_mismatch(seed, got, base::ByteSpan(buf).first(*n));
    if (bad != *n) {
      ADD_FAILURE() << "byte " << got + bad << " of " << total << " differs";
      co_return false;
    }
    got += *n;
  }
  co_return true;
}

/// Reads until the end of the stream; fails on bytes or an error.
inline boost::asio::awaitable<bool> expect_end(stream::ByteStream& s) {
  base::Bytes buf(16);
  auto n = co_await s.async_read_some(buf);
  if (!ok(n, "async_read_some (expecting the end of the stream)")) co_return false;
  EXPECT_EQ(*n, 0u) << "bytes where the end of the stream was expected";
  co_return *n == 0;
}

/// Reads exactly out.size() bytes into `out`; false (and a failure) on an error or an early end.
inline boost::asio::awaitable<bool> read_exactly(stream::ByteStream& s, base::MutableByteSpan out) {
  for (std::size_t got = 0; got < out.size();) {
    auto n = co_await s.async_read_some(out.subspan(got));
    if (!ok(n, "async_read_some")) co_return false;
    if (*n == 0) {
      ADD_FAILURE() << "end of stream after " << got << " of " << out.size() << " bytes";
      co_return false;
    }
    got += *n;
  }
  co_return true;
}

/// The test-name suffix of a parameter: its `name` field (letters, digits and '_'), or its index
/// when empty.
struct ParamName {
  /// GoogleTest's name generator.
  template <class P>
  std::string operator()(const ::testing::TestParamInfo<P>& info) const {
    std::string n = info.param.name;
    for (char& c : n) {
      const bool good = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!good) c = '_';
    }
    return n.empty() ? std::to_string(info.index) : n;
  }
};

}  // namespace portal::conformance
