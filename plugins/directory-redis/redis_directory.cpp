// SPDX-License-Identifier: Apache-2.0
#include "redis_directory.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "portal/base/encoding.hpp"
#include "portal/base/parse.hpp"
#include "portal/base/secret.hpp"
#include "portal/plugin/settings.hpp"
#include "resp.hpp"

namespace portal::redis {

namespace {

using lease::DirectoryOp;
using lease::DirectoryReply;
using lease::DirectoryRequest;
using lease::DirectoryStatus;

constexpr std::size_t kMaxPassword = 4096;
constexpr std::size_t kMaxPrefix = 128;
constexpr std::size_t kMaxUser = 256;
constexpr std::size_t kBatch = 64;  // requests pipelined in one round trip
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);
constexpr auto kIdlePing = std::chrono::milliseconds(1000);

// ---------------------------------------------------------------------------------------------
// Settings

bool parse_url(const std::string& url, Config& c, std::string& problem) {
  auto bad = [&](const std::string& why) {
    problem =
        "url: expected redis://HOST:PORT or redis://HOST:PORT/DB (" + why + "), got '" + url + "'";
    return false;
  };
  constexpr std::string_view kScheme = "redis://";
  if (url.compare(0, kScheme.size(), kScheme) != 0) return bad("only redis:// is supported");
  std::string rest = url.substr(kScheme.size());
  std::string path;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    path = rest.substr(slash + 1);
    rest.resize(slash);
    if (path.empty()) return bad("an empty database number");
  }
  if (rest.find('@') != std::string::npos) {
    return bad("credentials go in `user` and `password_file`");
  }
  std::string host;
  std::string port;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return bad("a bracketed IPv6 address needs ]:PORT");
    }
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    auto colon = rest.rfind(':');
    if (colon == std::string::npos) return bad("no port");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.find(':') != std::string::npos) return bad("an IPv6 address needs brackets");
  }
  if (host.empty()) return bad("no host");
  for (char ch : host) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == ':' || ch == '_';
    if (!ok) return bad("a bad character in the host");
  }
  std::uint64_t n = 0;
  if (!base::parse_unsigned(port, n) || n < 1 || n > 65535) return bad("a port from 1 to 65535");
  c.port = static_cast<std::uint16_t>(n);
  if (!path.empty()) {
    if (!base::parse_unsigned(path, n) || n > 65535) return bad("a database from 0 to 65535");
    c.db = static_cast<std::uint32_t>(n);
  }
  c.host = std::move(host);
  return true;
}

// ---------------------------------------------------------------------------------------------
// The scripts (ADR 0015 §2). Times are Redis's own clock (TIME), in milliseconds, so that relays
// with skewed clocks agree on which records are live.

constexpr const char* kNow =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n";

// KEYS: name:<folded>. ARGV: subject, ttl. {1} claimed or extended; {0, holder} held by another.
constexpr const char* kClaim =
    "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1} end\n"
    "local v = redis.call('GET', KEYS[1])\n"
    "if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return {1} end\n"
    "return {0, v}\n";

// KEYS: name:<folded>. ARGV: subject. 1 released; 0 not held by the subject.
constexpr const char* kRelease =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end\n"
    "return 0\n";

// KEYS: the record (lease:<id>:<relay> or relay:<relay>), the sorted set (holders:<id> or
// relays). ARGV: relay, ttl, value. The set lives as long as its longest-lived member.
constexpr const char* kPublishTail =
    "local ttl = tonumber(ARGV[2])\n"
    "redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl)\n"
    "redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])\n"
    "if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end\n"
    "return 1\n";

// KEYS: lease:<id>:<relay>, holders:<id>. ARGV: relay. 1 removed; 0 there was no record.
constexpr const char* kWithdraw =
    "local n = redis.call('DEL', KEYS[1])\n"
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "return n\n";

// The live members of sorted set `set` (stale ones pruned first), each as {member, value of
// keyof(member), its PTTL} appended to `out`; a member whose key vanished is removed from the
// set. {-1, n}: n members, more than max_records; {-2, n}: a value of n bytes, past max_value.
// Resolve and Members share it (after kNow, whose `now` it uses).
constexpr const char* kCollect =
    "local function collect(set, out, keyof, max_records, max_value)\n"
    "  redis.call('ZREMRANGEBYSCORE', set, '-inf', now)\n"
    "  local ids = redis.call('ZRANGE', set, 0, -1)\n"
    "  if #ids > max_records then return {-1, #ids} end\n"
    "  for _, r in ipairs(ids) do\n"
    "    local k = keyof(r)\n"
    "    local len = redis.call('STRLEN', k)\n"
    "    if len > max_value then return {-2, len} end\n"
    "    local v = redis.call('GET', k)\n"
    "    if v then\n"
    "      out[#out + 1] = r\n"
    "      out[#out + 1] = v\n"
    "      out[#out + 1] = redis.call('PTTL', k)\n"
    "    else\n"
    "      redis.call('ZREM', set, r)\n"
    "    end\n"
    "  end\n"
    "  return out\n"
    "end\n";

// ARGV: prefix, key, by_name (1/0), max records, max value. {0}: none; {-1, n}: n records, too
// many; {-2, n}: a value of n bytes, too big; {1, id, relay, value, pttl, ...}.
constexpr const char* kResolveTail =
    "local p = ARGV[1]\n"
    "local id = ARGV[2]\n"
    "if ARGV[3] == '1' then\n"
    "  id = redis.call('GET', p .. 'name:' .. ARGV[2])\n"
    "  if not id then return {0} end\n"
    "end\n"
    "return collect(p .. 'holders:' .. id, {1, id},\n"
    "               function(r) return p .. 'lease:' .. id .. ':' .. r end,\n"
    "               tonumber(ARGV[4]), tonumber(ARGV[5]))\n";

// ARGV: prefix, max records, max value. {-1, n}, {-2, n} as above; {1, relay, uri, pttl, ...}.
constexpr const char* kMembersTail =
    "local p = ARGV[1]\n"
    "return collect(p .. 'relays', {1}, function(r) return p .. 'relay:' .. r end,\n"
    "               tonumber(ARGV[2]), tonumber(ARGV[3]))\n";

// The scripts, by index; loaded with SCRIPT LOAD on each connection and run with EVALSHA.
enum Script : std::size_t {
  kClaimScript,
  kReleaseScript,
  kPublishScript,
  kWithdrawScript,
  kResolveScript,
  kMembersScript,
  kScripts
};

const std::string& script_text(std::size_t index) {
  static const std::array<std::string, kScripts> texts = {
      kClaim,
      kRelease,
      std::string(kNow) + kPublishTail,
      kWithdraw,
      std::string(kNow) + kCollect + kResolveTail,
      std::string(kNow) + kCollect + kMembersTail};
  return texts.at(index);
}

// The script `op` runs; kScripts for CheckNonce (a plain SET NX PX).
std::size_t script_of(DirectoryOp op) {
  switch (op) {
    case DirectoryOp::ClaimName: return kClaimScript;
    case DirectoryOp::ReleaseName: return kReleaseScript;
    case DirectoryOp::PublishLease:
    case DirectoryOp::Heartbeat: return kPublishScript;
    case DirectoryOp::WithdrawLease: return kWithdrawScript;
    case DirectoryOp::Resolve: return kResolveScript;
    case DirectoryOp::Members: return kMembersScript;
    case DirectoryOp::CheckNonce: break;
  }
  return kScripts;
}

using Shas = std::array<std::string, kScripts>;

std::string as_string(const base::Bytes& b) { return {b.begin(), b.end()}; }
base::Bytes as_bytes(const std::string& s) { return {s.begin(), s.end()}; }

DirectoryReply make_reply(DirectoryStatus status, std::string detail = {}) {
  DirectoryReply r;
  r.status = status;
  r.detail = std::move(detail);
  return r;
}

// What is wrong with `r` before anything is sent; empty when nothing.
std::string check_request(const DirectoryRequest& r, const lease::DirectoryBounds& bounds) {
  auto needs_ttl = r.op == DirectoryOp::ClaimName || r.op == DirectoryOp::PublishLease ||
                   r.op == DirectoryOp::CheckNonce || r.op == DirectoryOp::Heartbeat;
  if (needs_ttl && r.ttl.count() < 1) return "a time to live of at least 1 ms is required";
  if (r.op != DirectoryOp::Members && r.op != DirectoryOp::Heartbeat && r.key.empty()) {
    return "an empty key";
  }
  if (r.key.size() > bounds.max_key || r.subject.size() > bounds.max_key ||
      r.relay.size() > bounds.max_key) {
    return "a key, subject or relay ID longer than " + std::to_string(bounds.max_key) + " bytes";
  }
  if ((r.op == DirectoryOp::ClaimName || r.op == DirectoryOp::ReleaseName) && r.subject.empty()) {
    return "no subject identity";
  }
  if ((r.op == DirectoryOp::PublishLease || r.op == DirectoryOp::WithdrawLease ||
       r.op == DirectoryOp::Heartbeat) &&
      r.relay.empty()) {
    return "no relay ID";
  }
  if (r.op == DirectoryOp::CheckNonce && r.value.empty()) return "an empty nonce";
  if ((r.op == DirectoryOp::PublishLease || r.op == DirectoryOp::Heartbeat) &&
      r.value.size() > bounds.max_value) {
    return "a value longer than " + std::to_string(bounds.max_value) + " bytes";
  }
  if (r.op < DirectoryOp::ClaimName || r.op > DirectoryOp::Members) return "an unknown operation";
  return {};
}

// The command for `r`, keys under `prefix`: EVALSHA when the script's SHA1 is known and
// `eval` is false, EVAL with the script's text otherwise.
std::vector<std::string> command(const DirectoryRequest& r, const std::string& prefix,
                                 const lease::DirectoryBounds& bounds, const Shas& shas,
                                 bool eval) {
  const std::string ttl = std::to_string(r.ttl.count());
  std::vector<std::string> c;
  if (std::size_t index = script_of(r.op); index < kScripts) {
    if (eval || shas[index].empty()) {
      c = {"EVAL", script_text(index)};
    } else {
      c = {"EVALSHA", shas[index]};
    }
  }
  auto add = [&c](std::initializer_list<std::string> args) {
    c.insert(c.end(), args.begin(), args.end());
    return c;
  };
  switch (r.op) {
    case DirectoryOp::ClaimName: return add({"1", prefix + "name:" + r.key, r.subject, ttl});
    case DirectoryOp::ReleaseName: return add({"1", prefix + "name:" + r.key, r.subject});
    case DirectoryOp::PublishLease:
      return add({"2", prefix + "lease:" + r.key + ":" + r.relay, prefix + "holders:" + r.key,
                  r.relay, ttl, as_string(r.value)});
    case DirectoryOp::WithdrawLease:
      return add(
          {"2", prefix + "lease:" + r.key + ":" + r.relay, prefix + "holders:" + r.key, r.relay});
    case DirectoryOp::Resolve:
      return add({"0", prefix, r.key, r.by_name ? "1" : "0", std::to_string(bounds.max_records),
                  std::to_string(bounds.max_value)});
    case DirectoryOp::CheckNonce:
      return add({"SET", prefix + "nonce:" + r.key + ":" + base::hex_encode(r.value), "1", "NX",
                  "PX", ttl});
    case DirectoryOp::Heartbeat:
      return add(
          {"2", prefix + "relay:" + r.relay, prefix + "relays", r.relay, ttl, as_string(r.value)});
    case DirectoryOp::Members:
      return add(
          {"0", prefix, std::to_string(bounds.max_records), std::to_string(bounds.max_value)});
  }
  return c;
}

// Redis errors that say the engine cannot serve now (rather than that the data is wrong).
bool transient_error(const std::string& message) {
  for (const char* code : {"LOADING", "BUSY", "OOM", "READONLY", "MASTERDOWN", "NOAUTH", "TRYAGAIN",
                           "CLUSTERDOWN", "NOPERM", "MISCONF"}) {
    std::string_view c(code);
    if (message.compare(0, c.size(), c) == 0) return true;
  }
  return false;
}

DirectoryReply invalid(const std::string& what) {
  return make_reply(DirectoryStatus::Invalid, "Redis answered " + what);
}

// {1, [id,] relay, value, pttl, ...} into records; the other codes into statuses.
DirectoryReply records(const Value& v, bool with_id) {
  if (v.type != Value::Type::Array || v.items.empty() || v.items[0].type != Value::Type::Integer) {
    return invalid("a malformed record list");
  }
  std::int64_t code = v.items[0].integer;
  if (code == 0) return make_reply(DirectoryStatus::NotFound);
  if ((code == -1 || code == -2) && v.items.size() == 2 &&
      v.items[1].type == Value::Type::Integer) {
    return make_reply(DirectoryStatus::Invalid,
                      code == -1
                          ? "the directory holds " + std::to_string(v.items[1].integer) +
                                " records, more than the bound"
                          : "the directory holds a value of " + std::to_string(v.items[1].integer) +
                                " bytes, more than the bound");
  }
  std::size_t first = with_id ? 2 : 1;
  if (code != 1 || v.items.size() < first || (v.items.size() - first) % 3 != 0) {
    return invalid("a malformed record list");
  }
  DirectoryReply reply = make_reply(DirectoryStatus::Ok);
  std::string id;
  if (with_id) {
    if (v.items[1].type != Value::Type::Bulk) return invalid("a malformed identity");
    id = v.items[1].text;
  }
  reply.records.reserve((v.items.size() - first) / 3);
  for (std::size_t i = first; i < v.items.size(); i += 3) {
    if (v.items[i].type != Value::Type::Bulk || v.items[i + 1].type != Value::Type::Bulk ||
        v.items[i + 2].type != Value::Type::Integer) {
      return invalid("a malformed record");
    }
    lease::DirectoryRecord rec;
    rec.relay = v.items[i].text;
    rec.key = id;
    rec.value = as_bytes(v.items[i + 1].text);
    rec.ttl_left = std::chrono::milliseconds(std::max<std::int64_t>(0, v.items[i + 2].integer));
    reply.records.push_back(std::move(rec));
  }
  if (with_id && reply.records.empty()) return make_reply(DirectoryStatus::NotFound);
  return reply;
}

// The reply to `op` from Redis's answer `v`.
DirectoryReply decode(DirectoryOp op, const Value& v) {
  if (v.type == Value::Type::Error) {
    return make_reply(
        transient_error(v.text) ? DirectoryStatus::Unavailable : DirectoryStatus::Invalid,
        "Redis: " + v.text);
  }
  auto integer = [&](DirectoryStatus zero) {
    if (v.type != Value::Type::Integer || (v.integer != 0 && v.integer != 1)) {
      return invalid("something other than 0 or 1");
    }
    return make_reply(v.integer == 1 ? DirectoryStatus::Ok : zero);
  };
  switch (op) {
    case DirectoryOp::ClaimName: {
      if (v.type != Value::Type::Array || v.items.empty() ||
          v.items[0].type != Value::Type::Integer) {
        return invalid("a malformed claim");
      }
      if (v.items[0].integer == 1 && v.items.size() == 1) return make_reply(DirectoryStatus::Ok);
      if (v.items[0].integer == 0 && v.items.size() == 2 && v.items[1].type == Value::Type::Bulk) {
        DirectoryReply r = make_reply(DirectoryStatus::Conflict, "the name is held");
        r.holder = v.items[1].text;
        return r;
      }
      return invalid("a malformed claim");
    }
    case DirectoryOp::ReleaseName: return integer(DirectoryStatus::NotFound);
    case DirectoryOp::PublishLease:
    case DirectoryOp::Heartbeat: return integer(DirectoryStatus::Invalid);
    case DirectoryOp::WithdrawLease: return integer(DirectoryStatus::NotFound);
    case DirectoryOp::Resolve: return records(v, true);
    case DirectoryOp::CheckNonce:
      if (v.type == Value::Type::Nil) return make_reply(DirectoryStatus::Conflict, "a replay");
      if (v.type == Value::Type::Simple && v.text == "OK") return make_reply(DirectoryStatus::Ok);
      return invalid("something other than OK or nil to SET NX");
    case DirectoryOp::Members: return records(v, false);
  }
  return invalid("an unknown operation");
}

// ---------------------------------------------------------------------------------------------
// The client

struct Shared {
  boost::asio::any_io_executor executor;
  lease::DirectoryBounds bounds;
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::int64_t> last_latency_us{0};
};

// One accepted request: completed exactly once, by the connection thread or by its deadline
// timer on the executor, whichever comes first.
struct Slot {
  std::shared_ptr<Shared> shared;
  DirectoryRequest request;
  directory::DirectoryClient::Done done;
  Clock::time_point submitted;
  Clock::time_point deadline;
  std::atomic<bool> finished{false};
  std::unique_ptr<boost::asio::steady_timer> timer;
};

void finish(const std::shared_ptr<Slot>& slot, DirectoryReply reply) {
  if (slot->finished.exchange(true)) return;
  Shared& shared = *slot->shared;
  reply.ticket = slot->request.ticket;
  if (reply.status == DirectoryStatus::Ok || reply.status == DirectoryStatus::Conflict ||
      reply.status == DirectoryStatus::NotFound) {
    std::string problem;
    if (!lease::within(reply, shared.bounds, problem)) {
      reply = make_reply(DirectoryStatus::Invalid, "Redis answered past a bound: " + problem);
      reply.ticket = slot->request.ticket;
    }
  }
  shared.completed.fetch_add(1, std::memory_order_relaxed);
  switch (reply.status) {
    case DirectoryStatus::Ok:
      shared.last_latency_us.store(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - slot->submitted)
              .count(),
          std::memory_order_relaxed);
      break;
    case DirectoryStatus::Unavailable:
    case DirectoryStatus::TimedOut:
    case DirectoryStatus::Overloaded:
    case DirectoryStatus::Invalid: shared.failed.fetch_add(1, std::memory_order_relaxed); break;
    default: break;
  }
  boost::asio::post(shared.executor, [slot, reply = std::move(reply)]() mutable {
    if (slot->timer) slot->timer->cancel();
    auto done = std::move(slot->done);
    slot->done = nullptr;
    if (done) done(std::move(reply));
  });
}

// Saturating arithmetic for limits derived from the bounds.
std::size_t add(std::size_t a, std::size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }
std::size_t mul(std::size_t a, std::size_t b) {
  return b != 0 && a > SIZE_MAX / b ? SIZE_MAX : a * b;
}

class RedisDirectory final : public directory::DirectoryClient {
 public:
  RedisDirectory(boost::asio::any_io_executor executor, Config config, std::string password,
                 const lease::DirectoryBounds& bounds)
      : config_(std::move(config)), password_(std::move(password)) {
    shared_ = std::make_shared<Shared>();
    shared_->executor = std::move(executor);
    shared_->bounds = bounds;
    limits_.max_bulk = std::max(bounds.max_value, bounds.max_key);
    limits_.max_elements = add(2, mul(3, bounds.max_records));
    limits_.max_total = add(mul(bounds.max_records, add(bounds.max_value, bounds.max_key)),
                            add(mul(2, bounds.max_key), 4096));
    thread_ = std::thread([this] { run(); });
  }

  ~RedisDirectory() override {
    close();
    base::secure_zero(password_.data(), password_.size());
  }

  bool submit(DirectoryRequest request, Done done) noexcept override {
    try {
      auto slot = std::make_shared<Slot>();
      slot->shared = shared_;
      slot->request = std::move(request);
      slot->done = std::move(done);
      slot->submitted = Clock::now();
      slot->deadline = slot->submitted + config_.timeout;
      std::unique_lock lock(mutex_);
      if (closed_ || queue_.size() + in_flight_ >= config_.queue) return false;
      if (auto problem = check_request(slot->request, shared_->bounds); !problem.empty()) {
        lock.unlock();
        finish(slot, make_reply(DirectoryStatus::Invalid, "bad request: " + problem));
        return true;
      }
      if (state_ == State::Down) {
        std::string why = last_error_;
        lock.unlock();
        finish(slot, make_reply(DirectoryStatus::Unavailable, why));
        return true;
      }
      slot->timer = std::make_unique<boost::asio::steady_timer>(shared_->executor, slot->deadline);
      slot->timer->async_wait([weak = std::weak_ptr<Slot>(slot)](boost::system::error_code ec) {
        if (ec) return;
        if (auto s = weak.lock()) {
          try {
            finish(s, make_reply(DirectoryStatus::TimedOut, "no answer from Redis in time"));
          } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory posting; nothing to do
          }
        }
      });
      queue_.push_back(std::move(slot));
      lock.unlock();
      wake_.notify_one();
      return true;
    } catch (...) {
      return false;
    }
  }

  void close() noexcept override {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    closing_.store(true);
    wake_.notify_all();
    {
      // Interrupts an exchange blocked on the socket (a stopped server), so that close() never
      // waits for a deadline.
      std::lock_guard lock(connection_mutex_);
      if (connection_) connection_->abort();
    }
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }

  directory::Health health() const noexcept override {
    directory::Health h;
    {
      std::lock_guard lock(mutex_);
      h.connected = state_ == State::Up;
      h.queued = queue_.size() + in_flight_;
      h.reconnects = reconnects_;
      try {
        h.last_error = last_error_;
      } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory; the rest is still true
      }
    }
    h.completed = shared_->completed.load(std::memory_order_relaxed);
    h.failed = shared_->failed.load(std::memory_order_relaxed);
    h.last_latency = std::chrono::microseconds(shared_->last_latency_us.load());
    return h;
  }

 private:
  enum class State { Connecting, Up, Down };

  void run() noexcept {
    auto backoff = config_.reconnect;
    std::mt19937_64 jitter(std::random_device{}());
    bool connected_before = false;
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (closed_) break;
      }
      if (!connection_) {
        std::string error;
        if (connect(error)) {
          std::lock_guard lock(mutex_);
          state_ = State::Up;
          last_error_.clear();
          if (connected_before) ++reconnects_;
          connected_before = true;
          backoff = config_.reconnect;
        } else {
          std::deque<std::shared_ptr<Slot>> failed;
          {
            std::lock_guard lock(mutex_);
            state_ = State::Down;
            last_error_ = error;
            failed.swap(queue_);
          }
          fail(failed, DirectoryStatus::Unavailable, error);
          // Full jitter in the upper half: from backoff/2 to backoff.
          auto half = backoff.count() / 2;
          std::uniform_int_distribution<std::int64_t> pick(half, backoff.count());
          auto wait = std::chrono::milliseconds(pick(jitter));
          backoff = std::min(backoff * 2, std::chrono::milliseconds(kMaxBackoff));
          std::unique_lock lock(mutex_);
          wake_.wait_for(lock, wait, [&] { return closed_; });
          if (closed_) break;
          state_ = State::Connecting;
          continue;
        }
      }
      std::vector<std::shared_ptr<Slot>> batch;
      {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, kIdlePing, [&] { return closed_ || !queue_.empty(); });
        if (closed_) break;
        while (!queue_.empty() && batch.size() < kBatch) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        in_flight_ = batch.size();
      }
      if (batch.empty()) {
        ping();
      } else {
        exchange(batch);
      }
      std::lock_guard lock(mutex_);
      in_flight_ = 0;
    }
    // Closed: whatever is left never reaches Redis.
    std::deque<std::shared_ptr<Slot>> left;
    {
      std::lock_guard lock(mutex_);
      left.swap(queue_);
      state_ = State::Down;
    }
    fail(left, DirectoryStatus::Unavailable, "the directory client is closed");
    set_connection(nullptr);
  }

  template <class Slots>
  static void fail(Slots& slots, DirectoryStatus status, const std::string& why) noexcept {
    for (auto& s : slots) {
      try {
        finish(s, make_reply(status, why));
      } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory posting; nothing to do
      }
    }
  }

  // Connects, authenticates and selects the database; on failure `error` says why.
  bool connect(std::string& error) noexcept {
    try {
      set_connection(nullptr);
      auto made =
          std::make_unique<Connection>(config_.host, config_.port, config_.timeout, Limits{});
      {
        std::lock_guard lock(connection_mutex_);
        if (closing_.load()) {
          error = "the directory client is closed";
          return false;
        }
        connection_ = std::move(made);
      }
      Connection* c = connection_.get();
      auto deadline = Clock::now() + config_.timeout;
      std::string hello;
      if (!config_.password_file.empty()) {
        hello += config_.user.empty() ? encode({"AUTH", password_})
                                      : encode({"AUTH", config_.user, password_});
      }
      if (config_.db != 0) hello += encode({"SELECT", std::to_string(config_.db)});
      hello += encode({"PING"});
      for (std::size_t i = 0; i < kScripts; ++i)
        hello += encode({"SCRIPT", "LOAD", script_text(i)});
      c->send(hello, deadline);
      if (!config_.password_file.empty()) {
        Value v = c->read(deadline);
        if (v.type == Value::Type::Error) {
          error = "Redis refused AUTH" +
                  (config_.user.empty() ? std::string() : " as user '" + config_.user + "'") +
                  ": " + v.text;
          set_connection(nullptr);
          return false;
        }
      }
      if (config_.db != 0) {
        Value v = c->read(deadline);
        if (v.type == Value::Type::Error) {
          error = "Redis refused SELECT " + std::to_string(config_.db) + ": " + v.text;
          set_connection(nullptr);
          return false;
        }
      }
      Value v = c->read(deadline);
      if (v.type == Value::Type::Error) {
        error = v.text.compare(0, 6, "NOAUTH") == 0
                    ? "Redis requires a password (set password_file): " + v.text
                    : "Redis refused PING: " + v.text;
        set_connection(nullptr);
        return false;
      }
      // A SHA1 Redis does not give (scripting disabled, say) leaves EVAL for that script.
      for (std::size_t i = 0; i < kScripts; ++i) {
        Value sha = c->read(deadline);
        shas_[i] = sha.type == Value::Type::Bulk && sha.text.size() == 40 ? sha.text : "";
      }
      // The handshake's replies (script SHA1s) had the default limits; the directory's from now.
      c->set_limits(limits_);
      return true;
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "connecting to Redis failed";
    }
    set_connection(nullptr);
    return false;
  }

  void set_connection(std::unique_ptr<Connection> c) noexcept {
    std::lock_guard lock(connection_mutex_);
    connection_ = std::move(c);
  }

  void drop(const std::string& why) noexcept {
    set_connection(nullptr);
    try {
      std::lock_guard lock(mutex_);
      state_ = State::Connecting;
      last_error_ = closing_.load() ? std::string("the directory client is closed") : why;
    } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory copying the reason
    }
  }

  void ping() noexcept {
    try {
      auto deadline = Clock::now() + config_.timeout;
      connection_->send(encode({"PING"}), deadline);
      Value v = connection_->read(deadline);
      if (v.type == Value::Type::Error) drop("Redis refused PING: " + v.text);
    } catch (const std::exception& e) {
      drop(e.what());
    } catch (...) {
      drop("pinging Redis failed");
    }
  }

  // Sends the batch in one write and reads the replies in order.
  void exchange(std::vector<std::shared_ptr<Slot>>& batch) noexcept {
    std::vector<std::shared_ptr<Slot>> sent;
    std::size_t answered = 0;
    try {
      std::string out;
      Clock::time_point deadline = Clock::now();
      for (auto& s : batch) {
        if (s->finished.load() || Clock::now() >= s->deadline) {
          finish(s, make_reply(DirectoryStatus::TimedOut, "no answer from Redis in time"));
          continue;
        }
        out += encode(command(s->request, config_.key_prefix, shared_->bounds, shas_, false));
        deadline = std::max(deadline, s->deadline);
        sent.push_back(s);
      }
      if (sent.empty()) return;
      connection_->send(out, deadline);
      // A script Redis no longer has (SCRIPT FLUSH, a failover) did not run: those requests are
      // sent again once, with EVAL, after the batch's replies are read.
      std::vector<std::shared_ptr<Slot>> again;
      for (auto& s : sent) {
        Value v = connection_->read(deadline);
        ++answered;
        if (v.type == Value::Type::Error && v.text.compare(0, 8, "NOSCRIPT") == 0) {
          again.push_back(s);
        } else {
          finish(s, decode(s->request.op, v));
        }
      }
      if (again.empty()) return;
      sent = std::move(again);
      answered = 0;
      out.clear();
      for (auto& s : sent) {
        out += encode(command(s->request, config_.key_prefix, shared_->bounds, shas_, true));
      }
      connection_->send(out, deadline);
      for (auto& s : sent) {
        Value v = connection_->read(deadline);
        ++answered;
        finish(s, decode(s->request.op, v));
      }
      return;
    } catch (const ProtocolError& e) {
      // The reply to sent[answered] broke a bound: the connection is out of step.
      if (answered < sent.size()) {
        finish(sent[answered], make_reply(DirectoryStatus::Invalid, e.what()));
        ++answered;
      }
      drop(std::string("dropped the connection after an invalid reply: ") + e.what());
    } catch (const TimeoutError& e) {
      for (std::size_t i = answered; i < sent.size(); ++i) {
        finish(sent[i], make_reply(DirectoryStatus::TimedOut, e.what()));
      }
      answered = sent.size();
      drop(e.what());
    } catch (const std::exception& e) {
      drop(e.what());
    } catch (...) {
      drop("the Redis exchange failed");
    }
    std::string why;
    {
      std::lock_guard lock(mutex_);
      why = last_error_;
    }
    for (std::size_t i = answered; i < sent.size(); ++i) {
      try {
        finish(sent[i], make_reply(DirectoryStatus::Unavailable, why));
      } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory posting; nothing to do
      }
    }
    for (auto& s : batch) {
      if (!s->finished.load()) {
        try {
          finish(s, make_reply(DirectoryStatus::Unavailable, why));
        } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory posting; nothing to do
        }
      }
    }
  }

  Config config_;
  std::string password_;
  Limits limits_;
  std::shared_ptr<Shared> shared_;
  // Made, used and dropped by the connection thread; the mutex guards its lifetime against
  // close(), which aborts it from another thread.
  std::mutex connection_mutex_;
  std::unique_ptr<Connection> connection_;
  std::atomic<bool> closing_{false};
  Shas shas_;  // of the current connection; the connection thread's

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Slot>> queue_;
  std::size_t in_flight_ = 0;
  bool closed_ = false;
  State state_ = State::Connecting;
  std::string last_error_;
  std::uint64_t reconnects_ = 0;
  std::thread thread_;
};

}  // namespace

bool parse_config(const directory::Settings& settings, Config& config, std::string& problem) {
  std::string url;
  bool have_url = false;
  plugin::SettingsReader r(settings, "redis directory");
  r.number("queue", config.queue, 1, 1u << 20, "requests")
      .millis("timeout_ms", config.timeout, 1)
      .millis("reconnect_ms", config.reconnect, 1)
      .keys(
          [](std::string_view key) {
            return key == "url" || key == "user" || key == "password_file" || key == "key_prefix";
          },
          [&](const std::string& key, const std::string& value, std::string& p) {
            if (key == "url") {
              have_url = true;
              url = value;
            } else if (key == "user") {
              if (value.empty() || value.size() > kMaxUser ||
                  value.find_first_of(" \t\r\n") != std::string::npos) {
                p = "user: expected a Redis user name (1 to 256 bytes, no spaces), got '" + value +
                    "'";
                return false;
              }
              config.user = value;
            } else if (key == "password_file") {
              if (value.empty()) {
                p = "password_file: expected a file path, got ''";
                return false;
              }
              config.password_file = value;
            } else {  // key_prefix
              bool printable = std::all_of(value.begin(), value.end(), [](char ch) {
                auto u = static_cast<unsigned char>(ch);
                return u > 0x20 && u < 0x7f;
              });
              if (value.size() > kMaxPrefix || !printable) {
                p = "key_prefix: expected up to 128 printable characters without spaces, got '" +
                    value + "'";
                return false;
              }
              config.key_prefix = value;
            }
            return true;
          });
  if (!r.done(problem)) return false;
  if (!have_url) {
    problem = "url: required (redis://HOST:PORT or redis://HOST:PORT/DB)";
    return false;
  }
  if (!config.user.empty() && config.password_file.empty()) {
    problem = "user: needs password_file";
    return false;
  }
  if (config.reconnect > kMaxBackoff) {
    problem = "reconnect_ms: expected milliseconds from 1 to 5000, got '" +
              std::to_string(config.reconnect.count()) + "'";
    return false;
  }
  return parse_url(url, config, problem);
}

bool read_password(const std::string& path, std::string& password, std::string& problem) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    problem = "password_file: cannot read '" + path + "'";
    return false;
  }
  std::string text;
  char chunk[512];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    text.append(chunk, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxPassword + 2) {
      base::secure_zero(text.data(), text.size());
      problem = "password_file: '" + path + "' is longer than 4096 bytes";
      return false;
    }
  }
  base::secure_zero(chunk, sizeof chunk);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty() || text.find_first_of("\r\n") != std::string::npos) {
    base::secure_zero(text.data(), text.size());
    problem = "password_file: '" + path + "' must hold one non-empty line";
    return false;
  }
  password = std::move(text);
  return true;
}

std::shared_ptr<directory::DirectoryClient> open_client(boost::asio::any_io_executor executor,
                                                        Config config, std::string password,
                                                        const lease::DirectoryBounds& bounds) {
  return std::make_shared<RedisDirectory>(std::move(executor), std::move(config),
                                          std::move(password), bounds);
}

}  // namespace portal::redis
