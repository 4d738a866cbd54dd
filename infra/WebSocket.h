#pragma once
// WebSockets on the HTTP server's lws context: routes by path, per-connection send queues with
// backpressure, and frames shared between recipients.
//
//   lws (protocol "http", no subprotocol) -> WebSocketHub -> WebSocketHandler (chat, dashboard)
//
// Fan-out cost: a WsFrame is serialized once and the same bytes are queued on every recipient;
// lws writes each frame's header into the LWS_PRE bytes in front of the payload, which is the
// same for every recipient (server frames are unmasked), so no per-recipient copy is made.
//
// Broadcast (fanOut, a chat room's tick): the frames of one tick go to each recipient with
// nothing queued as ONE send() of their wire bytes (header and payload, built once). A
// broadcast is written in slices of fanout_slice recipients, and the loop polls between slices
// (an Idle handle), so incoming frames and Redis messages are read while a 10,000-socket
// room is written. Until a broadcast reaches a connection, nothing else is written to it: a
// frame sent to it, or a close, first queues the broadcast's frames (catchUp), and a connection
// that closes leaves its slot empty. Within a slice the recipients are split between the loop
// thread and fanout_threads - 1 helper threads, which only call send() on the sockets'
// descriptors while the loop thread waits for them, so lws never runs alongside them. What the
// kernel does not take goes on afterwards from the loop thread: nothing sent -> the frames
// queue as usual; part sent -> the rest is handed to lws's own buffer (lws_write
// LWS_WRITE_RAW), which it flushes before any other byte on that socket.
//
// Backpressure: each connection queues at most max_queue_frames frames / max_queue_bytes bytes.
// When full, the oldest droppable frame goes (chat); if only non-droppable frames (orders, pins,
// totals) remain, the connection is closed (1008 "too slow"), as is one whose queue has not moved
// for stall_timeout_ms. The kernel's send buffer of each WebSocket is capped too
// (socket_send_buffer_bytes), so memory per connection is bounded whatever the client does.
// Incoming: text frames only (binary -> close 1003), messages at most max_message_bytes
// (-> close 1009); lws rejects unmasked client frames itself.
//
// Thread: loop thread only (fanOut's helpers touch nothing but descriptors). The hub is owned
// by HttpServer; connections by the hub (freed after onClose); handlers by whoever registered
// them (they outlive the server).
#include <libwebsockets.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <semaphore>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "infra/EventLoop.h"
#include "infra/Metrics.h"

namespace bloomcast {

// One outgoing text frame, with lws's header room in front of the payload. The frame's own
// header (a server frame is unmasked, so it is the same for every recipient) is written into
// that room at creation: wire() is the frame as it goes on the socket. lws_write later writes
// the same bytes there.
class WsFrame {
 public:
  static std::shared_ptr<WsFrame> text(std::string_view payload);
  unsigned char* payload() { return reinterpret_cast<unsigned char*>(storage_.data()) + LWS_PRE; }
  std::size_t size() const { return storage_.size() - LWS_PRE; }
  std::string_view view() const { return std::string_view(storage_).substr(LWS_PRE); }
  std::string_view wire() const { return std::string_view(storage_).substr(LWS_PRE - header_size_); }

 private:
  std::string storage_;
  std::size_t header_size_ = 0;
};
using WsFramePtr = std::shared_ptr<WsFrame>;

// One frame of a broadcast, and whether a slow reader may lose it.
struct WsOut {
  WsFramePtr frame;
  bool droppable = false;
};

class WebSocketHub;
class WebSocketConnection;

// One broadcast on its way (WebSocketHub::fanOut): its frames, their wire bytes, and the
// recipients; those before `next` are done, and a slot is emptied when its connection closes
// or is caught up.
struct WsBroadcast {
  std::vector<WsOut> frames;
  std::string joined;      // the wire bytes of all frames when there are several
  std::string_view bytes;  // what each recipient is sent: one frame's wire() or `joined`
  std::vector<WebSocketConnection*> to;
  std::size_t next = 0;
};

class WebSocketConnection {
 public:
  uint64_t id() const { return id_; }
  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& query() const { return query_; }
  std::string queryOr(const std::string& name, std::string fallback = "") const;
  // The client's address: the upgrade request's HttpRequest::remote_ip (behind a trusted proxy,
  // the client its X-Forwarded-For names).
  const std::string& remoteIp() const { return remote_ip_; }

  // Queues a frame; see the header comment for what happens when the queue is full.
  void send(WsFramePtr frame, bool droppable);
  // Closes after the frames already queued (a final error frame, say) are out.
  void close(int code, std::string reason);
  bool closing() const { return close_code_ != 0; }

  std::size_t queuedBytes() const { return queued_bytes_; }
  std::size_t queuedFrames() const { return queue_.size(); }

  void* user = nullptr;  // the handler's per-connection state

 private:
  friend class WebSocketHub;
  // Queues behind what is queued (shedding as the header comment says), without trying a write.
  void enqueue(WsFramePtr frame, bool droppable);
  struct Queued {
    WsFramePtr frame;
    bool droppable;
  };
  WebSocketHub* hub_ = nullptr;
  lws* wsi_ = nullptr;
  uint64_t id_ = 0;
  std::string path_;
  std::map<std::string, std::string> query_;
  std::string remote_ip_;
  std::deque<Queued> queue_;
  std::size_t queued_bytes_ = 0;
  uint64_t last_progress_ms_ = 0;
  std::string incoming_;
  // Broadcasts that have this connection in a slot not yet written, oldest first (the hub
  // writes them in this order): nothing else may go out before them.
  std::vector<std::pair<WsBroadcast*, std::size_t>> pending_broadcasts_;
  int close_code_ = 0;
  std::string close_reason_;
  class WebSocketHandler* handler_ = nullptr;
};

class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  // The upgrade succeeded. The handler may send, close, or set conn.user.
  virtual void onOpen(WebSocketConnection& conn) = 0;
  // One complete text message (at most max_message_bytes).
  virtual void onText(WebSocketConnection& conn, std::string_view text) = 0;
  // The connection is gone (either side closed); no call follows and conn is freed after.
  virtual void onClose(WebSocketConnection& conn) = 0;
};

struct WebSocketLimits {
  std::size_t max_message_bytes = 4096;
  std::size_t max_queue_frames = 256;
  std::size_t max_queue_bytes = 512 * 1024;
  uint64_t stall_timeout_ms = 10000;
  std::size_t socket_send_buffer_bytes = 128 * 1024;  // SO_SNDBUF of each WebSocket
  // Threads that write one broadcast, the loop thread included (1 = the loop thread alone), and
  // the fewest recipients for which the helpers are woken (below, handing over costs more than
  // it saves).
  unsigned fanout_threads = 2;
  std::size_t parallel_fanout_min = 256;
  // Recipients written per slice of a broadcast before the loop runs again.
  std::size_t fanout_slice = 256;
};

class WebSocketHub {
 public:
  // `lws_callback_depth` is > 0 while lws is calling into the server (HttpServer counts it):
  // frames sent then wait for a writable turn instead of going out at once.
  WebSocketHub(EventLoop& loop, MetricsRegistry& metrics, const int& lws_callback_depth,
               WebSocketLimits limits = {});
  ~WebSocketHub();

  void route(std::string path, WebSocketHandler* handler);
  bool hasRoutes() const { return !routes_.empty(); }
  bool hasRoute(const std::string& path) const { return routes_.contains(path); }
  // Handles the WebSocket callback reasons of the lws protocol; returns lws's expected result
  // or -1 to close. `remote_ip` (ESTABLISHED): the client's address as HttpServer resolved it
  // for the upgrade request (behind a trusted proxy, from X-Forwarded-For); "" = lws's peer.
  int callback(lws* wsi, lws_callback_reasons reason, void* in, std::size_t len,
               std::string_view remote_ip = {});
  std::size_t connections() const { return connections_.size(); }

  // Sends `frames`, in this order, to every connection in `to` (see the header comment). The
  // first slice is written now when lws is not in a callback; the rest in later loop turns.
  void fanOut(std::span<WebSocketConnection* const> to, std::span<const WsOut> frames);
  // Whether a broadcast is still being written.
  bool broadcasting() const { return !broadcasts_.empty(); }
  // Called each time the last broadcast in progress is done (nullptr: no one). One listener.
  void onBroadcastsDone(std::function<void()> fn) { on_broadcasts_done_ = std::move(fn); }

 private:
  friend class WebSocketConnection;
  // One broadcast's sends: the same bytes to `count` descriptors; results[i] is what send()
  // returned for fds[i] (-errno on failure). Threads take chunks of descriptors from `next`.
  struct SendJob {
    std::string_view bytes;
    const int* fds = nullptr;
    long* results = nullptr;
    std::size_t count = 0;
    std::atomic<std::size_t> next{0};
  };
  static void sendChunks(SendJob& job);
  void helperMain();
  // Writes the next slice of the oldest broadcast; schedules the next slice or reports done.
  void writeSlice();
  // Queues the frames of every broadcast still due to `c`, before anything else is sent to it.
  void catchUp(WebSocketConnection& c);
  void requestWrite(WebSocketConnection& c);
  bool writeNow(WebSocketConnection& c, const WsFramePtr& frame);
  void kill(WebSocketConnection& c, const char* why);
  void sweep();

  EventLoop& loop_;
  const int& lws_callback_depth_;
  WebSocketLimits limits_;
  std::map<std::string, WebSocketHandler*> routes_;
  std::unordered_map<uint64_t, WebSocketConnection*> connections_;  // owned
  uint64_t next_id_ = 1;
  Timer sweep_timer_;
  std::shared_ptr<Counter> dropped_frames_;
  std::shared_ptr<Counter> slow_closed_;
  std::shared_ptr<Counter> frames_out_;
  std::deque<WsBroadcast> broadcasts_;  // in progress, oldest first (stable addresses)
  Idle slicer_;                         // writes the next slice once the loop has polled
  std::function<void()> on_broadcasts_done_;
  // writeSlice's scratch (loop thread) and helpers: each helper waits on work_, runs *job_ with the
  // loop thread, and posts done_.
  std::vector<WebSocketConnection*> direct_;
  std::vector<int> direct_fds_;
  std::vector<long> direct_results_;
  std::counting_semaphore<64> work_{0};
  std::counting_semaphore<64> done_{0};
  SendJob* job_ = nullptr;
  bool stopping_ = false;
  std::vector<std::thread> helpers_;
};

}  // namespace bloomcast
