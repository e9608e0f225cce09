// SPDX-License-Identifier: Apache-2.0
#include "portal/lease/directory.hpp"

#include <gtest/gtest.h>

#include <string>

namespace portal::lease {
namespace {

DirectoryReply resolved(std::size_t records, std::size_t key, std::size_t value) {
  DirectoryReply r;
  r.status = DirectoryStatus::Ok;
  for (std::size_t i = 0; i < records; ++i) {
    DirectoryRecord rec;
    rec.relay = std::string(key, 'r');
    rec.key = "id";
    rec.value = base::Bytes(value, base::Byte{1});
    r.records.push_back(std::move(rec));
  }
  return r;
}

TEST(DirectoryBounds, AReplyAtEveryBoundPasses) {
  const DirectoryBounds b{4, 100, 10};
  std::string problem;
  EXPECT_TRUE(within(resolved(4, 10, 100), b, problem)) << problem;
  EXPECT_TRUE(problem.empty());
}

TEST(DirectoryBounds, EachBoundIsCheckedAndNamed) {
  const DirectoryBounds b{4, 100, 10};
  std::string problem;
  EXPECT_FALSE(within(resolved(5, 10, 100), b, problem));
  EXPECT_EQ(problem, "5 records, at most 4");
  EXPECT_FALSE(within(resolved(1, 11, 100), b, problem));
  EXPECT_EQ(problem, "a record key of 11 bytes, at most 10");
  EXPECT_FALSE(within(resolved(1, 10, 101), b, problem));
  EXPECT_EQ(problem, "a record value of 101 bytes, at most 100");
  DirectoryReply conflict;
  conflict.status = DirectoryStatus::Conflict;
  conflict.holder = std::string(11, 'h');
  EXPECT_FALSE(within(conflict, b, problem));
  EXPECT_EQ(problem, "holder ID of 11 bytes, at most 10");
}

TEST(DirectoryBounds, MetricsLabelsAreFixed) {
  EXPECT_STREQ(to_string(DirectoryStatus::TimedOut), "timed_out");
  EXPECT_STREQ(to_string(DirectoryStatus::Overloaded), "overloaded");
  EXPECT_STREQ(to_string(static_cast<DirectoryStatus>(99)), "unknown");
  EXPECT_STREQ(to_string(DirectoryOp::CheckNonce), "check_nonce");
  EXPECT_STREQ(to_string(DirectoryOp::Members), "members");
  EXPECT_STREQ(to_string(static_cast<DirectoryOp>(0)), "unknown");
}

}  // namespace
}  // namespace portal::lease
