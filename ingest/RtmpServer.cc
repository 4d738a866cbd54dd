#include "ingest/RtmpServer.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "ingest/proto/AvcConfig.h"
#include "ingest/proto/FlvTag.h"

namespace bloomcast::ingest {

struct RtmpServer::Connection {
  enum class Phase { kNegotiating, kAuthorizing, kPublishing, kClosing };

  RtmpServer* server = nullptr;
  uint64_t id = 0;
  uv_tcp_t tcp{};
  RtmpSession session;
  std::string peer_ip;
  Phase phase = Phase::kNegotiating;
  uint64_t opened_ms = 0;
  uint64_t last_read_ms = 0;
  uint64_t closing_since_ms = 0;
  std::string stream_id;
  std::string stream_key;  // a secret: asked of the gate again while publishing, never logged
  uint64_t key_checked_ms = 0;
  bool rechecking = false;
  std::unique_ptr<MediaStreamSink> sink;
  StreamDescription description;
  uint8_t nalu_length_size = 4;
  std::size_t write_queue_bytes = 0;
  std::shared_ptr<Counter> frames_in;
  bool warned_audio = false;
  bool polled = false;  // read by the poll timer, not by libuv

  explicit Connection(RtmpSessionConfig config) : session(config) {}
};

namespace {

// One read buffer for all connections: the session copies what it keeps.
constexpr std::size_t kReadBufferBytes = 64 * 1024;
char* readBuffer() {
  static thread_local char storage[kReadBufferBytes];
  return storage;
}

struct WriteRequest {
  uv_write_t req{};
  std::vector<uint8_t> data;
};

std::string peerAddress(uv_tcp_t* tcp) {
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "?";
  char ip[64] = "?";
  if (addr.ss_family == AF_INET)
    uv_ip4_name(reinterpret_cast<sockaddr_in*>(&addr), ip, sizeof ip);
  else if (addr.ss_family == AF_INET6)
    uv_ip6_name(reinterpret_cast<sockaddr_in6*>(&addr), ip, sizeof ip);
  return ip;
}

// Rewrites length-prefixed NAL units to 4-byte prefixes (the form MediaPacket promises).
std::vector<uint8_t> toFourByteLengths(std::span<const uint8_t> data, uint8_t size) {
  if (size == 4) return {data.begin(), data.end()};
  std::vector<uint8_t> out;
  out.reserve(data.size() + data.size() / 8 + 8);
  std::size_t i = 0;
  while (i + size <= data.size()) {
    uint32_t n = 0;
    for (uint8_t k = 0; k < size; ++k) n = (n << 8) | data[i + k];
    i += size;
    if (n > data.size() - i) break;  // parseFlvTag already checked; defensive
    out.push_back(static_cast<uint8_t>(n >> 24));
    out.push_back(static_cast<uint8_t>(n >> 16));
    out.push_back(static_cast<uint8_t>(n >> 8));
    out.push_back(static_cast<uint8_t>(n));
    out.insert(out.end(), data.begin() + static_cast<std::ptrdiff_t>(i),
               data.begin() + static_cast<std::ptrdiff_t>(i + n));
    i += n;
  }
  return out;
}

// The AVCDecoderConfigurationRecord with lengthSizeMinusOne set to 3 (4-byte prefixes).
std::vector<uint8_t> withFourByteLengths(std::span<const uint8_t> record) {
  std::vector<uint8_t> out(record.begin(), record.end());
  if (out.size() > 4) out[4] = static_cast<uint8_t>(out[4] | 0x03);
  return out;
}

}  // namespace

RtmpServer::RtmpServer(EventLoop& loop, MetricsRegistry& metrics, PublishGate& gate,
                       MediaSinkFactory& sinks, RtmpServerOptions options)
    : loop_(loop),
      metrics_(metrics),
      gate_(gate),
      sinks_(sinks),
      options_(std::move(options)),
      sweep_timer_(loop),
      poll_timer_(loop) {
  bytes_in_ = metrics_.counter("bloomcast_rtmp_bytes_in_total", "Bytes received from publishers");
  refused_ = metrics_.counter("bloomcast_rtmp_publish_refused_total",
                              "Publish requests refused (unknown key, stream busy, bad app)");
  protocol_errors_ = metrics_.counter("bloomcast_rtmp_protocol_errors_total",
                                      "RTMP connections closed for malformed input or timeouts");
  revoked_ = metrics_.counter("bloomcast_rtmp_publishers_revoked_total",
                              "Live publishers cut off: their stream key was rotated or the stream ended");
  metrics_.gaugeCallback("bloomcast_rtmp_publishers", "Publishers live now",
                         [this] { return static_cast<double>(publishers_.size()); });
  metrics_.gaugeCallback("bloomcast_rtmp_connections", "RTMP connections open",
                         [this] { return static_cast<double>(connections_.size()); });
}

RtmpServer::~RtmpServer() {
  stop();
  // Connections still closing finish after this server is gone: cut them loose (their callbacks
  // then touch only themselves) and close their sockets now, since no sweep will force a
  // polite shutdown that the peer never completes.
  for (auto& [id, c] : connections_) {
    c->server = nullptr;
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp)))
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), &RtmpServer::release);
  }
  connections_.clear();
}

// The close callback of every connection's handle: the last thing that touches it.
void RtmpServer::release(uv_handle_t* handle) {
  auto* conn = static_cast<Connection*>(handle->data);
  if (conn->server) conn->server->connections_.erase(conn->id);
  delete conn;
}

std::expected<void, Error> RtmpServer::start() {
  loop_.assertInLoopThread();
  listener_ = new uv_tcp_t;
  uv_tcp_init(loop_.uv(), listener_);
  listener_->data = this;
  sockaddr_in addr{};
  uv_ip4_addr(options_.bind_address.c_str(), options_.port, &addr);
  int rc = uv_tcp_bind(listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 128, &RtmpServer::onConnection);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(listener_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    listener_ = nullptr;
    return std::unexpected(Error{"rtmp", "cannot listen on " + options_.bind_address + ":" +
                                             std::to_string(options_.port) + ": " + uv_strerror(rc)});
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  bound_port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  sweep_timer_.start(500, 500, [this] { sweep(); });
  spdlog::info("rtmp: listening on {}:{}", options_.bind_address, bound_port_);
  return {};
}

void RtmpServer::stop() {
  sweep_timer_.stop();
  if (listener_) {
    uv_close(reinterpret_cast<uv_handle_t*>(listener_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    listener_ = nullptr;
  }
  std::vector<Connection*> all;
  for (auto& [id, c] : connections_) all.push_back(c);
  for (Connection* c : all) close(*c, "server stopping");
}

void RtmpServer::onConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<RtmpServer*>(listener->data);
  if (status < 0) {
    spdlog::warn("rtmp: accept failed: {}", uv_strerror(status));
    return;
  }
  RtmpSessionConfig config;
  config.random_seed = std::random_device{}();
  auto* c = new Connection(config);
  c->server = self;
  c->id = self->next_id_++;
  uv_tcp_init(self->loop_.uv(), &c->tcp);
  c->tcp.data = c;
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
             [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
    return;
  }
  self->connections_[c->id] = c;
  c->peer_ip = peerAddress(&c->tcp);
  c->opened_ms = c->last_read_ms = uv_now(self->loop_.uv());
  if (self->connections_.size() > self->options_.max_connections) {
    spdlog::warn("rtmp: {} refused: {} connections open", c->peer_ip, self->options_.max_connections);
    self->close(*c, "too many connections");
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  self->startReading(*c);
}

void RtmpServer::startReading(Connection& c) {
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c.tcp),
      [](uv_handle_t*, size_t, uv_buf_t* buf) { *buf = uv_buf_init(readBuffer(), kReadBufferBytes); },
      [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        auto* c = static_cast<Connection*>(stream->data);
        if (nread > 0) {
          c->server->onRead(*c, reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread));
        } else if (nread < 0) {
          c->server->close(*c, nread == UV_EOF ? "publisher closed the connection"
                                               : std::string("read error: ") + uv_strerror(static_cast<int>(nread)));
        }
      });
}

void RtmpServer::onRead(Connection& c, const uint8_t* data, std::size_t size) {
  if (c.phase == Connection::Phase::kClosing) return;
  c.last_read_ms = uv_now(loop_.uv());
  bytes_in_->inc(size);
  handleEvents(c, c.session.onBytes(std::span<const uint8_t>(data, size)));
  if (c.phase != Connection::Phase::kClosing) flush(c);
}

void RtmpServer::handleEvents(Connection& c, std::vector<RtmpEvent> events) {
  for (auto& event : events) {
    if (c.phase == Connection::Phase::kClosing) return;
    if (auto* publish = std::get_if<PublishRequested>(&event)) {
      if (publish->app != "live") {
        refused_->inc();
        spdlog::warn("rtmp: {} publish refused: unknown application '{}'", c.peer_ip, publish->app);
        c.session.refusePublish("unknown application; publish to rtmp://HOST/live/STREAM_KEY");
        close(c, "refused");
        return;
      }
      c.phase = Connection::Phase::kAuthorizing;
      c.stream_key = publish->stream_name;
      uint64_t id = c.id;
      // The key is a secret: it is never logged.
      gate_.authorize(publish->stream_name, [this, id](std::expected<std::string, Error> r) {
        onAuthorized(id, std::move(r));
      });
    } else if (auto* meta = std::get_if<MetaData>(&event)) {
      if (c.phase != Connection::Phase::kPublishing) continue;
      c.description.width = static_cast<uint32_t>(std::max(0.0, meta->metadata.find("width") ? meta->metadata.find("width")->asNumber() : 0));
      c.description.height = static_cast<uint32_t>(std::max(0.0, meta->metadata.find("height") ? meta->metadata.find("height")->asNumber() : 0));
      if (const Amf0* fr = meta->metadata.find("framerate")) c.description.frame_rate = fr->asNumber();
      c.sink->onMetaData(c.description);
    } else if (auto* media = std::get_if<Media>(&event)) {
      if (c.phase != Connection::Phase::kPublishing) continue;
      handleMedia(c, media->is_video, media->timestamp_ms, media->payload);
    } else if (std::holds_alternative<Unpublished>(event)) {
      endPublish(c, "publisher unpublished");
      close(c, "unpublished");
      return;
    } else if (auto* error = std::get_if<ProtocolError>(&event)) {
      protocol_errors_->inc();
      spdlog::warn("rtmp: {} protocol error: {}", c.peer_ip, error->why);
      close(c, "protocol error");
      return;
    }
  }
}

void RtmpServer::onAuthorized(uint64_t connection_id, std::expected<std::string, Error> result) {
  auto it = connections_.find(connection_id);
  if (it == connections_.end()) return;  // the encoder left meanwhile
  Connection& c = *it->second;
  if (c.phase != Connection::Phase::kAuthorizing) return;
  std::string refusal;
  if (!result) {
    const std::string& code = result.error().code;
    refusal = code == "unknown_key"    ? "unknown stream key"
              : code == "stream_ended" ? "this stream has ended; set it offline to broadcast again"
                                       : "cannot check the stream key now; retry";
    spdlog::warn("rtmp: {} publish refused: {} ({})", c.peer_ip, refusal, result.error().message);
  } else if (publishers_.contains(*result)) {
    refusal = "this stream already has a publisher";
    spdlog::warn("rtmp: {} publish refused: stream {} already has a publisher", c.peer_ip, *result);
  }
  if (!refusal.empty()) {
    refused_->inc();
    c.session.refusePublish(refusal);
    close(c, "refused");
    return;
  }
  c.stream_id = *result;
  c.phase = Connection::Phase::kPublishing;
  c.key_checked_ms = uv_now(loop_.uv());
  publishers_[c.stream_id] = c.id;
  c.description.stream_id = c.stream_id;
  c.description.publisher_ip = c.peer_ip;
  c.frames_in = metrics_.counter("bloomcast_rtmp_frames_in_total", "Audio and video frames received",
                                 {{"stream", c.stream_id}});
  auto held = c.session.acceptPublish();
  c.sink = sinks_.open(c.description);
  gate_.onLive(c.stream_id);
  spdlog::info("rtmp: {} publishing stream {}", c.peer_ip, c.stream_id);
  handleEvents(c, std::move(held));
  if (c.phase == Connection::Phase::kClosing) return;
  flush(c);
  updateReadMode();
}

// Switches publishing connections between reading on arrival and the poll timer (see the
// header comment), with hysteresis so that a publisher flapping at the threshold does not
// switch every connection each time.
void RtmpServer::updateReadMode() {
  std::size_t live = publishers_.size();
  bool poll = options_.publish_poll_interval_ms > 0 &&
              (polling_ ? live > options_.poll_from_publishers / 2 : live >= options_.poll_from_publishers);
  if (poll != polling_) {
    polling_ = poll;
    spdlog::info("rtmp: {} publishers live: reading them {}", live,
                 poll ? "by a " + std::to_string(options_.publish_poll_interval_ms) + " ms poll" : "as bytes arrive");
    if (poll) poll_timer_.start(options_.publish_poll_interval_ms, options_.publish_poll_interval_ms,
                                [this] { pollPublishers(); });
    else poll_timer_.stop();
  }
  for (auto& [id, c] : connections_) {
    bool want = poll && c->phase == Connection::Phase::kPublishing;
    if (want == c->polled || c->phase == Connection::Phase::kClosing) continue;
    c->polled = want;
    if (want) uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
    else startReading(*c);
  }
}

void RtmpServer::pollPublishers() {
  std::vector<uint64_t> ids;
  ids.reserve(publishers_.size());
  for (auto& [id, c] : connections_)
    if (c->polled) ids.push_back(id);
  for (uint64_t id : ids) {
    for (;;) {
      auto it = connections_.find(id);
      if (it == connections_.end() || !it->second->polled) break;  // closed meanwhile
      Connection& c = *it->second;
      uv_os_fd_t fd = -1;
      if (uv_fileno(reinterpret_cast<uv_handle_t*>(&c.tcp), &fd) != 0) break;
      ssize_t n = ::recv(fd, readBuffer(), kReadBufferBytes, MSG_DONTWAIT);
      if (n > 0) {
        onRead(c, reinterpret_cast<const uint8_t*>(readBuffer()), static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < kReadBufferBytes) break;  // drained; the rest next time
      } else if (n == 0) {
        close(c, "publisher closed the connection");
        break;
      } else if (errno != EINTR) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) close(c, std::string("read error: ") + std::strerror(errno));
        break;
      }
    }
  }
}

void RtmpServer::handleMedia(Connection& c, bool is_video, uint32_t timestamp_ms,
                             std::vector<uint8_t>& body) {
  auto parsed = parseFlvTag(is_video ? MediaKind::kVideo : MediaKind::kAudio, timestamp_ms, body,
                            c.nalu_length_size);
  if (auto* bad = std::get_if<ParseError>(&parsed)) {
    protocol_errors_->inc();
    spdlog::warn("rtmp: {} stream {}: bad {} tag: {}", c.peer_ip, c.stream_id,
                 is_video ? "video" : "audio", bad->why);
    close(c, "bad media");
    return;
  }
  if (auto* unsupported = std::get_if<Unsupported>(&parsed)) {
    if (is_video) {
      spdlog::warn("rtmp: {} stream {}: unsupported video ({}); only H.264 is taken", c.peer_ip,
                   c.stream_id, unsupported->what);
      close(c, "unsupported video codec");
    } else if (!c.warned_audio) {
      c.warned_audio = true;
      spdlog::warn("rtmp: {} stream {}: unsupported audio ({}) dropped; only AAC is taken",
                   c.peer_ip, c.stream_id, unsupported->what);
    }
    return;
  }
  auto& tag = std::get<MediaTag>(parsed);
  if (tag.is_end_of_sequence) return;
  auto packet = std::make_shared<MediaPacket>();
  packet->type = is_video ? MediaType::kVideo : MediaType::kAudio;
  packet->is_config = tag.is_config;
  packet->keyframe = tag.keyframe;
  packet->dts_ms = tag.dts_ms;
  packet->pts_ms = tag.pts_ms;
  if (is_video && tag.is_config) {
    auto config = parseAvcConfig(tag.data);
    if (auto* bad = std::get_if<ParseError>(&config)) {
      protocol_errors_->inc();
      spdlog::warn("rtmp: {} stream {}: bad AVC config: {}", c.peer_ip, c.stream_id, bad->why);
      close(c, "bad media");
      return;
    }
    c.nalu_length_size = std::get<AvcConfig>(config).nalu_length_size;
    packet->data = withFourByteLengths(tag.data);
  } else if (is_video) {
    packet->data = toFourByteLengths(tag.data, c.nalu_length_size);
  } else {
    packet->data.assign(tag.data.begin(), tag.data.end());
  }
  if (!tag.is_config) c.frames_in->inc();
  c.sink->onPacket(std::move(packet));
}

void RtmpServer::flush(Connection& c) {
  std::vector<uint8_t> out = c.session.takeOutput();
  if (out.empty()) return;
  if (c.write_queue_bytes + out.size() > options_.max_write_queue_bytes) {
    spdlog::warn("rtmp: {} not reading its replies; closing", c.peer_ip);
    close(c, "write queue full");
    return;
  }
  auto* w = new WriteRequest;
  w->data = std::move(out);
  w->req.data = &c;
  c.write_queue_bytes += w->data.size();
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(w->data.data()), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c.tcp), &buf, 1, [](uv_write_t* req, int) {
    auto* w = reinterpret_cast<WriteRequest*>(req);
    static_cast<Connection*>(req->data)->write_queue_bytes -= w->data.size();
    delete w;
  });
  if (rc != 0) {
    c.write_queue_bytes -= w->data.size();
    delete w;
    close(c, "write failed");
  }
}

void RtmpServer::endPublish(Connection& c, const std::string& why) {
  if (c.phase != Connection::Phase::kPublishing) return;
  spdlog::info("rtmp: stream {} from {} ended: {}", c.stream_id, c.peer_ip, why);
  publishers_.erase(c.stream_id);
  c.phase = Connection::Phase::kNegotiating;
  if (c.sink) {
    c.sink->onEnd(why);
    c.sink.reset();
  }
  gate_.onOffline(c.stream_id);
  updateReadMode();
}

// Flushes what the session still has to say (a refusal, an error status), then closes: the
// shutdown completes once queued writes are out; the sweep forces a close after 5 s.
void RtmpServer::close(Connection& c, const std::string& why) {
  if (c.phase == Connection::Phase::kClosing) return;
  endPublish(c, why);
  flush(c);
  c.phase = Connection::Phase::kClosing;
  c.closing_since_ms = uv_now(loop_.uv());
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&c.tcp));
  c.polled = false;
  auto* req = new uv_shutdown_t;
  req->data = &c;
  int rc = uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&c.tcp), [](uv_shutdown_t* req, int) {
    auto* conn = static_cast<Connection*>(req->data);
    delete req;
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&conn->tcp)))
      uv_close(reinterpret_cast<uv_handle_t*>(&conn->tcp), &RtmpServer::release);
  });
  if (rc != 0) {
    delete req;
    uv_close(reinterpret_cast<uv_handle_t*>(&c.tcp), &RtmpServer::release);
  }
}

void RtmpServer::sweep() {
  uint64_t now = uv_now(loop_.uv());
  std::vector<std::pair<Connection*, std::string>> expired;
  for (auto& [id, c] : connections_) {
    switch (c->phase) {
      case Connection::Phase::kNegotiating:
      case Connection::Phase::kAuthorizing:
        if (now - c->opened_ms > options_.handshake_timeout_ms) expired.emplace_back(c, "no publish within the handshake deadline");
        break;
      case Connection::Phase::kPublishing:
        if (now - c->last_read_ms > options_.idle_timeout_ms) expired.emplace_back(c, "publisher silent");
        break;
      case Connection::Phase::kClosing:
        if (now - c->closing_since_ms > 5000 && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp)))
          uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), &RtmpServer::release);
        break;
    }
  }
  for (auto& [c, why] : expired) {
    protocol_errors_->inc();
    spdlog::warn("rtmp: {} closed: {}", c->peer_ip, why);
    close(*c, why);
  }
  recheckKeys(now);
}

// Asks the gate again about each live publisher whose key was last checked key_recheck_ms ago.
void RtmpServer::recheckKeys(uint64_t now_ms) {
  if (options_.key_recheck_ms == 0) return;
  std::vector<uint64_t> due;
  for (auto& [id, c] : connections_) {
    if (c->phase == Connection::Phase::kPublishing && !c->rechecking &&
        now_ms - c->key_checked_ms >= options_.key_recheck_ms)
      due.push_back(id);
  }
  // Apart from the loop above: the gate may answer at once (Redis disconnected).
  for (uint64_t id : due) {
    Connection& c = *connections_.at(id);
    c.rechecking = true;
    gate_.authorize(c.stream_key, [this, id, stream_id = c.stream_id](std::expected<std::string, Error> r) {
      onRechecked(id, stream_id, std::move(r));
    });
  }
}

void RtmpServer::onRechecked(uint64_t connection_id, const std::string& stream_id,
                             std::expected<std::string, Error> result) {
  auto it = connections_.find(connection_id);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  if (c.phase != Connection::Phase::kPublishing || c.stream_id != stream_id) return;
  c.rechecking = false;
  c.key_checked_ms = uv_now(loop_.uv());
  if (result && *result == stream_id) return;
  std::string why;
  if (result) why = "stream key now names another stream";  // ids are in the key: never expected
  else if (result.error().code == "unknown_key") why = "stream key revoked (rotated)";
  else if (result.error().code == "stream_ended") why = "stream ended by its owner or the organizer";
  if (why.empty()) {
    spdlog::debug("rtmp: stream {} key not rechecked: {}", stream_id, result.error().message);
    return;  // the store cannot answer now: the show goes on, asked again next time
  }
  revoked_->inc();
  spdlog::warn("rtmp: {} publishing stream {} cut off: {}", c.peer_ip, stream_id, why);
  close(c, why);
}

}  // namespace bloomcast::ingest
