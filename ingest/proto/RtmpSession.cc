#include "ingest/proto/RtmpSession.h"

#include <algorithm>
#include <utility>

#include "ingest/proto/Bytes.h"

namespace bloomcast::ingest {

namespace {

constexpr uint32_t kPublishStreamId = 1;  // the one stream createStream hands out
constexpr uint8_t kPeerBandwidthDynamic = 2;
constexpr size_t kMaxHeldConfigBytes = 64 * 1024;
constexpr size_t kMaxHeldConfigs = 16;

// Codec configuration (AVC / AAC sequence header): must survive holding, or the stream cannot
// be decoded until the encoder repeats it (which OBS and ffmpeg never do).
bool isSequenceHeader(bool is_video, std::span<const uint8_t> payload) {
  if (payload.size() < 2 || payload[1] != 0) return false;
  return is_video ? (payload[0] & 0x0F) == 7 : (payload[0] >> 4) == 10;
}

// "KEY?token=x" -> {"KEY", "token=x"}
std::pair<std::string, std::string> splitQuery(std::string_view name) {
  const size_t q = name.find('?');
  if (q == std::string_view::npos) return {std::string(name), {}};
  return {std::string(name.substr(0, q)), std::string(name.substr(q + 1))};
}

}  // namespace

RtmpSession::RtmpSession(RtmpSessionConfig config)
    : config_(config), handshake_(config.random_seed), decoder_(config.chunk_limits) {}

std::vector<uint8_t> RtmpSession::takeOutput() { return std::exchange(output_, {}); }

void RtmpSession::send(const RtmpMessage& message) { encoder_.encode(message, output_); }

void RtmpSession::fail(std::string why, std::vector<RtmpEvent>& events) {
  state_ = State::kFailed;
  held_.clear();
  events.push_back(ProtocolError{std::move(why)});
}

std::vector<RtmpEvent> RtmpSession::onBytes(std::span<const uint8_t> bytes) {
  std::vector<RtmpEvent> events;
  if (state_ == State::kFailed) return events;

  std::vector<uint8_t> after_handshake;
  if (state_ == State::kHandshake) {
    handshake_input_.insert(handshake_input_.end(), bytes.begin(), bytes.end());
    size_t used = 0;
    while (!handshake_.done()) {
      auto step = handshake_.feed(std::span(handshake_input_).subspan(used));
      if (std::holds_alternative<NeedMore>(step)) break;
      if (auto* error = std::get_if<ParseError>(&step)) {
        fail("handshake: " + error->why, events);
        return events;
      }
      auto& parsed = std::get<Parsed<std::vector<uint8_t>>>(step);
      appendBytes(output_, parsed.value);
      used += parsed.consumed;
    }
    if (!handshake_.done()) {
      handshake_input_.erase(handshake_input_.begin(),
                             handshake_input_.begin() + static_cast<ptrdiff_t>(used));
      return events;
    }
    state_ = State::kAwaitConnect;
    after_handshake.assign(handshake_input_.begin() + static_cast<ptrdiff_t>(used),
                           handshake_input_.end());
    handshake_input_ = {};
    bytes = after_handshake;
  }

  received_bytes_ += bytes.size();
  auto decoded = decoder_.feed(bytes);
  if (auto* error = std::get_if<ParseError>(&decoded)) {
    fail("chunk stream: " + error->why, events);
    return events;
  }
  for (RtmpMessage& message : std::get<std::vector<RtmpMessage>>(decoded)) {
    handleMessage(message, events);
    if (state_ == State::kFailed) return events;
  }

  // Acknowledge every window of received bytes: the encoder's window once it announced one,
  // ours until then (as nginx-rtmp does; some encoders stall without acknowledgements).
  const uint64_t window =
      peer_window_bytes_ != 0 ? peer_window_bytes_ : config_.window_ack_size_bytes;
  if (window != 0 && received_bytes_ - acked_bytes_ >= window) {
    acked_bytes_ = received_bytes_;
    send(makeAcknowledgement(static_cast<uint32_t>(received_bytes_)));  // wraps, as specified
  }
  return events;
}

void RtmpSession::handleMessage(RtmpMessage& message, std::vector<RtmpEvent>& events) {
  switch (message.type_id) {
    case RtmpType::kCommandAmf0:
    case RtmpType::kCommandAmf3: handleCommand(message, events); return;
    case RtmpType::kDataAmf0: handleData(message.payload, events); return;
    case RtmpType::kDataAmf3:
      if (!message.payload.empty()) handleData(std::span(message.payload).subspan(1), events);
      return;
    case RtmpType::kAudio:
    case RtmpType::kVideo:
      handleMedia(message.type_id == RtmpType::kVideo, message.timestamp_ms, message.msg_stream_id,
                  std::move(message.payload), events);
      return;
    case RtmpType::kAggregate: handleAggregate(message, events); return;
    case RtmpType::kUserControl: handleUserControl(message); return;
    case RtmpType::kWindowAckSize:
      if (message.payload.size() >= 4) peer_window_bytes_ = ByteReader(message.payload).u32be();
      return;
    default:
      // Set Chunk Size and Abort were applied by the decoder; Acknowledgement and Set Peer
      // Bandwidth need nothing from a server that sends little; other types are not used.
      return;
  }
}

void RtmpSession::handleUserControl(const RtmpMessage& message) {
  ByteReader reader(message.payload);
  const uint16_t event_type = reader.u16be();
  const uint32_t value = reader.u32be();
  if (!reader.failed() && event_type == UserControlEvent::kPingRequest) {
    send(makeUserControl(UserControlEvent::kPingResponse, value));
  }
}

void RtmpSession::reply(const RtmpCommand& command, std::vector<Amf0> values) {
  values.insert(values.begin(), {Amf0::string("_result"), Amf0::number(command.transaction_id)});
  send(makeAmf0Message(RtmpType::kCommandAmf0, kCommandCsid, 0, values));
}

void RtmpSession::handleCommand(const RtmpMessage& message, std::vector<RtmpEvent>& events) {
  auto parsed =
      parseCommand(message.payload, message.type_id == RtmpType::kCommandAmf3, config_.amf0_limits);
  if (auto* error = std::get_if<ParseError>(&parsed)) {
    fail(error->why, events);
    return;
  }
  const RtmpCommand& command = std::get<RtmpCommand>(parsed);
  const std::string& name = command.name;

  if (state_ == State::kAwaitConnect) {
    if (name == "connect") {
      handleConnect(command, events);
    } else {
      fail("command '" + name + "' before connect", events);
    }
    return;
  }
  if (name == "connect") {
    fail("connect on an already connected session", events);
  } else if (name == "releaseStream" || name == "FCPublish") {
    if (command.transaction_id != 0) reply(command, {Amf0::null(), Amf0::undefined()});
  } else if (name == "createStream") {
    reply(command, {Amf0::null(), Amf0::number(kPublishStreamId)});
  } else if (name == "publish") {
    handlePublish(command, message.msg_stream_id, events);
  } else if (name == "FCUnpublish" || name == "deleteStream" || name == "closeStream") {
    endPublish(events);
  } else if (name == "play" || name == "play2") {
    send(makeOnStatus(message.msg_stream_id, "error", "NetStream.Play.Failed",
                      "bloomcast only ingests streams; watch over HLS"));
    fail("play requested; this server only accepts publishers", events);
  }
  // Anything else (getStreamLength, _checkbw, _result of our calls, ...) is ignored.
}

void RtmpSession::handleConnect(const RtmpCommand& command, std::vector<RtmpEvent>& events) {
  const Amf0& properties = command.command_object;
  if (!properties.isObjectLike()) {
    fail("connect without a command object", events);
    return;
  }
  std::string app(properties.stringAt("app"));
  app = splitQuery(app).first;
  while (!app.empty() && app.back() == '/') app.pop_back();
  app_ = std::move(app);
  tc_url_ = std::string(properties.stringAt("tcUrl"));
  const Amf0* encoding = properties.find("objectEncoding");
  const double object_encoding = encoding ? encoding->asNumber() : 0;

  send(makeWindowAckSize(config_.window_ack_size_bytes));
  send(makeSetPeerBandwidth(config_.peer_bandwidth_bytes, kPeerBandwidthDynamic));
  send(makeSetChunkSize(config_.out_chunk_size_bytes));
  encoder_.setChunkSize(config_.out_chunk_size_bytes);
  reply(command, {Amf0::object({{"fmsVer", Amf0::string("FMS/3,0,1,123")},
                                {"capabilities", Amf0::number(31)}}),
                  Amf0::object({{"level", Amf0::string("status")},
                                {"code", Amf0::string("NetConnection.Connect.Success")},
                                {"description", Amf0::string("Connection succeeded.")},
                                {"objectEncoding", Amf0::number(object_encoding)}})});
  state_ = State::kConnected;
}

void RtmpSession::handlePublish(const RtmpCommand& command, uint32_t msg_stream_id,
                                std::vector<RtmpEvent>& events) {
  if (state_ != State::kConnected) {
    send(makeOnStatus(msg_stream_id, "error", "NetStream.Publish.BadName",
                      "only one publish per connection"));
    fail("second publish on one connection", events);
    return;
  }
  const std::string_view full_name =
      command.arguments.empty() ? std::string_view() : command.arguments[0].asString();
  auto [stream_name, query] = splitQuery(full_name);
  if (stream_name.empty()) {
    send(makeOnStatus(msg_stream_id, "error", "NetStream.Publish.BadName", "missing stream key"));
    fail("publish without a stream name", events);
    return;
  }
  std::string publish_type =
      command.arguments.size() > 1 ? std::string(command.arguments[1].asString()) : std::string();
  if (publish_type.empty()) publish_type = "live";

  publish_stream_id_ = msg_stream_id;
  state_ = State::kPublishPending;
  events.push_back(PublishRequested{app_, std::move(stream_name), std::move(query), tc_url_,
                                    std::move(publish_type)});
}

void RtmpSession::endPublish(std::vector<RtmpEvent>& events) {
  if (state_ != State::kPublishPending && state_ != State::kPublishing) return;
  if (state_ == State::kPublishing) {
    send(makeOnStatus(publish_stream_id_, "status", "NetStream.Unpublish.Success",
                      "Stop publishing"));
  }
  state_ = State::kEnded;
  held_.clear();
  events.push_back(Unpublished{});
}

//   @setDataFrame, onMetaData, {metadata}     (what encoders send)
//   onMetaData, {metadata}                    (what some older encoders send)
void RtmpSession::handleData(std::span<const uint8_t> payload, std::vector<RtmpEvent>& events) {
  auto decoded = decodeAmf0Sequence(payload, config_.amf0_limits);
  auto* values = std::get_if<std::vector<Amf0>>(&decoded);
  if (values == nullptr) return;  // a data message we cannot read is not worth a disconnect
  size_t i = 0;
  if (i < values->size() && (*values)[i].asString() == "@setDataFrame") ++i;
  if (i + 1 >= values->size() || (*values)[i].asString() != "onMetaData" ||
      !(*values)[i + 1].isObjectLike()) {
    return;
  }
  deliver(MetaData{std::move((*values)[i + 1])}, true, payload.size(), events);
}

void RtmpSession::handleMedia(bool is_video, uint32_t timestamp_ms, uint32_t msg_stream_id,
                              std::vector<uint8_t> payload, std::vector<RtmpEvent>& events) {
  if (payload.empty() || msg_stream_id != publish_stream_id_) return;
  const bool is_config = isSequenceHeader(is_video, payload);
  const size_t size_bytes = payload.size();
  deliver(Media{is_video, timestamp_ms, std::move(payload)}, is_config, size_bytes, events);
}

void RtmpSession::deliver(RtmpEvent event, bool is_config, size_t size_bytes,
                          std::vector<RtmpEvent>& events) {
  if (state_ == State::kPublishing) {
    events.push_back(std::move(event));
    return;
  }
  if (state_ != State::kPublishPending) return;
  // Hold in arrival order while it fits (bytes and count: many tiny messages must not cost more
  // memory than a few large ones). Past the limit keep only codec configuration: frames after a
  // gap would not decode anyway.
  if (!held_overflowed_ && held_bytes_ + size_bytes <= config_.max_held_bytes &&
      held_.size() < config_.max_held_messages) {
    held_bytes_ += size_bytes;
    held_configs_ += is_config ? 1 : 0;
    held_.push_back(std::move(event));
    return;
  }
  held_overflowed_ = true;
  if (is_config && size_bytes <= kMaxHeldConfigBytes && held_configs_ < kMaxHeldConfigs) {
    held_bytes_ += size_bytes;
    ++held_configs_;
    held_.push_back(std::move(event));
  }
}

//   Aggregate message body = { FLV tag header (11) | tag body | previous tag size (4) }*
//   tag header = type (1) | body size (3) | timestamp (3) | timestamp high byte (1) | stream (3)
// Sub-message timestamps are rebased so the first one equals the aggregate's timestamp.
void RtmpSession::handleAggregate(const RtmpMessage& message, std::vector<RtmpEvent>& events) {
  ByteReader reader(message.payload);
  bool first = true;
  uint32_t base_ms = 0;
  while (reader.remaining() >= 11 && state_ != State::kFailed) {
    const uint8_t type_id = reader.u8();
    const uint32_t size_bytes = reader.u24be();
    const uint32_t low_ms = reader.u24be();
    const uint32_t timestamp_ms = low_ms | (uint32_t{reader.u8()} << 24);
    reader.skip(3);
    if (size_bytes > reader.remaining()) return;  // a torn aggregate: keep what was whole
    const auto body = reader.bytes(size_bytes);
    reader.skip(std::min<size_t>(4, reader.remaining()));
    if (first) {
      base_ms = timestamp_ms;
      first = false;
    }
    const uint32_t rebased_ms = message.timestamp_ms + (timestamp_ms - base_ms);
    if (type_id == RtmpType::kAudio || type_id == RtmpType::kVideo) {
      handleMedia(type_id == RtmpType::kVideo, rebased_ms, message.msg_stream_id,
                  std::vector<uint8_t>(body.begin(), body.end()), events);
    } else if (type_id == RtmpType::kDataAmf0) {
      handleData(body, events);
    }
  }
}

std::vector<RtmpEvent> RtmpSession::acceptPublish() {
  if (state_ != State::kPublishPending) return {};
  send(makeOnStatus(publish_stream_id_, "status", "NetStream.Publish.Start", "Start publishing"));
  state_ = State::kPublishing;
  held_bytes_ = 0;
  held_configs_ = 0;
  return std::exchange(held_, {});
}

void RtmpSession::refusePublish(std::string_view reason) {
  if (state_ != State::kPublishPending) return;
  send(makeOnStatus(publish_stream_id_, "error", "NetStream.Publish.BadName", reason));
  state_ = State::kRefused;
  held_.clear();
}

}  // namespace bloomcast::ingest
