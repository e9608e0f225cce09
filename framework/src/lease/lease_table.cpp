// SPDX-License-Identifier: Apache-2.0
#include "portal/lease/lease_table.hpp"

namespace portal::lease {

using wire::ResponseCode;

void LeaseTable::unbind(const Entry& e) {
  auto it = per_connection_.find(e.connection);
  if (it != per_connection_.end() && --it->second == 0) per_connection_.erase(it);
}

ResponseCode LeaseTable::update(const wire::Lease& lease, ConnectionId connection,
                                std::int64_t now) {
  if (!lease.identity) return ResponseCode::InvalidIdentity;
  const std::string& id = lease.identity->id;
  // §6.3 rule 1: an already expired lease is refused (second resolution).
  if (now > lease.expires) return ResponseCode::Rejected;
  // §6.3 rule 3: names are unique across identities, byte-exactly; "(unnamed)" is exempt and
  // expired entries that are not swept yet still hold their name.
  if (!lease.name.empty() && lease.name != kUnnamed) {
    for (const auto& [other_id, entry] : entries_) {
      if (other_id != id && entry.lease.name == lease.name) return ResponseCode::Rejected;
    }
  }
  auto existing = entries_.find(id);
  const bool moves = existing == entries_.end() || existing->second.connection != connection;
  if (moves && count(connection) >= limits_.max_leases_per_connection) {
    ++limit_refusals_;
    return ResponseCode::Rejected;
  }
  // §6.3 rule 4: store or replace, bound to the connection this update arrived on.
  if (existing != entries_.end()) {
    unbind(existing->second);
    existing->second = Entry{lease, connection, now};
  } else {
    entries_.emplace(id, Entry{lease, connection, now});
  }
  ++per_connection_[connection];
  return ResponseCode::Accepted;
}

ResponseCode LeaseTable::remove(std::string_view id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return ResponseCode::InvalidIdentity;
  unbind(it->second);
  entries_.erase(it);
  return ResponseCode::Accepted;
}

const Entry* LeaseTable::find(std::string_view id, std::int64_t now) const {
  auto it = entries_.find(id);
  if (it == entries_.end() || now > it->second.lease.expires) return nullptr;
  return &it->second;
}

std::vector<const Entry*> LeaseTable::list(std::int64_t now) const {
  std::vector<const Entry*> out;
  for (const auto& [id, e] : entries_) {
    if (now <= e.lease.expires) out.push_back(&e);
  }
  return out;
}

std::vector<std::string> LeaseTable::sweep(std::int64_t now) {
  std::vector<std::string> removed;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (now > it->second.lease.expires) {
      removed.push_back(it->first);
      unbind(it->second);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return removed;
}

std::vector<std::string> LeaseTable::drop_connection(ConnectionId connection) {
  std::vector<std::string> removed;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.connection == connection) {
      removed.push_back(it->first);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  per_connection_.erase(connection);
  return removed;
}

std::size_t LeaseTable::count(ConnectionId connection) const {
  auto it = per_connection_.find(connection);
  return it == per_connection_.end() ? 0 : it->second;
}

}  // namespace portal::lease
