#include "infra/WebSocket.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>

#include "infra/LwsSupport.h"

namespace bloomcast {
namespace {

WebSocketConnection* connectionOf(lws* wsi) {
  return static_cast<WebSocketConnection*>(lws_get_opaque_user_data(wsi));
}

}  // namespace

WsFramePtr WsFrame::text(std::string_view payload) {
  static_assert(LWS_PRE >= 10, "room for the longest frame header");
  auto f = std::make_shared<WsFrame>();
  f->storage_.reserve(LWS_PRE + payload.size());
  f->storage_.assign(LWS_PRE, '\0');
  f->storage_.append(payload);
  // RFC 6455 5.2: FIN + text opcode, then the length in 7, 7+16 or 7+64 bits; no mask.
  uint64_t n = payload.size();
  unsigned char header[10] = {0x81};
  std::size_t size = 2;
  if (n < 126) {
    header[1] = static_cast<unsigned char>(n);
  } else if (n < 65536) {
    header[1] = 126;
    header[2] = static_cast<unsigned char>(n >> 8);
    header[3] = static_cast<unsigned char>(n);
    size = 4;
  } else {
    header[1] = 127;
    for (int i = 0; i < 8; ++i) header[2 + i] = static_cast<unsigned char>(n >> (56 - 8 * i));
    size = 10;
  }
  f->header_size_ = size;
  std::copy(header, header + size, f->storage_.begin() + static_cast<std::ptrdiff_t>(LWS_PRE - size));
  return f;
}

std::string WebSocketConnection::queryOr(const std::string& name, std::string fallback) const {
  auto it = query_.find(name);
  return it == query_.end() ? fallback : it->second;
}

void WebSocketConnection::send(WsFramePtr frame, bool droppable) {
  if (closing() || !wsi_) return;
  if (!pending_broadcasts_.empty()) hub_->catchUp(*this);
  if (queue_.empty() && hub_->writeNow(*this, frame)) return;
  enqueue(std::move(frame), droppable);
}

void WebSocketConnection::enqueue(WsFramePtr frame, bool droppable) {
  if (closing() || !wsi_) return;
  const auto& limits = hub_->limits_;
  std::size_t size = frame->size();
  while (!queue_.empty() &&
         (queue_.size() + 1 > limits.max_queue_frames || queued_bytes_ + size > limits.max_queue_bytes)) {
    // Shed the oldest droppable frame; the frame being written (front) is never touched.
    auto it = queue_.begin() + 1;
    while (it != queue_.end() && !it->droppable) ++it;
    if (it == queue_.end()) {
      if (droppable) {
        hub_->dropped_frames_->inc();
        return;  // nothing to shed: drop the new chat frame itself
      }
      hub_->slow_closed_->inc();
      hub_->kill(*this, "send queue full of frames that may not be dropped");
      return;
    }
    queued_bytes_ -= it->frame->size();
    queue_.erase(it);
    hub_->dropped_frames_->inc();
  }
  if (queue_.empty()) last_progress_ms_ = uv_now(hub_->loop_.uv());
  queued_bytes_ += size;
  queue_.push_back(Queued{std::move(frame), droppable});
  hub_->requestWrite(*this);
}

void WebSocketConnection::close(int code, std::string reason) {
  if (closing() || !wsi_) return;
  if (!pending_broadcasts_.empty()) hub_->catchUp(*this);
  close_code_ = code;
  close_reason_ = std::move(reason);
  hub_->requestWrite(*this);
}

WebSocketHub::WebSocketHub(EventLoop& loop, MetricsRegistry& metrics, const int& lws_callback_depth,
                           WebSocketLimits limits)
    : loop_(loop),
      lws_callback_depth_(lws_callback_depth),
      limits_(limits),
      sweep_timer_(loop),
      slicer_(loop) {
  limits_.fanout_slice = std::max<std::size_t>(limits_.fanout_slice, 1);
  dropped_frames_ = metrics.counter("bloomcast_ws_dropped_frames_total",
                                    "Frames shed from slow readers' queues");
  slow_closed_ = metrics.counter("bloomcast_ws_slow_closed_total",
                                 "WebSocket connections closed for not reading");
  frames_out_ = metrics.counter("bloomcast_ws_frames_out_total", "WebSocket frames written");
  metrics.gaugeCallback("bloomcast_ws_connections", "WebSocket connections open",
                        [this] { return static_cast<double>(connections_.size()); });
  sweep_timer_.start(1000, 1000, [this] { sweep(); });
  for (unsigned i = 1; i < std::min(limits_.fanout_threads, 64u); ++i) helpers_.emplace_back([this] { helperMain(); });
}

WebSocketHub::~WebSocketHub() {
  stopping_ = true;
  work_.release(static_cast<std::ptrdiff_t>(helpers_.size()));
  for (auto& t : helpers_) t.join();
  for (auto& [id, c] : connections_) delete c;
}

void WebSocketHub::helperMain() {
  for (;;) {
    work_.acquire();
    if (stopping_) return;
    sendChunks(*job_);
    done_.release();
  }
}

void WebSocketHub::sendChunks(SendJob& job) {
  constexpr std::size_t kChunk = 64;  // descriptors taken at a time
  for (;;) {
    std::size_t first = job.next.fetch_add(kChunk, std::memory_order_relaxed);
    if (first >= job.count) return;
    for (std::size_t i = first; i < std::min(first + kChunk, job.count); ++i) {
      ssize_t n;
      do n = ::send(job.fds[i], job.bytes.data(), job.bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      while (n < 0 && errno == EINTR);
      job.results[i] = n < 0 ? -errno : n;
    }
  }
}

void WebSocketHub::fanOut(std::span<WebSocketConnection* const> to, std::span<const WsOut> frames) {
  if (frames.empty() || to.empty()) return;
  WsBroadcast& b = broadcasts_.emplace_back();  // deque: its address holds while others come and go
  b.frames.assign(frames.begin(), frames.end());
  if (frames.size() == 1) {
    b.bytes = frames[0].frame->wire();
  } else {
    for (const auto& f : frames) b.joined += f.frame->wire();
    b.bytes = b.joined;
  }
  b.to.reserve(to.size());
  for (WebSocketConnection* c : to) {
    if (c->closing() || !c->wsi_) continue;
    c->pending_broadcasts_.emplace_back(&b, b.to.size());
    b.to.push_back(c);
  }
  if (broadcasts_.size() > 1) return;  // the slices of the one before will come to it
  if (lws_callback_depth_ == 0) writeSlice();
  else slicer_.start([this] { writeSlice(); });
}

void WebSocketHub::writeSlice() {
  if (broadcasts_.empty()) return;
  WsBroadcast& b = broadcasts_.front();
  // Who can take the bytes straight away: nothing queued with us or inside lws (see writeNow).
  // The others queue the frames behind what they have.
  direct_.clear();
  direct_fds_.clear();
  std::size_t end = std::min(b.to.size(), b.next + limits_.fanout_slice);
  for (; b.next < end; ++b.next) {
    WebSocketConnection* c = b.to[b.next];
    if (!c) continue;  // closed, or caught up
    c->pending_broadcasts_.erase(c->pending_broadcasts_.begin());  // this one: the oldest
    if (c->closing() || !c->wsi_) continue;
    if (c->queue_.empty() && !lws_partial_buffered(c->wsi_)) {
      direct_.push_back(c);
      direct_fds_.push_back(lws_get_socket_fd(c->wsi_));
    } else {
      for (const auto& f : b.frames) c->enqueue(f.frame, f.droppable);
    }
  }
  direct_results_.assign(direct_.size(), 0);
  SendJob job;
  job.bytes = b.bytes;
  job.fds = direct_fds_.data();
  job.results = direct_results_.data();
  job.count = direct_.size();
  if (!helpers_.empty() && job.count >= limits_.parallel_fanout_min) {
    job_ = &job;
    work_.release(static_cast<std::ptrdiff_t>(helpers_.size()));
    sendChunks(job);
    for (std::size_t i = 0; i < helpers_.size(); ++i) done_.acquire();
    job_ = nullptr;
  } else {
    sendChunks(job);
  }
  uint64_t now = uv_now(loop_.uv());
  uint64_t written = 0;
  for (std::size_t i = 0; i < direct_.size(); ++i) {
    WebSocketConnection& c = *direct_[i];
    long n = direct_results_[i];
    if (n == -EAGAIN || n == -EWOULDBLOCK) {  // nothing went: queue as usual
      for (const auto& f : b.frames) c.enqueue(f.frame, f.droppable);
      continue;
    }
    if (n < 0) {
      kill(c, "write failed");
      continue;
    }
    if (static_cast<std::size_t>(n) < b.bytes.size()) {
      // The rest of a frame already begun: lws keeps it and sends it before anything else.
      auto* rest = reinterpret_cast<unsigned char*>(const_cast<char*>(b.bytes.data())) + n;
      std::size_t left = b.bytes.size() - static_cast<std::size_t>(n);
      if (lws_write(c.wsi_, rest, left, LWS_WRITE_RAW) < static_cast<int>(left)) {
        kill(c, "write failed");
        continue;
      }
    }
    written += b.frames.size();
    c.last_progress_ms_ = now;
  }
  frames_out_->inc(written);
  if (b.next == b.to.size()) broadcasts_.pop_front();
  if (!broadcasts_.empty()) {
    if (!slicer_.active()) slicer_.start([this] { writeSlice(); });
    return;
  }
  slicer_.stop();
  if (on_broadcasts_done_) on_broadcasts_done_();
}

void WebSocketHub::catchUp(WebSocketConnection& c) {
  auto due = std::move(c.pending_broadcasts_);
  c.pending_broadcasts_.clear();
  for (auto [b, slot] : due) {
    b->to[slot] = nullptr;
    for (const auto& f : b->frames) c.enqueue(f.frame, f.droppable);
  }
}

void WebSocketHub::route(std::string path, WebSocketHandler* handler) {
  routes_[std::move(path)] = handler;
}

void WebSocketHub::requestWrite(WebSocketConnection& c) {
  if (c.wsi_) lws_callback_on_writable(c.wsi_);
}

// A frame for a connection with nothing queued goes out at once when lws is not in the middle
// of a callback (a room's tick, a Redis message): waiting for a writable turn would cost two poll
// changes per connection per frame — on the libuv backend each re-adds the socket to epoll —
// which for a full room is most of the fan-out's CPU. lws_partial_buffered says whether part of
// an earlier frame still waits inside lws (no syscall; lws_send_pipe_choked would add a poll()
// per recipient per frame). If the kernel takes only part of this frame, or none of it, lws
// keeps the rest (at most this one frame) and sends it when the socket drains, and the next
// frame finds it buffered and queues with us, where the bounds of the header comment apply.
bool WebSocketHub::writeNow(WebSocketConnection& c, const WsFramePtr& frame) {
  if (lws_callback_depth_ > 0 || !c.wsi_ || lws_partial_buffered(c.wsi_)) return false;
  int n = lws_write(c.wsi_, frame->payload(), frame->size(), LWS_WRITE_TEXT);
  if (n < static_cast<int>(frame->size())) {
    kill(c, "write failed");
    return true;
  }
  frames_out_->inc();
  c.last_progress_ms_ = uv_now(loop_.uv());
  return true;
}

// A reader that does not read never makes its socket writable, so a polite close (which waits
// for a writable callback) would never happen: drop it at once.
void WebSocketHub::kill(WebSocketConnection& c, const char* why) {
  if (!c.wsi_ || c.close_code_ != 0) return;
  spdlog::info("ws: {} connection {} dropped: {}", c.remote_ip_, c.id_, why);
  c.queue_.clear();
  c.queued_bytes_ = 0;
  c.close_code_ = 1008;
  lws_set_timeout(c.wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void WebSocketHub::sweep() {
  uint64_t now = uv_now(loop_.uv());
  for (auto& [id, c] : connections_) {
    if (!c->queue_.empty() && !c->closing() && now - c->last_progress_ms_ > limits_.stall_timeout_ms) {
      slow_closed_->inc();
      kill(*c, "not reading");
    }
  }
}

int WebSocketHub::callback(lws* wsi, lws_callback_reasons reason, void* in, std::size_t len,
                           std::string_view remote_ip) {
  switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
      std::string path = lwsHeader(wsi, WSI_TOKEN_GET_URI);
      return routes_.contains(path) ? 0 : 1;  // non-zero refuses the upgrade
    }
    case LWS_CALLBACK_ESTABLISHED: {
      auto* c = new WebSocketConnection;
      c->hub_ = this;
      c->wsi_ = wsi;
      c->id_ = next_id_++;
      c->path_ = lwsHeader(wsi, WSI_TOKEN_GET_URI);
      c->query_ = lwsQuery(wsi);
      if (!remote_ip.empty()) {
        c->remote_ip_ = remote_ip;
      } else {
        char ip[64] = {0};
        lws_get_peer_simple(wsi, ip, sizeof ip);
        c->remote_ip_ = ip;
      }
      auto route = routes_.find(c->path_);
      if (route == routes_.end()) {
        delete c;
        return -1;
      }
      c->handler_ = route->second;
      lws_set_opaque_user_data(wsi, c);
      connections_[c->id_] = c;
      // Cap the kernel's send buffer: with autotuning each socket could hold megabytes that our
      // own bounded queue never sees, so a stuck reader would cost memory and go unnoticed.
      int sndbuf = static_cast<int>(limits_.socket_send_buffer_bytes);
      setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
      c->handler_->onOpen(*c);
      return 0;
    }
    case LWS_CALLBACK_RECEIVE: {
      auto* c = connectionOf(wsi);
      if (!c || c->closing()) return 0;
      if (lws_frame_is_binary(wsi)) {
        c->close(1003, "binary frames are not accepted");
        return 0;
      }
      // The frame header declares what is still to come: refuse an oversized frame on its
      // first bytes instead of waiting for the cap to fill.
      if (c->incoming_.size() + len + lws_remaining_packet_payload(wsi) > limits_.max_message_bytes) {
        c->incoming_.clear();
        c->close(1009, "message too big");
        return 0;
      }
      c->incoming_.append(static_cast<const char*>(in), len);
      if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
        std::string text = std::move(c->incoming_);
        c->incoming_.clear();
        c->handler_->onText(*c, text);
      }
      return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE: {
      auto* c = connectionOf(wsi);
      if (!c) return 0;
      if (!c->queue_.empty()) {
        auto& front = c->queue_.front();
        int n = lws_write(wsi, front.frame->payload(), front.frame->size(), LWS_WRITE_TEXT);
        if (n < static_cast<int>(front.frame->size())) return -1;
        frames_out_->inc();
        c->queued_bytes_ -= front.frame->size();
        c->queue_.pop_front();
        c->last_progress_ms_ = uv_now(loop_.uv());
        if (!c->queue_.empty() || c->closing()) lws_callback_on_writable(wsi);
        return 0;
      }
      if (c->closing()) {
        lws_close_reason(wsi, static_cast<lws_close_status>(c->close_code_),
                         reinterpret_cast<unsigned char*>(c->close_reason_.data()), c->close_reason_.size());
        return -1;
      }
      return 0;
    }
    case LWS_CALLBACK_CLOSED: {
      auto* c = connectionOf(wsi);
      if (!c) return 0;
      lws_set_opaque_user_data(wsi, nullptr);
      c->wsi_ = nullptr;
      for (auto [b, slot] : c->pending_broadcasts_) b->to[slot] = nullptr;
      c->pending_broadcasts_.clear();
      connections_.erase(c->id_);
      c->handler_->onClose(*c);
      delete c;
      return 0;
    }
    default:
      return 0;
  }
}

}  // namespace bloomcast
