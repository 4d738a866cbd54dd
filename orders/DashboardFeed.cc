#include "orders/DashboardFeed.h"

#include <nlohmann/json.hpp>

#include <chrono>

#include "infra/Crypto.h"

namespace bloomcast::orders {
namespace {

constexpr std::size_t kTopStreams = 20;     // streams listed in a tick, by GMV
constexpr std::size_t kSeriesMinutes = 60;  // the tick's series

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

DashboardFeed::DashboardFeed(EventLoop& loop, HttpServer& http, GmvService& gmv, std::string admin_token)
    : gmv_(gmv), admin_token_(std::move(admin_token)), timer_(loop) {
  http.websocket("/ws/dashboard", this);
  timer_.start(1000, 1000, [this] { tick(); });
}

void DashboardFeed::onOpen(WebSocketConnection& conn) {
  std::string token = conn.queryOr("token");
  bool admin = !admin_token_.empty() && constantTimeEquals(token, admin_token_);
  if (!admin) {
    conn.send(WsFrame::text(R"({"type":"error","code":"forbidden","message":"organizer token required"})"), false);
    conn.close(1008, "forbidden");
    return;
  }
  watchers_.insert(&conn);
}

void DashboardFeed::onText(WebSocketConnection&, std::string_view) {}  // nothing to say back

void DashboardFeed::onClose(WebSocketConnection& conn) { watchers_.erase(&conn); }

void DashboardFeed::tick() {
  if (watchers_.empty() || in_flight_) return;  // a slow Redis never stacks snapshots up
  in_flight_ = true;
  gmv_.snapshot("", kSeriesMinutes, nowMs(), [this](std::expected<GmvService::Shared, Error> snapshot) {
    if (!snapshot) {
      in_flight_ = false;
      auto frame = WsFrame::text(nlohmann::json{{"type", "error"}, {"code", snapshot.error().code},
                                                {"message", snapshot.error().message}}.dump());
      for (auto* w : watchers_) w->send(frame, true);
      return;
    }
    // Viewers: each live stream's count, read with its counters in the snapshot.
    int64_t viewers = 0;
    for (const auto& s : (*snapshot)->streams)
      if (s.status == "live") viewers += s.viewers;
    publish(**snapshot, viewers);
  });
}

void DashboardFeed::publish(const GmvSnapshot& snapshot, int64_t viewers) {
  in_flight_ = false;
  nlohmann::json j = GmvService::toJson(snapshot, kTopStreams, kSeriesMinutes);
  j["type"] = "tick";
  j["viewers"] = viewers;
  int64_t live = 0;
  for (const auto& s : snapshot.streams) live += s.status == "live";
  j["live_streams"] = live;
  // Orders placed per second: from the streams' seq, which cancels and expiries leave alone (the
  // net count falls in an expiry wave, and would show a sale as stopped).
  int64_t placed = 0;
  for (const auto& s : snapshot.streams) placed += s.placed;
  j["orders_placed"] = placed;
  // A tick may get the snapshot the last one had (snapshots are shared, GmvService.h): the rate
  // it showed stands.
  if (last_placed_ < 0 || snapshot.at_ms > last_at_ms_) {
    if (last_placed_ >= 0)
      last_ops_ = std::max(0.0, static_cast<double>(placed - last_placed_) * 1000.0 /
                                    static_cast<double>(snapshot.at_ms - last_at_ms_));
    last_placed_ = placed;
    last_at_ms_ = snapshot.at_ms;
  }
  j["orders_per_second"] = last_ops_;
  auto frame = WsFrame::text(j.dump());
  for (auto* w : watchers_) w->send(frame, true);  // a newer tick replaces a lost one
}

}  // namespace bloomcast::orders
