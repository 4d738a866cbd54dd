#pragma once
// The chat WebSocket protocol (DESIGN.md "Chat WebSocket protocol"), as pure functions: client
// frames in, server frames out. No sockets or clocks; fuzzed by tests/fuzz/fuzz_chat_frame.cc.
//
//   client -> server  {"type":"chat","text":"..."}      text: 1..280 Unicode code points
//                     {"type":"like","count":N}         N: 1..10
//   server -> client  {"type":"error","code":C,"message":M}, {"type":"welcome",...},
//                     {"type":"batch","messages":[...]} and the room's messages
#include <cstddef>
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace bloomcast::chat {

inline constexpr std::size_t kMaxTextCodePoints = 280;
inline constexpr int kMaxLikesPerFrame = 10;

struct ChatSend {
  std::string text;
};
struct LikeSend {
  int count = 1;
};
// A frame the server refuses; `code` goes to the client in an error frame.
struct ClientError {
  std::string code;  // invalid_json, unknown_type, bad_request, too_long, empty
  std::string message;
};
using ClientFrame = std::variant<ChatSend, LikeSend, ClientError>;

// Parses one client text frame.
ClientFrame parseClientFrame(std::string_view frame);

// Unicode code points in valid UTF-8, or nullopt for invalid UTF-8 (overlongs, surrogates,
// truncated sequences, values above U+10FFFF).
std::optional<std::size_t> countCodePoints(std::string_view utf8);

std::string errorFrame(std::string_view code, std::string_view message);
// {"type":"welcome","user":U,"role":R,"history":[...],"likes":N,"viewers":N} with history
// given as JSON texts, oldest first, and the room's stored totals (a newcomer sees them at once,
// not only at their next change).
std::string welcomeFrame(std::string_view user, std::string_view role,
                         const std::vector<std::string>& history, int64_t likes = 0,
                         int64_t viewers = 0);
// One message as is, several as {"type":"batch","messages":[...]}; each is a JSON text.
std::string batchFrame(const std::vector<std::string>& messages);
// The messages, in order, as frames of at most about `max_bytes` each (a single larger message
// is a frame of its own), so that one burst never becomes a frame bigger than a reader's queue.
std::vector<std::string> batchFrames(const std::vector<std::string>& messages, std::size_t max_bytes);

// The "type" of a server message JSON text, or "" when it is not a JSON object with a string
// type (messages from Redis are ours, but are checked all the same).
std::string messageType(std::string_view json_text);

}  // namespace bloomcast::chat
