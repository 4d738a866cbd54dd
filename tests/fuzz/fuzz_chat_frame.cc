// Fuzz target: one client WebSocket text frame through the chat protocol parser. Beyond "no
// crash": an accepted chat text is valid UTF-8 of 1..280 code points, a like count is 1..10,
// and every error has a code.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chat/ChatProtocol.h"

using namespace bloomcast::chat;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view frame(reinterpret_cast<const char*>(data), size);
  ClientFrame parsed = parseClientFrame(frame);
  if (auto* chat = std::get_if<ChatSend>(&parsed)) {
    auto n = countCodePoints(chat->text);
    if (!n || *n == 0 || *n > kMaxTextCodePoints) std::abort();
  } else if (auto* like = std::get_if<LikeSend>(&parsed)) {
    if (like->count < 1 || like->count > kMaxLikesPerFrame) std::abort();
  } else if (std::get<ClientError>(parsed).code.empty()) {
    std::abort();
  }
  (void)messageType(frame);
  return 0;
}
