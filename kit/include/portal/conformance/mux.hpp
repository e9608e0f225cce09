// SPDX-License-Identifier: Apache-2.0
#pragma once

// The mux conformance suites. This header defines GoogleTest tests (TEST_P): include it in
// exactly one source file of a test program, and instantiate the suites there:
//
//   #include "portal/conformance/mux.hpp"
//
//   portal::conformance::MuxParams mine() {
//     return {.name = "mine", .plugin = "plugins/my-mux.so"};
//   }
//   PORTAL_MUX_CONFORMANCE(Mine, ::testing::Values(mine()));

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>

#include "portal/conformance/common.hpp"
#include "portal/mux/mux.hpp"
#include "portal/stream/memory_pipe.hpp"

namespace portal::conformance {

/// How the mux suites run one mux plugin. Two sessions (a client and a server) talk over an
/// in-memory pipe (stream::make_memory_pipe), or one session talks to a raw peer the suite
/// drives (keepalive, garbage, transport loss).
struct MuxParams {
  /// The suffix of the test names: letters, digits, '_'.
  std::string name;
  /// The plugin file (.so). It is loaded through plugin::Host with every check a host applies.
  std::filesystem::path plugin;
  /// Settings of both sessions.
  mux::Settings settings;
  /// Bytes the pipe between the sessions buffers each way.
  std::size_t pipe_capacity = 256 * 1024;
  /// Streams opened at once by ManyStreamsBothWays.
  int streams = 64;
  /// Bytes each of those streams carries each way.
  std::size_t stream_bytes = 64 * 1024;
  /// The most a writer may get accepted (async_write completed) on one stream while the peer
  /// reads nothing: the session's flow control must stop it before this.
  std::size_t max_unread_bytes = 4u << 20;
  /// Settings under which a session pings an idle peer often and ends the session when the peer
  /// stops answering (MuxKeepaliveConformance only), merged over `settings`; e.g. for yamux
  /// {{"keepalive_interval_ms", "100"}, {"ping_timeout_ms", "200"}}.
  mux::Settings keepalive_settings;
  /// How soon, under keepalive_settings, a session must end after its peer goes silent.
  std::chrono::milliseconds keepalive_deadline{2000};
  /// The longest a single test may run before it fails as hung.
  std::chrono::milliseconds time_limit{15000};
};

/// Prints a MuxParams in test failure messages.
inline void PrintTo(const MuxParams& p, std::ostream* os) {
  *os << p.name << " (" << p.plugin.filename().string() << ")";
}

/// The fixture of the mux suites: loads the plugin and makes sessions.
class MuxConformanceBase : public ::testing::TestWithParam<MuxParams> {
 protected:
  /// The parameter of the running test.
  const MuxParams& params() const { return GetParam(); }

  /// Loads the plugin and gets its factory; fails the test if the host refuses it.
  void SetUp() override {
    std::string problem;
    auto loaded = load_plugin(params().plugin, problem);
    ASSERT_TRUE(loaded) << problem;
    loaded_ = *loaded;
    ASSERT_EQ(loaded_.plugin->kind(), plugin::Kind::Mux)
        << loaded_.plugin->id() << " is not a mux plugin";
    auto f = loaded_.plugin->factory<mux::MuxFactory>();
    ASSERT_TRUE(f) << f.error().message();
    factory_ = *f;
  }

  /// Closes every session the test made and lets the closes run.
  void TearDown() override {
    for (auto& s : sessions_) s->close();
    runner_.settle(std::chrono::milliseconds(50));
  }

  /// `base` with `extra` merged over it.
  static mux::Settings merged(mux::Settings base, const mux::Settings& extra) {
    for (const auto& [k, v] : extra) base[k] = v;
    return base;
  }

  /// A session over `transport`; null (and a failure) on error. Closed at TearDown.
  std::shared_ptr<mux::Session> session(std::unique_ptr<stream::ByteStream> transport,
                                        mux::Role role, const mux::Settings& settings) {
    auto s = factory_->create(std::move(transport), role, settings);
    if (!ok(s, "MuxFactory::create")) return nullptr;
    sessions_.push_back(*s);
    return *s;
  }

  /// A client and a server session over one in-memory pipe, with `settings`.
  std::pair<std::shared_ptr<mux::Session>, std::shared_ptr<mux::Session>> pair(
      const mux::Settings& settings) {
    auto [a, b] = stream::make_memory_pipe(runner_.executor(), params().pipe_capacity);
    auto c = session(std::move(a), mux::Role::Client, settings);
    auto s = session(std::move(b), mux::Role::Server, settings);
    return {c, s};
  }

  Runner runner_{GetParam().time_limit};                 ///< runs the test's coroutines
  LoadedPlugin loaded_;                                  ///< the plugin under test
  std::shared_ptr<mux::MuxFactory> factory_;             ///< its factory
  std::vector<std::shared_ptr<mux::Session>> sessions_;  ///< closed at TearDown
};

/// The mux suite: streams, windows, resets, GoAway (drain), ping, transport loss, garbage.
/// Instantiate with PORTAL_MUX_CONFORMANCE.
class MuxConformance : public MuxConformanceBase {};

/// The keepalive suite, for multiplexers that have one (MuxParams::keepalive_settings).
/// Instantiate with PORTAL_MUX_KEEPALIVE_CONFORMANCE.
class MuxKeepaliveConformance : public MuxConformanceBase {};

}  // namespace portal::conformance

/// Instantiates the mux suite under `prefix` for the MuxParams of a GoogleTest generator,
/// e.g. PORTAL_MUX_CONFORMANCE(Mine, ::testing::Values(params)).
#define PORTAL_MUX_CONFORMANCE(prefix, ...)                     \
  using MuxConformance = ::portal::conformance::MuxConformance; \
  INSTANTIATE_TEST_SUITE_P(prefix, MuxConformance, __VA_ARGS__, ::portal::conformance::ParamName{})

/// Instantiates the keepalive suite (MuxParams with keepalive_settings).
#define PORTAL_MUX_KEEPALIVE_CONFORMANCE(prefix, ...)                             \
  using MuxKeepaliveConformance = ::portal::conformance::MuxKeepaliveConformance; \
  INSTANTIATE_TEST_SUITE_P(prefix, MuxKeepaliveConformance, __VA_ARGS__,          \
                           ::portal::conformance::ParamName{})

/// @cond PORTAL_CONFORMANCE_TESTS
namespace portal::conformance {

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(MuxKeepaliveConformance);

}  // namespace portal::conformance
/// @endcond
