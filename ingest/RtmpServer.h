#pragma once
// RtmpServer: the socket side of ingest. Accepts encoders (OBS, ffmpeg) on uv_tcp, runs one pure
// RtmpSession per connection, checks the stream key through the PublishGate, and hands media
// packets to a MediaStreamSink per publish. It only moves bytes; the protocol lives in proto/.
//
//   uv_tcp read -> RtmpSession::onBytes -> events
//     PublishRequested -> PublishGate::authorize(key) ... later: accept (sink opened, stream
//                         live) or refuse (NetStream.Publish.BadName, flushed, closed)
//     Media            -> parseFlvTag -> MediaPacket -> sink
//     Unpublished / ProtocolError / close / silence -> sink->onEnd, stream offline
//
// Limits (bad input gets a log line and a closed connection, never unbounded memory): the
// session's caps (chunk size, 8 MiB messages, AMF depth and strings, media held while the key
// is checked), a handshake deadline (publish accepted within handshake_timeout_ms), an idle
// deadline while publishing, a cap on connections and on bytes queued for writing.
// One publisher per stream: a second publish of a live stream is refused.
//
// A live publisher's key is asked of the gate again every key_recheck_ms (2 s): a key rotated
// since (it leaked, say) or a stream its owner ended cuts the publisher off within that, on
// whichever node it publishes to, with no message between nodes. When the gate cannot answer
// (Redis down) the publisher carries on: an outage of the store must not end every show.
//
// Reading: each connection is read as its bytes arrive, until poll_from_publishers (8) streams
// are live; from then on publishing connections are read by a timer every
// publish_poll_interval_ms (10 ms): all publishers in one wake-up, each drained with recv()
// until it has nothing more (back to reading on arrival below half that many). An encoder
// sends 70-100 small writes a second (one per audio or video frame), and waking the loop for
// each cost more than the bytes themselves (a context switch on this VM is ~10 µs); polling
// trades at most 10 ms of ingest delay, nothing against 2 s HLS segments, for ~100 wake-ups a
// second in all. With few publishers the timer's own wake-ups would cost more than it saves.
//
// Thread: loop thread only. Owned by app/; the gate and sink factory outlive it.
#include <uv.h>

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <unordered_map>

#include "infra/Error.h"
#include "infra/EventLoop.h"
#include "infra/Media.h"
#include "infra/Metrics.h"
#include "ingest/PublishGate.h"
#include "ingest/proto/RtmpSession.h"

namespace bloomcast::ingest {

struct RtmpServerOptions {
  std::string bind_address = "0.0.0.0";
  int port = 1935;  // 0 = any free port
  uint64_t handshake_timeout_ms = 10000;
  uint64_t idle_timeout_ms = 10000;
  std::size_t max_connections = 512;
  std::size_t max_write_queue_bytes = 1 << 20;
  uint64_t publish_poll_interval_ms = 10;  // 0: read publishers as their bytes arrive, always
  std::size_t poll_from_publishers = 8;
  uint64_t key_recheck_ms = 2000;  // 0: a key is checked only when its publish starts
};

class RtmpServer {
 public:
  RtmpServer(EventLoop& loop, MetricsRegistry& metrics, PublishGate& gate,
             MediaSinkFactory& sinks, RtmpServerOptions options);
  ~RtmpServer();
  RtmpServer(const RtmpServer&) = delete;
  RtmpServer& operator=(const RtmpServer&) = delete;

  std::expected<void, Error> start();
  int port() const { return bound_port_; }
  // Stops listening and closes every connection; each live publish ends ("server stopping").
  void stop();

  std::size_t connections() const { return connections_.size(); }
  std::size_t publishers() const { return publishers_.size(); }

 private:
  struct Connection;
  static void onConnection(uv_stream_t* server, int status);
  static void release(uv_handle_t* handle);
  void onRead(Connection& c, const uint8_t* data, std::size_t size);
  void handleEvents(Connection& c, std::vector<RtmpEvent> events);
  void onAuthorized(uint64_t connection_id, std::expected<std::string, Error> result);
  void recheckKeys(uint64_t now_ms);
  void onRechecked(uint64_t connection_id, const std::string& stream_id,
                   std::expected<std::string, Error> result);
  void handleMedia(Connection& c, bool is_video, uint32_t timestamp_ms, std::vector<uint8_t>& body);
  void flush(Connection& c);
  void endPublish(Connection& c, const std::string& why);
  void close(Connection& c, const std::string& why);
  void sweep();
  void startReading(Connection& c);
  void updateReadMode();
  void pollPublishers();

  EventLoop& loop_;
  MetricsRegistry& metrics_;
  PublishGate& gate_;
  MediaSinkFactory& sinks_;
  RtmpServerOptions options_;
  uv_tcp_t* listener_ = nullptr;
  int bound_port_ = 0;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Connection*> connections_;  // owned; freed in uv_close callbacks
  std::unordered_map<std::string, uint64_t> publishers_;   // stream id -> connection id
  Timer sweep_timer_;
  Timer poll_timer_;
  bool polling_ = false;  // publishing connections are read by poll_timer_
  std::shared_ptr<Counter> bytes_in_;
  std::shared_ptr<Counter> refused_;
  std::shared_ptr<Counter> protocol_errors_;
  std::shared_ptr<Counter> revoked_;
};

}  // namespace bloomcast::ingest
