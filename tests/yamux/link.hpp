// SPDX-License-Identifier: Apache-2.0
#pragma once

// Two yamux session cores joined by an in-memory link with a fixed one-way delay, on a virtual
// clock. Tests drive the applications through the callbacks; nothing sleeps.

#include <deque>
#include <functional>
#include <utility>

#include "portal/yamux/session.hpp"

namespace portal::yamux::test {

class Link {
 public:
  using Handler = std::function<void(Session& self, const Event& e)>;

  Link(Config client_config, Config server_config, Duration delay,
       Time start = Time{std::chrono::seconds(1000)})
      : now_(start),
        delay_(delay),
        client_(Role::Client, client_config, start),
        server_(Role::Server, server_config, start) {}

  Session& client() { return client_; }
  Session& server() { return server_; }
  Time now() const { return now_; }

  Handler on_client_event = [](Session&, const Event&) {};
  Handler on_server_event = [](Session&, const Event&) {};
  /// When false, bytes from that side are dropped (a silent peer).
  bool deliver_from_client = true;
  bool deliver_from_server = true;

  /// Moves output into flight, delivers what has arrived, dispatches events, until nothing
  /// changes at the current time.
  void pump() {
    for (int guard = 0; guard < 1'000'000; ++guard) {
      bool progress = collect(client_, to_server_, deliver_from_client);
      progress |= collect(server_, to_client_, deliver_from_server);
      progress |= deliver(to_server_, server_);
      progress |= deliver(to_client_, client_);
      progress |= dispatch(client_, on_client_event);
      progress |= dispatch(server_, on_server_event);
      if (!progress) return;
    }
  }

  /// Advances virtual time by `d`, stopping at every arrival and deadline on the way.
  void advance(Duration d) {
    const Time end = now_ + d;
    pump();
    while (true) {
      Time next = end;
      auto consider = [&](std::optional<Time> t) {
        if (t && *t < next) next = std::max(*t, now_);
      };
      consider(client_.poll_deadline());
      consider(server_.poll_deadline());
      if (!to_server_.empty()) consider(to_server_.front().first);
      if (!to_client_.empty()) consider(to_client_.front().first);
      now_ = next;
      client_.handle_timeout(now_);
      server_.handle_timeout(now_);
      pump();
      if (now_ >= end) return;
    }
  }

  /// Runs until `done()` or `limit` of virtual time passes. Returns done().
  bool run_until(const std::function<bool()>& done, Duration limit) {
    const Time end = now_ + limit;
    pump();
    while (!done() && now_ < end)
      advance(std::min<Duration>(delay_ + std::chrono::milliseconds(1), end - now_));
    return done();
  }

 private:
  using Flight = std::deque<std::pair<Time, base::Bytes>>;

  bool collect(Session& s, Flight& flight, bool deliver) {
    if (s.pending_output().empty()) return false;
    if (deliver) flight.emplace_back(now_ + delay_, base::to_bytes(s.pending_output()));
    s.consume_output(s.pending_output().size());
    return true;
  }

  bool deliver(Flight& flight, Session& to) {
    bool any = false;
    while (!flight.empty() && flight.front().first <= now_) {
      (void)to.handle_input(flight.front().second, now_);
      flight.pop_front();
      any = true;
    }
    return any;
  }

  bool dispatch(Session& s, const Handler& h) {
    bool any = false;
    while (auto e = s.poll_event()) {
      h(s, *e);
      any = true;
    }
    return any;
  }

  Time now_;
  Duration delay_;
  Session client_;
  Session server_;
  Flight to_server_;
  Flight to_client_;
};

}  // namespace portal::yamux::test
