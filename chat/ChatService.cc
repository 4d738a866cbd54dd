#include "chat/ChatService.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "chat/ChatProtocol.h"
#include "chat/ChatScripts.h"
#include "chat/ModerationBodies.h"
#include "infra/Crypto.h"

namespace bloomcast::chat {

const char* roleName(ChatIdentity::Role role) {
  switch (role) {
    case ChatIdentity::Role::kGuest: return "guest";
    case ChatIdentity::Role::kViewer: return "viewer";
    case ChatIdentity::Role::kHost: return "host";
    case ChatIdentity::Role::kModerator: return "moderator";
  }
  return "guest";
}

namespace {

constexpr std::size_t kMaxEarlyMessages = 200;  // held for a client until its welcome is out
// A room's messages of one tick go out in frames of at most this size: a burst (hundreds of long
// messages landing in one tick on a busy node) must not become one frame larger than a reader's
// whole queue (WebSocketLimits::max_queue_bytes), which would be shed for everyone.
constexpr std::size_t kMaxBatchBytes = 64 * 1024;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The "id" of a chat message JSON text, or -1.
int64_t chatId(std::string_view json_text) {
  constexpr std::string_view tag = R"("id":)";
  auto at = json_text.find(tag);
  if (at == std::string_view::npos) return -1;
  int64_t id = 0;
  bool any = false;
  for (std::size_t i = at + tag.size(); i < json_text.size() && std::isdigit(static_cast<unsigned char>(json_text[i])); ++i) {
    id = id * 10 + (json_text[i] - '0');
    any = true;
  }
  return any ? id : -1;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// A moderation body the decoders (ModerationBodies.h) refused: 400 with their code.
HttpResponse badRequest(const Error& e) { return HttpResponse::error(400, e.code, e.message); }

}  // namespace

// One client in one room.
struct ChatService::Member {
  uint64_t conn_id = 0;
  std::string room;
  ChatIdentity identity;
  bool welcomed = false;
  bool banned = false;
  std::vector<std::string> early;  // room messages that arrived before the welcome went out
  double tokens = 0;
  int64_t last_refill_ms = 0;
  int64_t last_chat_ms = 0;
  int64_t like_window_ms = 0;
  int likes_in_window = 0;
};

struct ChatService::Room {
  std::string id;
  std::set<Member*> members;
  std::vector<std::string> pending_chat;
  std::vector<std::string> pending_system;
  int64_t like_delta = 0;
  int slow_mode_s = 0;
  // Redis has confirmed this node's subscription to the room channel. Until then a joining
  // member's welcome waits (awaiting_welcome): welcoming first would let a message published
  // in between reach neither the history they read nor their socket.
  bool subscribed = false;
  std::vector<uint64_t> awaiting_welcome;  // connection ids
};

ChatService::ChatService(EventLoop& loop, RedisClient& redis, HttpServer& http,
                         MetricsRegistry& metrics, ChatAuthority& authority, ChatOptions options)
    : loop_(loop),
      redis_(redis),
      hub_(http.websockets()),
      authority_(authority),
      options_(options),
      node_id_(randomHex(6)),
      tick_timer_(loop),
      stats_timer_(loop),
      keyword_timer_(loop) {
  redis_.registerScript("chat_post", scripts::kPost);
  redis_.registerScript("chat_delete", scripts::kDelete);
  redis_.registerScript("chat_ban", scripts::kBan);
  redis_.registerScript("chat_room_tick", scripts::kRoomTick);
  messages_in_ = metrics.counter("bloomcast_chat_messages_in_total", "Chat messages accepted from clients");
  messages_out_ = metrics.counter("bloomcast_chat_deliveries_total",
                                  "Room messages queued to sockets (a batch counts each message)");
  rate_limited_ = metrics.counter("bloomcast_chat_rate_limited_total", "Chat messages refused by the rate limit or slow mode");
  refused_ = metrics.counter("bloomcast_chat_refused_total", "Client frames refused (bad, too long, blocked, banned)");
  batch_size_ = metrics.histogram("bloomcast_chat_batch_messages", "Messages per room frame",
                                  {1, 2, 5, 10, 20, 50, 100, 200});
  metrics.gaugeCallback("bloomcast_chat_rooms", "Chat rooms with members on this node",
                        [this] { return static_cast<double>(rooms_.size()); });
  metrics.gaugeCallback("bloomcast_chat_connections", "Chat connections on this node",
                        [this] { return static_cast<double>(conns_.size()); });
  http.websocket("/ws", this);
  registerRoutes(http);
  tick_timer_.start(options_.tick_ms, options_.tick_ms, [this] { tick(); });
  // A tick that came while the last one was still being written runs as soon as that is done.
  hub_.onBroadcastsDone([this] {
    if (tick_deferred_) tick();
  });
  stats_timer_.start(options_.stats_ms, options_.stats_ms, [this] { statsTick(); });
  keyword_timer_.start(0, 5000, [this] { refreshKeywords(); });
}

ChatService::~ChatService() {
  hub_.onBroadcastsDone(nullptr);
  for (auto& [id, conn] : conns_) {
    delete static_cast<Member*>(conn->user);
    conn->user = nullptr;
  }
  for (auto& [id, room] : rooms_) redis_.unsubscribe(channelOf(id));
}

void ChatService::sendError(WebSocketConnection& conn, std::string_view code, std::string_view message) {
  conn.send(WsFrame::text(errorFrame(code, message)), false);
}

void ChatService::onOpen(WebSocketConnection& conn) {
  std::string room = conn.queryOr("room");
  conns_[conn.id()] = &conn;
  if (room.empty() || room.size() > 64) {
    sendError(conn, "unknown_room", "connect to /ws?room=STREAM_ID");
    conn.close(1008, "unknown room");
    return;
  }
  uint64_t id = conn.id();
  authority_.resolve(room, conn.queryOr("token"), [this, id](std::expected<ChatIdentity, Error> r) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    WebSocketConnection& c = *it->second;
    if (!r) {
      sendError(c, r.error().code, r.error().message);
      c.close(1008, r.error().code);
      return;
    }
    join(c, std::move(*r));
  });
}

void ChatService::join(WebSocketConnection& conn, ChatIdentity identity) {
  auto* m = new Member;
  m->conn_id = conn.id();
  m->room = conn.queryOr("room");
  m->identity = std::move(identity);
  m->tokens = options_.message_burst;
  m->last_refill_ms = nowMs();
  conn.user = m;
  auto& room = rooms_[m->room];
  if (!room) {
    room = std::make_unique<Room>();
    room->id = m->room;
    std::string id = m->room;
    redis_.subscribe(
        channelOf(id), [this, id](const std::string&, const std::string& payload) { onRoomMessage(id, payload); },
        [this, id] {
          auto it = rooms_.find(id);
          if (it == rooms_.end() || it->second->subscribed) return;
          it->second->subscribed = true;
          for (uint64_t waiting : std::exchange(it->second->awaiting_welcome, {})) readWelcome(waiting, id);
        });
    redis_.command({"GET", keyOf(id, "slow")}, [this, id](RedisResult r) {
      auto it = rooms_.find(id);
      if (it != rooms_.end() && r && r->type == RedisReply::Type::String)
        it->second->slow_mode_s = std::atoi(r->str.c_str());
    });
  }
  room->members.insert(m);
  if (room->subscribed) readWelcome(conn.id(), m->room);
  else room->awaiting_welcome.push_back(conn.id());
}

void ChatService::readWelcome(uint64_t conn_id, const std::string& room_id) {
  if (!conns_.contains(conn_id)) return;  // left while the subscription was confirmed
  // Both reads go out at once; replies come back in order on the one connection, so the
  // history is there when the totals arrive.
  auto history = std::make_shared<RedisResult>(std::unexpected(Error{"unavailable", "no reply"}));
  redis_.command({"LRANGE", keyOf(room_id, "history"), "0", "49"},
                 [history](RedisResult r) { *history = std::move(r); });
  redis_.command({"HMGET", keyOf(room_id, "stats"), "likes", "viewers"},
                 [this, conn_id, room_id, history](RedisResult totals) {
                   sendWelcome(conn_id, room_id, std::move(*history), std::move(totals));
                 });
}

void ChatService::sendWelcome(uint64_t conn_id, const std::string&, RedisResult history, RedisResult totals) {
  auto it = conns_.find(conn_id);
  if (it == conns_.end() || !it->second->user) return;
  WebSocketConnection& conn = *it->second;
  auto* m = static_cast<Member*>(conn.user);
  std::vector<std::string> items;
  int64_t last_id = -1;
  if (history && history->type == RedisReply::Type::Array) {
    for (auto e = history->elements.rbegin(); e != history->elements.rend(); ++e) {
      items.push_back(e->str);
      last_id = std::max(last_id, chatId(e->str));
    }
  } else {
    spdlog::warn("chat: history of room {} unavailable: {}", m->room,
                 history ? history->str : history.error().message);
  }
  int64_t likes = 0, viewers = 0;
  if (totals && totals->type == RedisReply::Type::Array && totals->elements.size() == 2) {
    likes = std::atoll(totals->elements[0].str.c_str());
    viewers = std::atoll(totals->elements[1].str.c_str());
  }
  conn.send(WsFrame::text(welcomeFrame(m->identity.user, roleName(m->identity.role), items, likes, viewers)),
            false);
  std::vector<std::string> rest;
  for (auto& msg : m->early) {
    if (messageType(msg) == "chat" && chatId(msg) <= last_id) continue;  // already in history
    rest.push_back(std::move(msg));
  }
  m->early.clear();
  m->welcomed = true;
  for (auto& frame : batchFrames(rest, kMaxBatchBytes)) conn.send(WsFrame::text(std::move(frame)), false);
}

void ChatService::onRoomMessage(const std::string& room_id, const std::string& payload) {
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return;
  Room& room = *it->second;
  std::string type = messageType(payload);
  if (type == "ban") {
    auto j = nlohmann::json::parse(payload, nullptr, false);
    std::string user = j.is_object() && j["user"].is_string() ? j["user"].get<std::string>() : "";
    for (Member* m : room.members) {
      if (m->identity.user != user || m->banned) continue;
      m->banned = true;
      if (auto c = conns_.find(m->conn_id); c != conns_.end())
        sendError(*c->second, "banned", "you are banned from this room's chat");
    }
    return;
  }
  if (type == "slow_mode") {
    auto j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_object() && j["seconds"].is_number_integer()) room.slow_mode_s = j["seconds"].get<int>();
  }
  if (type == "chat") room.pending_chat.push_back(payload);
  else if (!type.empty()) room.pending_system.push_back(payload);
}

// Every tick: each room's pending messages become at most two kinds of shared frames — system
// messages (never shed) and chat (shed first for slow readers) — broadcast to every welcomed
// member in one send each (WebSocketHub::fanOut).
void ChatService::tick() {
  // One tick's broadcasts at a time: the messages that come meanwhile go out together once it is
  // written, so a round slower than tick_ms makes bigger batches rather than a backlog.
  tick_deferred_ = hub_.broadcasting();
  if (tick_deferred_) return;
  for (auto& [id, room] : rooms_) {
    if (room->pending_chat.empty() && room->pending_system.empty()) continue;
    std::vector<WsOut> frames;
    if (!room->pending_system.empty()) {
      for (auto& f : batchFrames(room->pending_system, kMaxBatchBytes)) frames.push_back({WsFrame::text(std::move(f)), false});
      batch_size_->observe(static_cast<double>(room->pending_system.size()));
    }
    if (!room->pending_chat.empty()) {
      for (auto& f : batchFrames(room->pending_chat, kMaxBatchBytes)) frames.push_back({WsFrame::text(std::move(f)), true});
      batch_size_->observe(static_cast<double>(room->pending_chat.size()));
    }
    std::size_t count = room->pending_system.size() + room->pending_chat.size();
    std::vector<WebSocketConnection*> to;
    to.reserve(room->members.size());
    for (Member* m : room->members) {
      auto c = conns_.find(m->conn_id);
      if (c == conns_.end()) continue;
      if (!m->welcomed) {
        for (auto* pending : {&room->pending_system, &room->pending_chat})
          for (auto& msg : *pending)
            if (m->early.size() < kMaxEarlyMessages) m->early.push_back(msg);
        continue;
      }
      to.push_back(c->second);
    }
    hub_.fanOut(to, frames);
    messages_out_->inc(count * to.size());
    room->pending_system.clear();
    room->pending_chat.clear();
  }
}

void ChatService::statsTick() {
  int64_t now = nowMs();
  for (auto& [id, room] : rooms_) {
    int64_t delta = room->like_delta;
    room->like_delta = 0;
    redis_.evalScript("chat_room_tick",
                      {"bc:{s:" + id + "}:likes", "bc:{s:" + id + "}:viewers", "bc:{s:" + id + "}:stats"},
                      {channelOf(id), node_id_, std::to_string(room->members.size()),
                       std::to_string(delta), std::to_string(now)},
                      [this, id, delta](RedisResult r) {
                        if (r && !r->isError()) return;
                        // Not stored: keep the likes for the next tick.
                        if (auto it = rooms_.find(id); it != rooms_.end()) it->second->like_delta += delta;
                      });
  }
}

void ChatService::refreshKeywords() {
  redis_.command({"SMEMBERS", "bc:chat:keywords"}, [this](RedisResult r) {
    if (!r || r->type != RedisReply::Type::Array) return;
    keywords_.clear();
    for (auto& e : r->elements)
      if (!e.str.empty()) keywords_.push_back(lower(e.str));
  });
}

bool ChatService::blocked(std::string_view text) const {
  if (keywords_.empty()) return false;
  std::string t = lower(text);
  return std::any_of(keywords_.begin(), keywords_.end(),
                     [&](const std::string& k) { return t.find(k) != std::string::npos; });
}

void ChatService::onText(WebSocketConnection& conn, std::string_view text) {
  auto* m = static_cast<Member*>(conn.user);
  if (!m) {
    sendError(conn, "not_ready", "still joining the room");
    return;
  }
  auto frame = parseClientFrame(text);
  if (auto* bad = std::get_if<ClientError>(&frame)) {
    refused_->inc();
    sendError(conn, bad->code, bad->message);
    return;
  }
  if (auto* like = std::get_if<LikeSend>(&frame)) {
    int64_t now = nowMs();
    if (now - m->like_window_ms >= 1000) {
      m->like_window_ms = now;
      m->likes_in_window = 0;
    }
    int allowed = std::min(like->count, options_.likes_per_second - m->likes_in_window);
    if (allowed <= 0 && options_.rate_limits) return;  // a tap storm: the extra taps are ignored
    if (!options_.rate_limits) allowed = like->count;
    m->likes_in_window += allowed;
    if (auto it = rooms_.find(m->room); it != rooms_.end()) it->second->like_delta += allowed;
    return;
  }
  post(conn, *m, std::move(std::get<ChatSend>(frame).text));
}

void ChatService::post(WebSocketConnection& conn, Member& m, std::string text) {
  if (!m.identity.canChat()) {
    refused_->inc();
    sendError(conn, "login_required", "sign in to chat");
    return;
  }
  if (m.banned) {
    refused_->inc();
    sendError(conn, "banned", "you are banned from this room's chat");
    return;
  }
  int64_t now = nowMs();
  if (options_.rate_limits && !m.identity.exemptFromLimits()) {
    m.tokens = std::min(options_.message_burst,
                        m.tokens + (now - m.last_refill_ms) / 1000.0 * options_.messages_per_second);
    m.last_refill_ms = now;
    if (m.tokens < 1) {
      rate_limited_->inc();
      sendError(conn, "rate_limited", "too many messages; wait a moment");
      return;
    }
    auto room = rooms_.find(m.room);
    int slow_s = room == rooms_.end() ? 0 : room->second->slow_mode_s;
    if (slow_s > 0 && now - m.last_chat_ms < slow_s * 1000LL) {
      rate_limited_->inc();
      sendError(conn, "slow_mode", "slow mode: one message every " + std::to_string(slow_s) + " s");
      return;
    }
    m.tokens -= 1;
  }
  if (blocked(text)) {
    refused_->inc();
    sendError(conn, "blocked", "the message contains a blocked word");
    return;
  }
  m.last_chat_ms = now;
  messages_in_->inc();
  uint64_t conn_id = conn.id();
  redis_.evalScript("chat_post", {keyOf(m.room, "seq"), keyOf(m.room, "history"), keyOf(m.room, "banned")},
                    {channelOf(m.room), m.room, m.identity.user, text, std::to_string(now),
                     roleName(m.identity.role)},
                    [this, conn_id](RedisResult r) {
                      auto it = conns_.find(conn_id);
                      if (it == conns_.end()) return;
                      auto* member = static_cast<Member*>(it->second->user);
                      if (!r) {
                        sendError(*it->second, "unavailable", "chat is briefly unavailable; try again");
                      } else if (r->isError() && r->str.starts_with("banned")) {
                        if (member) member->banned = true;
                        sendError(*it->second, "banned", "you are banned from this room's chat");
                      } else if (r->isError()) {
                        spdlog::error("chat: post failed: {}", r->str);
                        sendError(*it->second, "unavailable", "chat is briefly unavailable; try again");
                      }
                    });
}

void ChatService::onClose(WebSocketConnection& conn) {
  conns_.erase(conn.id());
  auto* m = static_cast<Member*>(conn.user);
  conn.user = nullptr;
  if (!m) return;
  leave(*m);
  delete m;
}

void ChatService::leave(Member& m) {
  auto it = rooms_.find(m.room);
  if (it == rooms_.end()) return;
  Room& room = *it->second;
  room.members.erase(&m);
  if (!room.members.empty()) return;
  // The last member on this node: report zero viewers (and any unflushed likes), stop
  // listening, forget the room.
  std::string id = room.id;
  redis_.evalScript("chat_room_tick",
                    {"bc:{s:" + id + "}:likes", "bc:{s:" + id + "}:viewers", "bc:{s:" + id + "}:stats"},
                    {channelOf(id), node_id_, "0", std::to_string(room.like_delta), std::to_string(nowMs())},
                    {});
  redis_.unsubscribe(channelOf(id));
  rooms_.erase(it);
}

// ---- moderation endpoints ---------------------------------------------------------------------

void ChatService::registerRoutes(HttpServer& http) {
  // Runs `action` when the bearer may moderate the room named in the path.
  auto moderated = [this](auto action) {
    return [this, action](HttpRequest& req, HttpResponder responder) {
      std::string room = req.params["id"];
      auto parsed = parseModerationObject(req.body);
      if (!parsed) {
        responder.send(badRequest(parsed.error()));
        return;
      }
      authority_.canModerate(room, std::string(req.bearerToken()), [this, room, body = std::move(*parsed), responder, action](bool ok) {
        if (!ok) {
          responder.send(HttpResponse::error(403, "forbidden", "only the organizer or this stream's factory may moderate"));
          return;
        }
        action(room, body, responder);
      });
    };
  };
  auto stored = [](HttpResponder responder, nlohmann::json answer) {
    return [responder, answer](RedisResult r) {
      if (!r || r->isError()) responder.send(HttpResponse::error(503, "store_unavailable", r ? r->str : r.error().message));
      else responder.send(HttpResponse::json(200, answer));
    };
  };
  auto ban = [this, stored](bool ban) {
    return [this, stored, ban](const std::string& room, const nlohmann::json& body, HttpResponder responder) {
      auto decoded = decodeBanBody(body);
      if (!decoded) {
        responder.send(badRequest(decoded.error()));
        return;
      }
      std::string user = std::move(decoded->user);
      redis_.evalScript("chat_ban", {keyOf(room, "banned")}, {channelOf(room), user, ban ? "1" : "0"},
                        stored(responder, {{"user", user}, {"banned", ban}}));
    };
  };
  http.route("POST", "/api/streams/:id/chat/ban", moderated(ban(true)));
  http.route("POST", "/api/streams/:id/chat/unban", moderated(ban(false)));
  http.route("POST", "/api/streams/:id/chat/delete",
             moderated([this, stored](const std::string& room, const nlohmann::json& body, HttpResponder responder) {
               auto decoded = decodeDeleteBody(body);
               if (!decoded) {
                 responder.send(badRequest(decoded.error()));
                 return;
               }
               int64_t id = decoded->id;
               redis_.evalScript("chat_delete", {keyOf(room, "history")}, {channelOf(room), std::to_string(id)},
                                 stored(responder, {{"deleted", id}}));
             }));
  http.route("POST", "/api/streams/:id/chat/slow",
             moderated([this, stored](const std::string& room, const nlohmann::json& body, HttpResponder responder) {
               auto decoded = decodeSlowModeBody(body);
               if (!decoded) {
                 responder.send(badRequest(decoded.error()));
                 return;
               }
               int seconds = decoded->seconds;
               redis_.command({"SET", keyOf(room, "slow"), std::to_string(seconds)}, {});
               redis_.publish(channelOf(room),
                              R"({"type":"slow_mode","seconds":)" + std::to_string(seconds) + "}",
                              stored(responder, {{"slow_mode_seconds", seconds}}));
             }));
  http.route("GET", "/api/chat/keywords", [this](HttpRequest& req, HttpResponder responder) {
    if (!authority_.isAdmin(std::string(req.bearerToken()))) {
      responder.send(HttpResponse::error(403, "forbidden", "organizer only"));
      return;
    }
    redis_.command({"SMEMBERS", "bc:chat:keywords"}, [responder](RedisResult r) {
      if (!r || r->type != RedisReply::Type::Array) {
        responder.send(HttpResponse::error(503, "store_unavailable", r ? r->str : r.error().message));
        return;
      }
      nlohmann::json list = nlohmann::json::array();
      for (auto& e : r->elements) list.push_back(e.str);
      responder.send(HttpResponse::json(200, {{"keywords", list}}));
    });
  });
  http.route("PUT", "/api/chat/keywords", [this](HttpRequest& req, HttpResponder responder) {
    if (!authority_.isAdmin(std::string(req.bearerToken()))) {
      responder.send(HttpResponse::error(403, "forbidden", "organizer only"));
      return;
    }
    auto decoded = decodeKeywordsBody(req.body);
    if (!decoded) {
      responder.send(badRequest(decoded.error()));
      return;
    }
    std::vector<std::string> add{"SADD", "bc:chat:keywords"};
    for (auto& k : decoded->keywords) add.push_back(std::move(k));
    redis_.command({"DEL", "bc:chat:keywords"}, {});
    auto done = [this, responder, n = add.size() - 2](RedisResult r) {
      if (!r || r->isError()) {
        responder.send(HttpResponse::error(503, "store_unavailable", r ? r->str : r.error().message));
        return;
      }
      refreshKeywords();
      responder.send(HttpResponse::json(200, {{"keywords", n}}));
    };
    if (add.size() > 2) redis_.command(add, done);
    else redis_.command({"PING"}, done);
  });
}

}  // namespace bloomcast::chat
