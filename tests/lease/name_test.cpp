// SPDX-License-Identifier: Apache-2.0
#include "portal/lease/name.hpp"

#include <gtest/gtest.h>

namespace portal::lease {
namespace {

TEST(LeaseName, TheSdkRegexLettersNumbersUnderscoreDash) {
  for (const char* ok :
       {"", "demo-app", "demo_app_2", "Ünïcødé", "데모", "демо", "例え", "٣٤", "Ⅻ", "x"}) {
    EXPECT_TRUE(is_valid_name(ok)) << ok;
  }
  for (const char* bad : {"demo app", "demo.app", "a/b", "(unnamed)", "emoji😀", "tab\t", "dollar$",
                          "zero\u200bwidth"}) {
    EXPECT_FALSE(is_valid_name(bad)) << bad;
  }
}

TEST(LeaseName, MalformedUtf8IsInvalid) {
  for (const std::string& bad :
       {std::string("\xc3"), std::string("\xc0\xaf"),  // truncated, overlong
        std::string("\xed\xa0\x80"),                   // surrogate
        std::string("\xf4\x90\x80\x80"),               // > U+10FFFF
        std::string("a\xff")}) {
    EXPECT_FALSE(is_valid_name(bad));
  }
}

}  // namespace
}  // namespace portal::lease
