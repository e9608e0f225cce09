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

TEST(LeaseName, LookupComparesUnderSimpleCaseFolding) {
  using portal::lease::same_name_ignoring_case;
  EXPECT_TRUE(same_name_ignoring_case("My-Service_1", "my-service_1"));
  EXPECT_TRUE(same_name_ignoring_case("", ""));
  EXPECT_TRUE(same_name_ignoring_case("\xC3\x84rger", "\xC3\xA4RGER"));          // Ä / ä
  EXPECT_TRUE(same_name_ignoring_case("\xCE\xA3\xCE\xB9", "\xCF\x83\xCE\x99"));  // Σι / σΙ
  EXPECT_TRUE(same_name_ignoring_case("\xE2\x84\xAA", "k"));                     // Kelvin sign
  EXPECT_TRUE(same_name_ignoring_case("\xC5\xBF", "S"));                         // long s
  EXPECT_TRUE(same_name_ignoring_case("\xE1\xBA\x9E", "\xC3\x9F"));  // ẞ / ß (simple folding)
  EXPECT_FALSE(same_name_ignoring_case("\xC3\x9F", "ss"));           // ß is not "ss" (full only)
  EXPECT_FALSE(same_name_ignoring_case("service", "servic"));
  EXPECT_FALSE(same_name_ignoring_case("service", "services"));
  EXPECT_FALSE(same_name_ignoring_case("a-b", "a_b"));
  // Not UTF-8: byte for byte.
  EXPECT_TRUE(same_name_ignoring_case("\xFF", "\xFF"));
  EXPECT_FALSE(
      same_name_ignoring_case("\xFF"
                              "A",
                              "\xFF"
                              "a"));
}

// fold_name() is the key of same_name_ignoring_case(): equal keys exactly for equal names.
TEST(LeaseName, FoldNameKeysTheSameEquality) {
  using portal::lease::fold_name;
  using portal::lease::same_name_ignoring_case;
  const char* names[] = {"My-Service_1",
                         "my-service_1",
                         "",
                         "\xC3\x84rger",
                         "\xC3\xA4RGER",
                         "\xCE\xA3\xCE\xB9",
                         "\xCF\x83\xCE\x99",
                         "\xE2\x84\xAA",
                         "k",
                         "K",
                         "\xC5\xBF",
                         "S",
                         "s",
                         "\xE1\xBA\x9E",
                         "\xC3\x9F",
                         "ss",
                         "service",
                         "servic",
                         "a-b",
                         "a_b",
                         "\xFF",
                         "\xFF"
                         "A",
                         "\xFF"
                         "a",
                         "\xF0\x9F\x98\x80",
                         "\xF0\x90\x90\x80",
                         "\xF0\x90\x90\xA8"};
  for (const char* a : names) {
    for (const char* b : names) {
      EXPECT_EQ(fold_name(a) == fold_name(b), same_name_ignoring_case(a, b))
          << '"' << a << "\" vs \"" << b << '"';
    }
  }
  EXPECT_EQ(fold_name("WEB"), "web");
  EXPECT_EQ(fold_name("\xF0\x90\x90\x80"), "\xF0\x90\x90\xA8");  // Deseret, 4-byte UTF-8
}
