#pragma once
// ChatAuthority: who is speaking in a room, and who may moderate it. The chat part asks; app/
// answers from the catalog and sessions (orders part).
// Thread: loop thread; answers may come later (after Redis), on the loop thread.
#include <expected>
#include <functional>
#include <string>

#include "infra/Error.h"

namespace bloomcast::chat {

struct ChatIdentity {
  enum class Role { kGuest, kViewer, kHost, kModerator };
  std::string user;  // display name; guests get a generated one
  Role role = Role::kGuest;
  bool canChat() const { return role != Role::kGuest; }
  bool exemptFromLimits() const { return role == Role::kHost || role == Role::kModerator; }
};

const char* roleName(ChatIdentity::Role role);

class ChatAuthority {
 public:
  virtual ~ChatAuthority() = default;
  // Resolves the `token` query parameter of /ws for `room`: "" -> a guest; a session token -> a
  // viewer; the stream's factory token -> the host; the admin token -> a moderator. Errors:
  // "unknown_room" (no such stream), "bad_token" (forged or expired), "store_unavailable".
  virtual void resolve(const std::string& room, const std::string& token,
                       std::function<void(std::expected<ChatIdentity, Error>)> done) = 0;
  // Whether the bearer token may moderate `room` (the admin, or the stream's factory).
  virtual void canModerate(const std::string& room, const std::string& bearer,
                           std::function<void(bool)> done) = 0;
  virtual bool isAdmin(const std::string& bearer) const = 0;
};

}  // namespace bloomcast::chat
