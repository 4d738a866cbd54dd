#pragma once
// ChatService: live chat rooms on /ws, one per stream, shared by every bloomcast node through
// Redis pub/sub.
//
//   client --ws--> ChatService::onText --(checks)--> EVALSHA post --> Redis PUBLISH bc:{s:ID}:room
//   Redis --pub/sub--> every node's room --(50 ms tick: one batch frame)--> its own sockets
//
// - Order and exactly-once: a message reaches sockets only through the room channel, so every
//   client of every node sees it once, in Redis's single order, the sender included.
// - Fan-out: each tick serializes a room's pending messages once into shared frames that go to
//   every socket of the room in one send each (WebSocketHub::fanOut, on two threads for a big
//   room); chat frames are droppable for slow readers, system frames (orders, pins, totals,
//   deletes) are not (WebSocket.h).
// - Welcome: a joining client gets the last 50 messages (Redis list), then whatever arrived
//   while they were read, without duplicates (by message id). The history is read only once
//   Redis has confirmed this node's subscription to the room, so nothing falls in between.
// - Likes are summed per node and flushed with the viewer count every 500 ms; totals go out at
//   most every 500 ms per room (ChatScripts.h kRoomTick).
// - Moderation: per-user token bucket (off with --rate-limits off; hosts and moderators exempt),
//   280 characters, a keyword block list (Redis set bc:chat:keywords, re-read every 5 s), bans,
//   deletes and slow mode per room, with HTTP endpoints (docs/API.md).
//
// Thread: loop thread only. Owned by app/; the authority, server and Redis client outlive it.
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "chat/ChatAuthority.h"
#include "infra/EventLoop.h"
#include "infra/HttpServer.h"
#include "infra/Metrics.h"
#include "infra/RedisClient.h"
#include "infra/WebSocket.h"

namespace bloomcast::chat {

struct ChatOptions {
  bool rate_limits = true;
  double messages_per_second = 1.0;  // sustained, per user per node
  double message_burst = 5;
  int likes_per_second = 20;         // per connection; more are ignored
  uint64_t tick_ms = 50;
  uint64_t stats_ms = 500;
};

class ChatService : public WebSocketHandler {
 public:
  ChatService(EventLoop& loop, RedisClient& redis, HttpServer& http, MetricsRegistry& metrics,
              ChatAuthority& authority, ChatOptions options = {});
  ~ChatService() override;

  void onOpen(WebSocketConnection& conn) override;
  void onText(WebSocketConnection& conn, std::string_view text) override;
  void onClose(WebSocketConnection& conn) override;

  static std::string channelOf(const std::string& room) { return "bc:{s:" + room + "}:room"; }
  static std::string keyOf(const std::string& room, const char* name) {
    return "bc:{s:" + room + "}:chat:" + name;
  }

 private:
  struct Member;
  struct Room;
  void join(WebSocketConnection& conn, ChatIdentity identity);
  void readWelcome(uint64_t conn_id, const std::string& room_id);
  void sendWelcome(uint64_t conn_id, const std::string& room_id, RedisResult history, RedisResult totals);
  void onRoomMessage(const std::string& room, const std::string& payload);
  void leave(Member& m);
  void post(WebSocketConnection& conn, Member& m, std::string text);
  void tick();
  void statsTick();
  void refreshKeywords();
  void registerRoutes(HttpServer& http);
  void sendError(WebSocketConnection& conn, std::string_view code, std::string_view message);
  bool blocked(std::string_view text) const;

  EventLoop& loop_;
  RedisClient& redis_;
  WebSocketHub& hub_;
  ChatAuthority& authority_;
  ChatOptions options_;
  std::string node_id_;
  std::map<std::string, std::unique_ptr<Room>> rooms_;
  std::unordered_map<uint64_t, WebSocketConnection*> conns_;  // open connections by id
  std::vector<std::string> keywords_;
  Timer tick_timer_;
  bool tick_deferred_ = false;  // a tick found the last one still being written
  Timer stats_timer_;
  Timer keyword_timer_;
  std::shared_ptr<Counter> messages_in_;
  std::shared_ptr<Counter> messages_out_;
  std::shared_ptr<Counter> rate_limited_;
  std::shared_ptr<Counter> refused_;
  std::shared_ptr<Histogram> batch_size_;
};

}  // namespace bloomcast::chat
