// SPDX-License-Identifier: Apache-2.0
// Seal and open throughput at the sizes the protocol uses, in one run: cipher-chacha (Crypto++)
// through the runtime-loaded plugin and linked statically (the plugin boundary's cost is the
// difference), cipher-openssl's ChaCha20-Poly1305 and AES-256-GCM through its plugin, and a plain
// memcpy of the same bytes (the baseline: what moving them costs). The `impl` column:
// 0 cipher-chacha plugin, 1 cipher-chacha static, 2 cipher-openssl chacha20-poly1305,
// 3 cipher-openssl aes-256-gcm.
//
//   build/release/bench/portal-bench-cipher [--benchmark_min_time=0.5]

#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "chacha20_poly1305.hpp"
#include "portal/cipher/aead_factory.hpp"
#include "portal/plugin/host.hpp"

namespace {

using portal::base::Bytes;
using portal::cipher::Aead;
using portal::cipher::AeadFactory;

constexpr std::size_t kTag = 16;

std::shared_ptr<AeadFactory> plugin_factory(const char* id) {
  static auto host = [] {
    portal::plugin::HostOptions options;
    options.directories = {PORTAL_BUILD_PLUGIN_DIR};
    auto h = std::make_unique<portal::plugin::Host>(options);
    h->load_all();
    return h;
  }();
  auto p = host->find(id);
  if (!p) throw std::runtime_error(std::string(id) + " not found in " PORTAL_BUILD_PLUGIN_DIR);
  auto f = (*p)->factory<AeadFactory>();
  if (!f) throw std::runtime_error(std::string(id) + " has no AEAD factory");
  return *f;
}

struct Impl {
  AeadFactory* factory;
  const char* algorithm;
};

Impl impl(std::int64_t which) {
  static auto chacha = plugin_factory("portal.cipher.chacha20-poly1305");
  static auto openssl = plugin_factory("portal.cipher.openssl");
  switch (which) {
    case 0: return {chacha.get(), "chacha20-poly1305"};
    case 1: return {&portal::plugins::chacha::factory(), "chacha20-poly1305"};
    case 2: return {openssl.get(), "chacha20-poly1305"};
    default: return {openssl.get(), "aes-256-gcm"};
  }
}

void set_rate(benchmark::State& state, std::size_t bytes) {
  const auto total = static_cast<double>(state.iterations()) * static_cast<double>(bytes);
  state.SetBytesProcessed(static_cast<std::int64_t>(total));
  state.counters["GB/s"] = benchmark::Counter(total / 1e9, benchmark::Counter::kIsRate);
}

void BM_Seal(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const auto [factory, algorithm] = impl(state.range(1));
  auto aead = factory->create(algorithm, Bytes(32, 7));
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
  const auto [factory, algorithm] = impl(state.range(1));
  auto aead = factory->create(algorithm, Bytes(32, 7));
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
  b->ArgNames({"bytes", "impl"});
  for (long size : {64L, 1024L, 16384L, 65536L}) {
    for (long which : {0L, 1L, 2L, 3L}) b->Args({size, which});
  }
}

BENCHMARK(BM_MemcpyBaseline)->ArgName("bytes")->Arg(64)->Arg(1024)->Arg(16384)->Arg(65536);
BENCHMARK(BM_Seal)->Apply(sizes);
BENCHMARK(BM_Open)->Apply(sizes);

}  // namespace

BENCHMARK_MAIN();
