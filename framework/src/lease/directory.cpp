// SPDX-License-Identifier: Apache-2.0
#include "portal/lease/directory.hpp"

#include <algorithm>

namespace portal::lease {

const char* to_string(DirectoryStatus s) noexcept {
  switch (s) {
    case DirectoryStatus::Ok: return "ok";
    case DirectoryStatus::Conflict: return "conflict";
    case DirectoryStatus::NotFound: return "not_found";
    case DirectoryStatus::Unavailable: return "unavailable";
    case DirectoryStatus::TimedOut: return "timed_out";
    case DirectoryStatus::Overloaded: return "overloaded";
    case DirectoryStatus::Invalid: return "invalid";
  }
  return "unknown";
}

const char* to_string(DirectoryOp op) noexcept {
  switch (op) {
    case DirectoryOp::ClaimName: return "claim_name";
    case DirectoryOp::ReleaseName: return "release_name";
    case DirectoryOp::PublishLease: return "publish_lease";
    case DirectoryOp::WithdrawLease: return "withdraw_lease";
    case DirectoryOp::Resolve: return "resolve";
    case DirectoryOp::CheckNonce: return "check_nonce";
    case DirectoryOp::Heartbeat: return "heartbeat";
    case DirectoryOp::Members: return "members";
  }
  return "unknown";
}

bool within(const DirectoryReply& reply, const DirectoryBounds& bounds, std::string& problem) {
  if (reply.records.size() > bounds.max_records) {
    problem = std::to_string(reply.records.size()) + " records, at most " +
              std::to_string(bounds.max_records);
    return false;
  }
  if (reply.holder.size() > bounds.max_key) {
    problem = "holder ID of " + std::to_string(reply.holder.size()) + " bytes, at most " +
              std::to_string(bounds.max_key);
    return false;
  }
  for (const auto& r : reply.records) {
    if (r.relay.size() > bounds.max_key || r.key.size() > bounds.max_key) {
      problem = "a record key of " + std::to_string(std::max(r.relay.size(), r.key.size())) +
                " bytes, at most " + std::to_string(bounds.max_key);
      return false;
    }
    if (r.value.size() > bounds.max_value) {
      problem = "a record value of " + std::to_string(r.value.size()) + " bytes, at most " +
                std::to_string(bounds.max_value);
      return false;
    }
  }
  return true;
}

}  // namespace portal::lease
