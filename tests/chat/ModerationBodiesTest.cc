// The JSON bodies of the chat moderation calls (chat/ModerationBodies.h).
#include <gtest/gtest.h>

#include "chat/ModerationBodies.h"

namespace bloomcast::chat {
namespace {

template <typename T>
std::string codeOf(const std::expected<T, Error>& r) {
  return r ? "accepted" : r.error().code;
}

nlohmann::json object(std::string_view body) { return *parseModerationObject(body); }

TEST(ModerationBodies, ARoomCallsBodyIsAJsonObjectAndNoBodyIsAnEmptyOne) {
  EXPECT_EQ(codeOf(parseModerationObject("")), "accepted");
  EXPECT_EQ(codeOf(parseModerationObject("[]")), "invalid_json");
  EXPECT_EQ(codeOf(parseModerationObject("{")), "invalid_json");
  EXPECT_EQ(codeOf(decodeBanBody(object(""))), "bad_request") << "{} names no user";
}

TEST(ModerationBodies, BanDeleteAndSlowModeCheckTheirOneField) {
  EXPECT_EQ(decodeBanBody(object(R"({"user":"troll"})"))->user, "troll");
  EXPECT_EQ(codeOf(decodeBanBody(object(R"({"user":""})"))), "bad_request");
  EXPECT_EQ(codeOf(decodeBanBody(object(R"({"user":7})"))), "bad_request");

  EXPECT_EQ(decodeDeleteBody(object(R"({"id":17})"))->id, 17);
  EXPECT_EQ(codeOf(decodeDeleteBody(object(R"({"id":0})"))), "bad_request");
  EXPECT_EQ(codeOf(decodeDeleteBody(object(R"({"id":1.5})"))), "bad_request");
  EXPECT_EQ(codeOf(decodeDeleteBody(object(R"({"id":18446744073709551615})"))), "bad_request");

  EXPECT_EQ(decodeSlowModeBody(object(R"({"seconds":0})"))->seconds, 0);
  EXPECT_EQ(decodeSlowModeBody(object(R"({"seconds":300})"))->seconds, 300);
  EXPECT_EQ(codeOf(decodeSlowModeBody(object(R"({"seconds":301})"))), "bad_request");
  EXPECT_EQ(codeOf(decodeSlowModeBody(object(R"({"seconds":-1})"))), "bad_request");
}

TEST(ModerationBodies, TheKeywordListHoldsUpTo1000StringsOf1To100Bytes) {
  auto k = decodeKeywordsBody(R"({"keywords":["假货","spam"]})");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->keywords, (std::vector<std::string>{"假货", "spam"}));
  EXPECT_TRUE(decodeKeywordsBody(R"({"keywords":[]})")->keywords.empty());

  nlohmann::json many = {{"keywords", std::vector<std::string>(kMaxKeywords + 1, "k")}};
  EXPECT_EQ(codeOf(decodeKeywordsBody(many.dump())), "bad_request");
  EXPECT_EQ(codeOf(decodeKeywordsBody(R"({"keywords":[""]})")), "bad_request");
  EXPECT_EQ(codeOf(decodeKeywordsBody(R"({"keywords":[")" + std::string(101, 'k') + "\"]}")),
            "bad_request");
  EXPECT_EQ(codeOf(decodeKeywordsBody("not json")), "bad_request") << "one step: every fault is bad_request";
}

}  // namespace
}  // namespace bloomcast::chat
