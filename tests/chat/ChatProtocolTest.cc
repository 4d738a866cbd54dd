// The chat protocol as pure functions: what clients may send, what the server answers.
#include "chat/ChatProtocol.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace bloomcast::chat {
namespace {

TEST(ChatProtocol, ChatAndLikeFramesParse) {
  auto chat = std::get<ChatSend>(parseClientFrame(R"({"type":"chat","text":"这件多少钱?"})"));
  EXPECT_EQ(chat.text, "这件多少钱?");
  EXPECT_EQ(std::get<LikeSend>(parseClientFrame(R"({"type":"like","count":7})")).count, 7);
  EXPECT_EQ(std::get<LikeSend>(parseClientFrame(R"({"type":"like"})")).count, 1);
}

TEST(ChatProtocol, TextIsCountedInCharactersNotBytes) {
  std::string han280;
  for (int i = 0; i < 280; ++i) han280 += "好";  // 840 bytes
  EXPECT_TRUE(std::holds_alternative<ChatSend>(
      parseClientFrame(nlohmann::json{{"type", "chat"}, {"text", han280}}.dump())));
  auto over = std::get<ClientError>(
      parseClientFrame(nlohmann::json{{"type", "chat"}, {"text", han280 + "!"}}.dump()));
  EXPECT_EQ(over.code, "too_long");
}

TEST(ChatProtocol, BadFramesGetNamedErrors) {
  EXPECT_EQ(std::get<ClientError>(parseClientFrame("not json")).code, "invalid_json");
  EXPECT_EQ(std::get<ClientError>(parseClientFrame("[1,2]")).code, "invalid_json");
  EXPECT_EQ(std::get<ClientError>(parseClientFrame(R"({"type":"shout"})")).code, "unknown_type");
  EXPECT_EQ(std::get<ClientError>(parseClientFrame(R"({"type":1})")).code, "bad_request");
  EXPECT_EQ(std::get<ClientError>(parseClientFrame(R"({"type":"chat","text":5})")).code, "bad_request");
  EXPECT_EQ(std::get<ClientError>(parseClientFrame(R"({"type":"chat","text":"  "})")).code, "empty");
  EXPECT_EQ(std::get<ClientError>(parseClientFrame(R"({"type":"like","count":11})")).code, "bad_request");
  EXPECT_EQ(std::get<ClientError>(parseClientFrame(R"({"type":"like","count":0})")).code, "bad_request");
  EXPECT_EQ(std::get<ClientError>(parseClientFrame(R"({"type":"like","count":2.5})")).code, "bad_request");
}

TEST(ChatProtocol, InvalidUtf8IsRefused) {
  EXPECT_FALSE(countCodePoints("\xC0\xAF").has_value());      // overlong '/'
  EXPECT_FALSE(countCodePoints("\xED\xA0\x80").has_value());  // surrogate
  EXPECT_FALSE(countCodePoints("\xE4\xBD").has_value());      // truncated
  EXPECT_FALSE(countCodePoints("\xF4\x90\x80\x80").has_value());  // above U+10FFFF
  EXPECT_EQ(countCodePoints("a好😀"), 3u);
}

TEST(ChatProtocol, BatchesAndWelcomesAreValidJson) {
  EXPECT_EQ(batchFrame({R"({"type":"chat","id":1})"}), R"({"type":"chat","id":1})");
  auto batch = nlohmann::json::parse(batchFrame({R"({"type":"chat","id":1})", R"({"type":"likes","total":3})"}));
  EXPECT_EQ(batch["type"], "batch");
  EXPECT_EQ(batch["messages"].size(), 2u);
  auto welcome = nlohmann::json::parse(welcomeFrame("小明 \"x\"", "viewer", {R"({"type":"chat","id":9})"}));
  EXPECT_EQ(welcome["user"], "小明 \"x\"");
  EXPECT_EQ(welcome["history"][0]["id"], 9);
  EXPECT_EQ(messageType(R"({"type":"order","sku":"a"})"), "order");
  EXPECT_EQ(messageType(R"({"sku":"a","type":"pin"})"), "pin");
  EXPECT_EQ(messageType("garbage"), "");
}

TEST(ChatProtocol, ABurstIsSplitIntoFramesOfBoundedSizeInOrder) {
  std::vector<std::string> messages;
  for (int i = 0; i < 600; ++i)
    messages.push_back(R"({"type":"chat","id":)" + std::to_string(i) + R"(,"text":")" + std::string(800, 'x') + "\"}");
  auto frames = batchFrames(messages, 64 * 1024);
  ASSERT_GT(frames.size(), 1u);
  int next = 0;
  for (const auto& f : frames) {
    EXPECT_LE(f.size(), 64u * 1024 + 64);
    auto j = nlohmann::json::parse(f);
    for (auto& m : j["type"] == "batch" ? j["messages"] : nlohmann::json::array({j})) EXPECT_EQ(m["id"], next++);
  }
  EXPECT_EQ(next, 600);
  // A message bigger than the bound travels alone; nothing is lost or reordered.
  auto alone = batchFrames({"{\"type\":\"a\"}", std::string(100, ' ') + "{}", "{\"type\":\"b\"}"}, 50);
  EXPECT_EQ(alone.size(), 3u);
  EXPECT_TRUE(batchFrames({}, 100).empty());
}

}  // namespace
}  // namespace bloomcast::chat
