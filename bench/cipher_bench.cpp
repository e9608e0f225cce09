// SPDX-License-Identifier: Apache-2.0
// Seal and open throughput of cipher-chacha at the sizes the protocol uses, three ways in one
// run: through the runtime-loaded plugin, linked statically (the plugin boundary's cost is the
// difference), and a plain memcpy of the same bytes (the baseline: what moving them costs).
//
//   build/release/bench/portal-bench-cipher [--benchmark_min_time=0.5]

#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <stdexcept>

#include "chacha20_poly1305.hpp"
#include "portal/cipher/aead_factory.hpp"
#include "portal/plugin/host.hpp"

namespace {

using portal::base::Bytes;
using portal::cipher::Aead;
using portal::cipher::AeadFactory;

constexpr std::size_t kTag = 16;

std::shared_ptr<AeadFactory> plugin_factory() {
  static std::shared_ptr<AeadFactory> factory = [] {
    portal::plugin::HostOptions options;
    options.directories = {PORTAL_BUILD_PLUGIN_DIR};
    portal::plugin::Host host(options);
    host.load_all();
    auto p = host.find("portal.cipher.chacha20-poly1305");
    if (!p) throw std::runtime_error("cipher-chacha plugin not found in " PORTAL_BUILD_PLUGIN_DIR);
    auto f = (*p)->factory<AeadFactory>();
    if (!f) throw std::runtime_error("cipher-chacha plugin has no AEAD factory");
    return *f;
  }();
  return factory;
}

AeadFactory& factory_for(int linkage) {
  if (linkage == 0) return *plugin_factory();
  return portal::plugins::chacha::factory();
}

void set_rate(benchmark::State& state, std::size_t bytes) {
  const auto total = static_cast<double>(state.iterations()) * static_cast<double>(bytes);
  state.SetBytesProcessed(static_cast<std::int64_t>(total));
  state.counters["GB/s"] = benchmark::Counter(total / 1e9, benchmark::Counter::kIsRate);
}

void BM_Seal(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  auto aead =
      factory_for(static_cast<int>(state.range(1))).create("chacha20-poly1305", Bytes(32, 7));
  if (!aead) return state.SkipWithError("create failed");
  Bytes nonce(12, 1);
  Bytes buf(size + kTag, 0x5a);
  for (auto _ : state) {
    auto r = (*aead)->seal(nonce, {}, portal::base::ByteSpan(buf).first(size), buf);
    benchmark::DoNotOptimize(r);
    ++nonce[0];
  }
  set_rate(state, size);
}

void BM_Open(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  auto aead =
      factory_for(static_cast<int>(state.range(1))).create("chacha20-poly1305", Bytes(32, 7));
  if (!aead) return state.SkipWithError("create failed");
  const Bytes nonce(12, 1);
  Bytes sealed(size + kTag, 0x5a);
  if (!(*aead)->seal(nonce, {}, portal::base::ByteSpan(sealed).first(size), sealed)) {
    return state.SkipWithError("seal failed");
  }
  Bytes out(size);
  for (auto _ : state) {
    auto r = (*aead)->open(nonce, {}, sealed, out);
    if (!r) return state.SkipWithError("open failed");
    benchmark::DoNotOptimize(out.data());
  }
  set_rate(state, size);
}

void BM_MemcpyBaseline(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  Bytes in(size, 0x5a);
  Bytes out(size);
  for (auto _ : state) {
    std::memcpy(out.data(), in.data(), size);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, size);
}

void sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"bytes", "static"});
  for (long size : {64L, 1024L, 16384L, 65536L}) {
    for (long linkage : {0L, 1L}) b->Args({size, linkage});
  }
}

BENCHMARK(BM_MemcpyBaseline)->ArgName("bytes")->Arg(64)->Arg(1024)->Arg(16384)->Arg(65536);
BENCHMARK(BM_Seal)->Apply(sizes);
BENCHMARK(BM_Open)->Apply(sizes);

}  // namespace

BENCHMARK_MAIN();
