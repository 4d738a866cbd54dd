#include "WsClient.h"

#include <libwebsockets.h>

#include <cstring>
#include <stdexcept>

namespace bloomcast::test {
namespace {

int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  lws_context* ctx = lws_get_context(wsi);
  auto* self = ctx ? static_cast<WsClients*>(lws_context_user(ctx)) : nullptr;
  if (self) self->onCallback(wsi, static_cast<int>(reason), in, len);
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

const lws_protocols kProtocols[] = {{"test-client", callback, 0, 65536, 0, nullptr, 0},
                                    {nullptr, nullptr, 0, 0, 0, nullptr, 0}};

}  // namespace

WsClients::WsClients() {
  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = kProtocols;
  info.user = this;
  info.options = 0;
  context_ = lws_create_context(&info);
  if (!context_) throw std::runtime_error("lws client context");
  thread_ = std::thread([this] { serviceLoop(); });
}

WsClients::~WsClients() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  lws_cancel_service(context_);
  thread_.join();
  lws_context_destroy(context_);
}

void WsClients::serviceLoop() {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    lws_service(context_, 0);
  }
}

void WsClients::post(std::function<void()> command) {
  {
    std::lock_guard lock(mu_);
    commands_.push_back(std::move(command));
  }
  lws_cancel_service(context_);
}

WsClients::Client* WsClients::clientOf(lws* wsi) {
  return static_cast<Client*>(lws_get_opaque_user_data(wsi));
}

void WsClients::onCallback(lws* wsi, int reason, void* in, std::size_t len) {
  std::unique_lock lock(mu_);
  switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
      auto commands = std::move(commands_);
      commands_.clear();
      lock.unlock();
      for (auto& c : commands) c();
      return;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      if (auto* c = clientOf(wsi)) c->open = true;
      break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      if (auto* c = clientOf(wsi)) {
        c->failed = c->closed = true;
        c->wsi = nullptr;
      }
      break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
      if (auto* c = clientOf(wsi)) {
        c->partial.append(static_cast<const char*>(in), len);
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
          c->received.push_back(std::move(c->partial));
          c->partial.clear();
        }
      }
      break;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
      if (auto* c = clientOf(wsi); c && len >= 2) {
        auto* p = static_cast<const unsigned char*>(in);
        c->close_code = (p[0] << 8) | p[1];
      }
      break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
      if (auto* c = clientOf(wsi)) {
        if (c->close_requested) {
          lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, nullptr, 0);
          lock.unlock();
          lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
          return;
        }
        if (!c->outgoing.empty()) {
          auto [bytes, binary] = std::move(c->outgoing.front());
          c->outgoing.pop_front();
          std::vector<unsigned char> buf(LWS_PRE + bytes.size());
          std::memcpy(buf.data() + LWS_PRE, bytes.data(), bytes.size());
          lws_write(wsi, buf.data() + LWS_PRE, bytes.size(), binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
          if (!c->outgoing.empty()) lws_callback_on_writable(wsi);
        }
      }
      break;
    case LWS_CALLBACK_CLIENT_CLOSED:
      if (auto* c = clientOf(wsi)) {
        c->closed = true;
        c->wsi = nullptr;
      }
      break;
    default:
      return;
  }
  changed_.notify_all();
}

int WsClients::connect(int port, const std::string& path) {
  int index;
  {
    std::lock_guard lock(mu_);
    clients_.push_back(std::make_unique<Client>());
    index = static_cast<int>(clients_.size()) - 1;
  }
  post([this, index, port, path] {
    Client* c;
    {
      std::lock_guard lock(mu_);
      c = clients_[static_cast<std::size_t>(index)].get();
    }
    lws_client_connect_info ci{};
    ci.context = context_;
    ci.address = "127.0.0.1";
    ci.port = port;
    ci.path = path.c_str();
    ci.host = "127.0.0.1";
    ci.origin = "127.0.0.1";
    ci.protocol = nullptr;
    ci.local_protocol_name = "test-client";
    ci.opaque_user_data = c;
    lws* wsi = lws_client_connect_via_info(&ci);
    std::lock_guard lock(mu_);
    if (!wsi && !c->closed) c->failed = c->closed = true;
    else if (!c->closed) c->wsi = wsi;
    changed_.notify_all();
  });
  return index;
}

void WsClients::send(int client, const std::string& text) {
  post([this, client, text] {
    std::lock_guard lock(mu_);
    Client* c = clients_[static_cast<std::size_t>(client)].get();
    if (!c->wsi) return;
    c->outgoing.emplace_back(text, false);
    lws_callback_on_writable(c->wsi);
  });
}

void WsClients::sendBinary(int client, const std::string& bytes) {
  post([this, client, bytes] {
    std::lock_guard lock(mu_);
    Client* c = clients_[static_cast<std::size_t>(client)].get();
    if (!c->wsi) return;
    c->outgoing.emplace_back(bytes, true);
    lws_callback_on_writable(c->wsi);
  });
}

void WsClients::setReading(int client, bool reading) {
  post([this, client, reading] {
    lws* wsi;
    {
      std::lock_guard lock(mu_);
      wsi = clients_[static_cast<std::size_t>(client)]->wsi;
    }
    if (wsi) lws_rx_flow_control(wsi, reading ? 1 : 0);
  });
}

void WsClients::close(int client) {
  post([this, client] {
    std::lock_guard lock(mu_);
    Client* c = clients_[static_cast<std::size_t>(client)].get();
    if (!c->wsi) return;
    c->close_requested = true;
    lws_callback_on_writable(c->wsi);
  });
}

bool WsClients::waitOpen(int client, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] {
    auto& c = *clients_[static_cast<std::size_t>(client)];
    return c.open || c.closed;
  }) && clients_[static_cast<std::size_t>(client)]->open;
}

bool WsClients::waitClosed(int client, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return clients_[static_cast<std::size_t>(client)]->closed; });
}

bool WsClients::waitFor(int client, const std::function<bool(const std::vector<std::string>&)>& pred,
                        std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return pred(clients_[static_cast<std::size_t>(client)]->received); });
}

std::vector<std::string> WsClients::messages(int client) {
  std::lock_guard lock(mu_);
  return clients_[static_cast<std::size_t>(client)]->received;
}

bool WsClients::isOpen(int client) {
  std::lock_guard lock(mu_);
  auto& c = *clients_[static_cast<std::size_t>(client)];
  return c.open && !c.closed;
}

bool WsClients::isClosed(int client) {
  std::lock_guard lock(mu_);
  return clients_[static_cast<std::size_t>(client)]->closed;
}

int WsClients::closeCode(int client) {
  std::lock_guard lock(mu_);
  return clients_[static_cast<std::size_t>(client)]->close_code;
}

}  // namespace bloomcast::test
