// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the sans-IO relay core. The input is a script of events: connections open, send
// and close; streams open, carry fuzzer bytes or well-formed requests (signed lease updates from
// four fixed identities, connection requests, holder answers), fail and close; forwards open or
// fail; splices move bytes and end; and time moves by fuzzer-chosen steps. Limits are small so
// that every refusal path is reached. After the script everything is closed, and the core must
// hold nothing: no connection, stream, relayed stream or timer but the sweep.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "portal/relay/core.hpp"

using namespace portal;
using namespace std::chrono_literals;

namespace {

// Deterministic nonces (a counter), so that replays of one input behave the same.
class CounterRandom final : public base::RandomSource {
 public:
  base::Result<void> fill(base::MutableByteSpan out) noexcept override {
    for (auto& b : out) b = static_cast<base::Byte>(++n_ * 131u);
    return {};
  }

 private:
  std::uint64_t n_ = 0;
};

struct Script {
  const std::uint8_t* p;
  std::size_t left;
  bool empty() const { return left == 0; }
  std::uint8_t byte() {
    if (left == 0) return 0;
    --left;
    return *p++;
  }
  std::uint16_t u16() { return static_cast<std::uint16_t>(byte() << 8 | byte()); }
  base::Bytes bytes(std::size_t n) {
    n = std::min(n, left);
    base::Bytes out(p, p + n);
    p += n;
    left -= n;
    return out;
  }
};

const std::vector<identity::Credential>& identities() {
  static const std::vector<identity::Credential> ids = [] {
    std::vector<identity::Credential> v;
    for (std::uint8_t i = 1; i <= 4; ++i) {
      v.push_back(*identity::Credential::from_seed(base::Bytes(32, i)));
    }
    return v;
  }();
  return ids;
}

template <class T>
T* pick(std::vector<T>& v, std::uint8_t b) {
  return v.empty() ? nullptr : &v[b % v.size()];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Script in{data, size};
  base::ManualClock clock{base::Clock::SystemTime{std::chrono::seconds{1'762'473'600}}};
  const auto& relay_id = identities()[0];
  relay::CoreOptions o;
  auto& l = o.limits;
  l.max_connections_per_ip = 3;
  l.max_control_streams_per_session = 4;
  l.max_control_streams_per_ip = 6;
  l.max_streams_per_lease = 3;
  l.max_spliced_per_dialer_session = 2;
  l.max_spliced_per_dialer_ip = 3;
  l.max_leases_per_ip = 2;
  l.relay_info_kib_per_minute_per_session = 5;
  l.relay_info_kib_per_minute_per_ip = 8;
  l.first_packet_timeout_ms = 2'000;
  l.forward_timeout_ms = 3'000;
  l.spliced_idle_timeout_ms = 5'000;
  l.first_frame_timeout_ms = 1'000;
  l.session_idle_timeout_ms = 10'000;
  o.sweep_interval = 7s;
  o.log = [](base::LogLevel, const std::string&) {};
  relay::Core core(relay_id, o, relay::now_of(clock));
  CounterRandom random;

  struct Conn {
    relay::ConnectionId id;
    std::string address;
  };
  std::vector<Conn> conns;
  std::vector<relay::StreamId> streams;
  auto now = [&] { return relay::now_of(clock); };
  auto close_stream = [&](std::size_t i) {
    core.stream_closed(streams[i]);
    streams.erase(streams.begin() + static_cast<std::ptrdiff_t>(i));
  };
  auto feed = [&](relay::StreamId s, base::ByteSpan bytes) {
    while (!bytes.empty() && core.step(s) == relay::Step::Read) {
      const auto n = core.stream_input(s, bytes, now());
      if (n > bytes.size()) std::abort();
      bytes = bytes.subspan(n);
      const auto out = core.stream_output(s);
      core.stream_consumed(s, out.size());
      if (n == 0 && out.empty()) break;
    }
  };

  while (!in.empty()) {
    const std::uint8_t op = in.byte() % 15;
    const std::uint8_t arg = in.byte();
    switch (op) {
      case 0: {  // a connection from one of four addresses
        const std::string address = "10.0.0." + std::to_string(arg % 4);
        if (!core.take_address(address, "tcp", now())) break;
        conns.push_back({core.connection_opened(address, "tcp", now().steady, now()), address});
        break;
      }
      case 1:
        if (auto* c = pick(conns, arg)) core.connection_received(c->id, in.byte(), now());
        break;
      case 2:
        if (!conns.empty()) {
          const auto i = arg % conns.size();
          core.connection_closed(conns[i].id, {}, now());
          core.release_address(conns[i].address);
          conns.erase(conns.begin() + static_cast<std::ptrdiff_t>(i));
        }
        break;
      case 3:
        if (auto* c = pick(conns, arg)) {
          if (auto s = core.stream_accepted(c->id, now())) streams.push_back(*s);
        }
        break;
      case 4:  // raw bytes on a stream
        if (auto* s = pick(streams, arg)) feed(*s, in.bytes(in.byte()));
        break;
      case 5:
        if (auto* s = pick(streams, arg)) core.stream_eof(*s, now());
        break;
      case 6:
        if (auto* s = pick(streams, arg)) core.stream_failed(*s, now());
        break;
      case 7:
        if (!streams.empty()) close_stream(arg % streams.size());
        break;
      case 8: {  // time moves
        clock.advance(std::chrono::milliseconds(in.u16()) * (arg % 4 + 1));
        core.tick(now());
        break;
      }
      case 9:  // a forward gets its holder stream, or fails to
        if (auto* s = pick(streams, arg); s && core.step(*s) == relay::Step::Forward) {
          if (in.byte() % 4 == 0) {
            core.holder_open_failed(*s, std::make_error_code(std::errc::not_connected), now());
          } else {
            streams.push_back(core.holder_opened(*s, now()));
          }
        }
        break;
      case 10: {  // a signed lease update from one of four identities
        auto* s = pick(streams, arg);
        if (s == nullptr) break;
        const auto& who = identities()[in.byte() % 4];
        wire::Lease lease;
        lease.name = "n" + std::to_string(in.byte() % 3);
        lease.expires = base::unix_seconds(clock.system_now()) + in.byte();
        auto req = control::ClientRequest::lease_update(who, lease, random, clock.system_now());
        if (req) feed(*s, req->pending_output());
        break;
      }
      case 11: {  // a connection request for one of the four identities
        auto* s = pick(streams, arg);
        if (s == nullptr) break;
        auto req =
            control::ClientRequest::connection(identities()[in.byte() % 4].id(), std::nullopt);
        feed(*s, req.pending_output());
        break;
      }
      case 12: {  // a holder's answer
        auto* s = pick(streams, arg);
        if (s == nullptr) break;
        const auto code = static_cast<wire::ResponseCode>(in.byte() % 6);
        feed(*s, wire::encode_packet_wire(wire::Packet{wire::PacketType::ConnectionResponse,
                                                       wire::encode_response(code)}));
        break;
      }
      case 13:
        if (auto* s = pick(streams, arg); s && core.step(*s) == relay::Step::Splice) {
          core.spliced_moved(*s, in.byte() & 1, in.byte(), now());
        }
        break;
      case 14:
        if (auto* s = pick(streams, arg); s && core.step(*s) == relay::Step::Splice) {
          core.splice_ended(*s);
        }
        break;
      default: break;
    }
    (void)core.take_actions();
    if (const auto next = core.next_deadline(); !next) std::abort();  // the sweep is always armed
  }

  // Everything ends: nothing may stay behind.
  while (!streams.empty()) close_stream(streams.size() - 1);
  for (const auto& c : conns) {
    core.connection_closed(c.id, {}, now());
    core.release_address(c.address);
  }
  if (core.connections() != 0 || core.streams() != 0 || core.stats().relayed_streams != 0 ||
      core.timers() != 1 || core.addresses() != 0 || core.leases_with_relayed_streams() != 0) {
    std::abort();
  }
  return 0;
}
