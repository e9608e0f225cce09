// SPDX-License-Identifier: Apache-2.0
#include "portal/lease/memory_directory.hpp"

#include <algorithm>
#include <iterator>
#include <type_traits>

namespace portal::lease {
namespace {

bool writes(DirectoryOp op) {
  return op == DirectoryOp::ClaimName || op == DirectoryOp::PublishLease ||
         op == DirectoryOp::CheckNonce || op == DirectoryOp::Heartbeat;
}

bool needs_relay(DirectoryOp op) {
  return op == DirectoryOp::PublishLease || op == DirectoryOp::WithdrawLease ||
         op == DirectoryOp::Heartbeat;
}

bool needs_subject(DirectoryOp op) {
  return op == DirectoryOp::ClaimName || op == DirectoryOp::ReleaseName;
}

template <class Map>
void drop_expired(Map& m, std::int64_t now_ms) {
  std::erase_if(m, [now_ms](const auto& entry) {
    if constexpr (std::is_integral_v<std::decay_t<decltype(entry.second)>>) {
      return entry.second <= now_ms;
    } else {
      return entry.second.expires_ms <= now_ms;
    }
  });
}

}  // namespace

void MemoryDirectory::expire(std::int64_t now_ms) {
  drop_expired(names_, now_ms);
  drop_expired(records_, now_ms);
  drop_expired(nonces_, now_ms);
  drop_expired(members_, now_ms);
}

DirectoryReply MemoryDirectory::apply(const DirectoryRequest& r, std::int64_t now_ms) {
  DirectoryReply out;
  out.ticket = r.ticket;
  const auto fail = [&](DirectoryStatus s, std::string why) {
    out.status = s;
    out.detail = std::move(why);
    return out;
  };
  if (r.key.empty() && r.op != DirectoryOp::Members && r.op != DirectoryOp::Heartbeat) {
    return fail(DirectoryStatus::Invalid, "empty key");
  }
  if (writes(r.op) && r.ttl.count() < 1) {
    return fail(DirectoryStatus::Invalid, "a TTL below 1 ms");
  }
  if (needs_relay(r.op) && r.relay.empty()) {
    return fail(DirectoryStatus::Invalid, std::string(to_string(r.op)) + " without a relay ID");
  }
  if (needs_subject(r.op) && r.subject.empty()) {
    return fail(DirectoryStatus::Invalid, std::string(to_string(r.op)) + " without a subject");
  }
  const std::int64_t expires = now_ms + r.ttl.count();
  // Room for one more key: expired ones go first (each lookup below also ignores them).
  const auto room = [&]() {
    if (full()) expire(now_ms);
    return !full();
  };
  const auto overloaded = [&]() {
    return fail(DirectoryStatus::Overloaded,
                "the directory holds " + std::to_string(max_keys_) + " keys");
  };
  out.status = DirectoryStatus::Ok;
  switch (r.op) {
    case DirectoryOp::ClaimName: {
      auto it = names_.find(r.key);
      if (it != names_.end() && it->second.expires_ms <= now_ms) {
        names_.erase(it);
        it = names_.end();
      }
      if (it != names_.end() && it->second.text != r.subject) {
        out.holder = it->second.text;
        return fail(DirectoryStatus::Conflict, "the name is held by " + it->second.text);
      }
      if (it != names_.end()) {
        it->second.expires_ms = expires;
      } else {
        if (!room()) return overloaded();
        names_.emplace(r.key, Value{r.subject, {}, expires});
      }
      return out;
    }
    case DirectoryOp::ReleaseName: {
      const auto it = names_.find(r.key);
      if (it == names_.end() || it->second.expires_ms <= now_ms || it->second.text != r.subject) {
        return fail(DirectoryStatus::NotFound, "the identity does not hold the name");
      }
      names_.erase(it);
      return out;
    }
    case DirectoryOp::PublishLease: {
      auto it = records_.find({r.key, r.relay});
      if (it == records_.end()) {
        if (!room()) return overloaded();
        it = records_.emplace(std::make_pair(r.key, r.relay), Value{}).first;
      }
      it->second.bytes = r.value;
      it->second.expires_ms = expires;
      return out;
    }
    case DirectoryOp::WithdrawLease: {
      const auto it = records_.find({r.key, r.relay});
      const bool live = it != records_.end() && it->second.expires_ms > now_ms;
      if (it != records_.end()) records_.erase(it);
      if (!live) return fail(DirectoryStatus::NotFound, "no record of the lease on that relay");
      return out;
    }
    case DirectoryOp::Resolve: {
      std::string id = r.key;
      if (r.by_name) {
        const auto n = names_.find(r.key);
        if (n == names_.end() || n->second.expires_ms <= now_ms) {
          return fail(DirectoryStatus::NotFound, "no identity holds the name");
        }
        id = n->second.text;
      }
      for (auto it = records_.lower_bound({id, std::string()});
           it != records_.end() && it->first.first == id; ++it) {
        if (it->second.expires_ms <= now_ms) continue;
        out.records.push_back(
            DirectoryRecord{it->first.second, id, it->second.bytes,
                            std::chrono::milliseconds(it->second.expires_ms - now_ms)});
      }
      if (out.records.empty()) return fail(DirectoryStatus::NotFound, "no live holder");
      return out;
    }
    case DirectoryOp::CheckNonce: {
      if (r.value.empty()) return fail(DirectoryStatus::Invalid, "check_nonce without a nonce");
      auto it = nonces_.find({r.key, r.value});
      if (it != nonces_.end() && it->second > now_ms) {
        return fail(DirectoryStatus::Conflict, "the nonce was seen before");
      }
      if (it != nonces_.end()) {
        it->second = expires;
      } else {
        if (!room()) return overloaded();
        nonces_.emplace(std::make_pair(r.key, r.value), expires);
      }
      return out;
    }
    case DirectoryOp::Heartbeat: {
      auto it = members_.find(r.relay);
      if (it == members_.end()) {
        if (!room()) return overloaded();
        it = members_.emplace(r.relay, Value{}).first;
      }
      it->second.bytes = r.value;
      it->second.expires_ms = expires;
      return out;
    }
    case DirectoryOp::Members: {
      for (const auto& [relay, v] : members_) {
        if (v.expires_ms <= now_ms) continue;
        out.records.push_back(
            DirectoryRecord{relay, {}, v.bytes, std::chrono::milliseconds(v.expires_ms - now_ms)});
      }
      return out;
    }
  }
  return fail(DirectoryStatus::Invalid, "unknown operation");
}

}  // namespace portal::lease
