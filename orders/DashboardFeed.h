#pragma once
// DashboardFeed: WS /ws/dashboard?token=ADMIN_TOKEN — the organizer's live numbers, one frame a
// second while anyone watches:
//   {"type":"tick","at":MS,"gmv_cents","orders","units","orders_per_second","viewers",
//    "live_streams","streams":[...top 20 by GMV],"factories":[...],"series":[last 60 minutes]}
// One snapshot per second serves every dashboard (serialized once, shared frame); none is taken
// while nobody watches. Viewers are the rooms' totals as the chat last published them
// (bc:{s:ID}:stats field "viewers").
// Thread: loop thread. Owned by OrdersModule.
#include <cstdint>
#include <set>
#include <string>

#include "infra/EventLoop.h"
#include "infra/HttpServer.h"
#include "infra/WebSocket.h"
#include "orders/GmvService.h"

namespace bloomcast::orders {

class DashboardFeed : public WebSocketHandler {
 public:
  DashboardFeed(EventLoop& loop, HttpServer& http, GmvService& gmv, std::string admin_token);

  void onOpen(WebSocketConnection& conn) override;
  void onText(WebSocketConnection& conn, std::string_view text) override;
  void onClose(WebSocketConnection& conn) override;

 private:
  void tick();
  void publish(const GmvSnapshot& snapshot, int64_t viewers);

  GmvService& gmv_;
  std::string admin_token_;
  std::set<WebSocketConnection*> watchers_;
  Timer timer_;
  bool in_flight_ = false;
  int64_t last_placed_ = -1;
  int64_t last_at_ms_ = 0;
  double last_ops_ = 0;  // orders per second shown by the last tick
};

}  // namespace bloomcast::orders
