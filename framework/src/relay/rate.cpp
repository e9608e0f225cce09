// SPDX-License-Identifier: Apache-2.0
#include "portal/relay/rate.hpp"

#include <algorithm>
#include <cmath>

namespace portal::relay {

std::uint64_t RateBucket::burst_for(std::uint64_t bytes_per_second) noexcept {
  if (bytes_per_second == 0) return 0;
  const auto share = bytes_per_second / (1000 / static_cast<std::uint64_t>(kBurstTime.count()));
  return std::max(share, kMinBurst);
}

RateBucket::RateBucket(std::uint64_t bytes_per_second, Steady now,
                       std::shared_ptr<RateCounters> counters)
    : rate_(bytes_per_second),
      burst_(burst_for(bytes_per_second)),
      allowance_(burst_),
      at_(now),
      counters_(std::move(counters)) {}

void RateBucket::refill(Steady now) {
  const auto rate = rate_.load();
  if (now <= at_ || rate == 0) {
    at_ = std::max(at_, now);
    return;
  }
  const double seconds = std::chrono::duration<double>(now - at_).count();
  at_ = now;
  const std::uint64_t room = reserved_ + burst_ - allowance_;  // allowance_ <= reserved_ + burst_
  const double add = static_cast<double>(rate) * seconds + fraction_;
  if (add >= static_cast<double>(room)) {
    allowance_ = reserved_ + burst_;
    fraction_ = 0;
    return;
  }
  const double whole = std::floor(add);
  allowance_ += static_cast<std::uint64_t>(whole);
  fraction_ = add - whole;
}

void RateBucket::set_rate(std::uint64_t bytes_per_second, Steady now) {
  std::lock_guard lock(m_);
  const bool was_unlimited = rate_.load() == 0;
  refill(now);  // at the old rate, up to now
  rate_.store(bytes_per_second);
  burst_ = burst_for(bytes_per_second);
  if (was_unlimited) {
    allowance_ = reserved_ + burst_;
    fraction_ = 0;
  } else {
    allowance_ = std::min(allowance_, reserved_ + burst_);
  }
  at_ = std::max(at_, now);
}

std::uint64_t RateBucket::rate() const noexcept { return rate_.load(); }

std::uint64_t RateBucket::burst() const noexcept {
  std::lock_guard lock(m_);
  return burst_;
}

RateBucket::Ticket RateBucket::reserve(std::size_t n, Steady now) {
  if (n == 0 || rate_.load() == 0) return 0;
  std::lock_guard lock(m_);
  if (rate_.load() == 0) return 0;
  refill(now);
  reserved_ += n;
  if (reserved_ > allowance_ && counters_) counters_->waits.fetch_add(1);
  return reserved_;
}

std::chrono::nanoseconds RateBucket::wait(Ticket t, Steady now) {
  if (t == 0 || rate_.load() == 0) return std::chrono::nanoseconds{0};
  std::lock_guard lock(m_);
  const auto rate = rate_.load();
  if (rate == 0) return std::chrono::nanoseconds{0};
  refill(now);
  if (t <= allowance_) return std::chrono::nanoseconds{0};
  const double missing = static_cast<double>(t - allowance_) - fraction_;
  const double ns = std::ceil(missing * 1e9 / static_cast<double>(rate));
  return std::chrono::nanoseconds{std::max<std::int64_t>(1, static_cast<std::int64_t>(ns))};
}

void RateBucket::waited(std::chrono::nanoseconds d) noexcept {
  if (counters_ && d.count() > 0)
    counters_->waited_ns.fetch_add(static_cast<std::uint64_t>(d.count()));
}

}  // namespace portal::relay
