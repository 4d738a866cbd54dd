#pragma once
// Adapters: the interfaces one part declares, answered by another — wired here so that no part
// depends on another.
//   ingest::PublishGate   <- orders (stream keys, stream status)
//   chat::ChatAuthority   <- orders (catalog, sessions, factory tokens) + the admin token
// Thread: loop thread. Owned by app/Server; the OrdersModule outlives them.
#include <string>

#include "chat/ChatAuthority.h"
#include "ingest/PublishGate.h"
#include "orders/OrdersModule.h"

namespace bloomcast {

class OrdersPublishGate : public ingest::PublishGate {
 public:
  explicit OrdersPublishGate(orders::OrdersModule& orders) : orders_(orders) {}
  void authorize(const std::string& stream_key, Answer answer) override;
  void onLive(const std::string& stream_id) override;
  void onOffline(const std::string& stream_id) override;

 private:
  orders::OrdersModule& orders_;
};

class OrdersChatAuthority : public chat::ChatAuthority {
 public:
  OrdersChatAuthority(orders::OrdersModule& orders, std::string admin_token)
      : orders_(orders), admin_token_(std::move(admin_token)) {}
  void resolve(const std::string& room, const std::string& token,
               std::function<void(std::expected<chat::ChatIdentity, Error>)> done) override;
  void canModerate(const std::string& room, const std::string& bearer,
                   std::function<void(bool)> done) override;
  bool isAdmin(const std::string& bearer) const override;

 private:
  orders::OrdersModule& orders_;
  std::string admin_token_;
};

}  // namespace bloomcast
