// SPDX-License-Identifier: Apache-2.0
// Full v1 handshakes per second (both sides on one core, no I/O), and secure-channel throughput
// at 16 KiB writes (seal + frame + open + read) beside the raw AEAD doing the same seal + open:
// the difference is what framing and buffering cost.
//
//   build/release/bench/portal-bench-handshake --benchmark_min_time=0.5

#include <benchmark/benchmark.h>

#include <chrono>

#include "chacha20_poly1305.hpp"
#include "portal/handshake/handshake.hpp"
#include "portal/secure_channel/secure_channel.hpp"

namespace {

using namespace portal;
using base::Bytes;

void BM_FullHandshake(benchmark::State& state) {
  const auto client = *identity::Credential::from_seed(Bytes(32, 1));
  const auto server = *identity::Credential::from_seed(Bytes(32, 2));
  handshake::ReplayCache cache;
  const auto now = base::SystemClock::instance().system_now();
  for (auto _ : state) {
    handshake::ClientHandshake c(client, server.id(), "http/1.1", base::OsRandom::instance());
    handshake::ServerHandshake s(server, {"http/1.1"}, cache, base::OsRandom::instance());
    if (!c.start(now)) return state.SkipWithError("start failed");
    if (!s.handle_input(c.pending_output(), now)) return state.SkipWithError("server failed");
    if (!c.handle_input(s.pending_output(), now)) return state.SkipWithError("client failed");
    auto keys = c.take_result();
    benchmark::DoNotOptimize(keys);
  }
  state.counters["handshakes/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

std::shared_ptr<cipher::Aead> aead(base::Byte k) {
  return std::shared_ptr<cipher::Aead>(
      plugins::chacha::factory().create("chacha20-poly1305", Bytes(32, k)).value());
}

void set_rate(benchmark::State& state, std::size_t bytes) {
  const auto total = static_cast<double>(state.iterations()) * static_cast<double>(bytes);
  state.SetBytesProcessed(static_cast<std::int64_t>(total));
  state.counters["MB/s"] = benchmark::Counter(total / 1e6, benchmark::Counter::kIsRate);
}

void BM_SecureChannelWrite16K(benchmark::State& state) {
  base::ReplayRandom r1(Bytes(12)), r2(Bytes(12));
  auto a = secure_channel::SecureChannel::create(aead(1), aead(2), r1);
  auto b = secure_channel::SecureChannel::create(aead(2), aead(1), r2);
  Bytes data(16 * 1024, 0x42);
  Bytes out(16 * 1024);
  for (auto _ : state) {
    if (!a->write(data)) return state.SkipWithError("write failed");
    auto wire = a->pending_output();
    while (!wire.empty()) {
      auto used = b->handle_input(wire);
      if (!used) return state.SkipWithError("open failed");
      wire = wire.subspan(*used);
      while (b->read(out) > 0) {
      }
    }
    a->consume_output(a->pending_output().size());
  }
  set_rate(state, data.size());
}

void BM_RawAeadSealOpen16K(benchmark::State& state) {
  auto a = aead(1);
  Bytes nonce(12, 0);
  Bytes data(16 * 1024, 0x42);
  Bytes sealed(data.size() + 16);
  Bytes out(data.size());
  for (auto _ : state) {
    if (!a->seal(nonce, {}, data, sealed) || !a->open(nonce, {}, sealed, out)) {
      return state.SkipWithError("aead failed");
    }
    ++nonce[11];
  }
  set_rate(state, data.size());
}

BENCHMARK(BM_FullHandshake);
BENCHMARK(BM_SecureChannelWrite16K);
BENCHMARK(BM_RawAeadSealOpen16K);

}  // namespace

BENCHMARK_MAIN();
