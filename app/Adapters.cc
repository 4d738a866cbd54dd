#include "app/Adapters.h"

#include <openssl/rand.h>

#include "infra/Crypto.h"
#include "orders/Catalog.h"

namespace bloomcast {

void OrdersPublishGate::authorize(const std::string& stream_key, Answer answer) {
  orders_.authorizePublish(stream_key, [answer = std::move(answer)](std::expected<std::string, Error> r) {
    if (!r && r.error().code == "forbidden") {
      answer(std::unexpected(Error{"unknown_key", r.error().message}));
      return;
    }
    answer(std::move(r));
  });
}

void OrdersPublishGate::onLive(const std::string& stream_id) { orders_.setPublishStatus(stream_id, true); }

void OrdersPublishGate::onOffline(const std::string& stream_id) {
  orders_.setPublishStatus(stream_id, false);
}

bool OrdersChatAuthority::isAdmin(const std::string& bearer) const {
  return !admin_token_.empty() && constantTimeEquals(bearer, admin_token_);
}

void OrdersChatAuthority::resolve(const std::string& room, const std::string& token,
                                  std::function<void(std::expected<chat::ChatIdentity, Error>)> done) {
  orders_.catalog().getStream(room, [this, room, token, done = std::move(done)](
                                        std::expected<orders::StreamInfo, Error> stream) {
    using Role = chat::ChatIdentity::Role;
    if (!stream) {
      if (stream.error().code == "stream_not_found")
        done(std::unexpected(Error{"unknown_room", "no live room " + room}));
      else
        done(std::unexpected(stream.error()));
      return;
    }
    if (token.empty()) {
      unsigned char r[2];
      RAND_bytes(r, sizeof r);
      done(chat::ChatIdentity{"游客" + std::to_string((r[0] << 8 | r[1]) % 10000), Role::kGuest});
      return;
    }
    if (isAdmin(token)) {
      done(chat::ChatIdentity{"管理员", Role::kModerator});
      return;
    }
    if (auto session = orders_.verifySession(token)) {
      done(chat::ChatIdentity{session->name, Role::kViewer});
      return;
    }
    orders_.isStreamHost(token, room, [done](std::expected<bool, Error> host) {
      if (!host) done(std::unexpected(host.error()));
      else if (*host) done(chat::ChatIdentity{"主播", Role::kHost});
      else done(std::unexpected(Error{"bad_token", "the token is not valid for this room"}));
    });
  });
}

void OrdersChatAuthority::canModerate(const std::string& room, const std::string& bearer,
                                      std::function<void(bool)> done) {
  if (isAdmin(bearer)) {
    done(true);
    return;
  }
  if (bearer.empty()) {
    done(false);
    return;
  }
  orders_.isStreamHost(bearer, room, [done](std::expected<bool, Error> host) { done(host && *host); });
}

}  // namespace bloomcast
