#pragma once
// The server side of one RTMP publisher connection, as a pure state machine: bytes from the
// socket go in (onBytes), events for the ingest layer and bytes for the socket come out
// (takeOutput). No sockets, clocks or threads.
//
//   encoder (OBS, ffmpeg)                        RtmpSession
//   C0 C1                 ---------------->
//                         <----------------      S0 S1 S2
//   C2, connect(app)      ---------------->
//                         <----------------      Window Ack Size, Set Peer Bandwidth,
//                                                Set Chunk Size, _result(Connect.Success)
//   releaseStream, FCPublish, createStream --->
//                         <----------------      _result, _result, _result(stream id 1)
//   publish(key)          ---------------->      event PublishRequested   (state kPublishPending)
//                           ... the caller checks the key (in Redis), later:
//                         <----------------      acceptPublish(): onStatus Publish.Start
//                                                refusePublish(): onStatus error Publish.BadName
//   @setDataFrame, audio, video  ---------->     events MetaData, Media   (state kPublishing)
//   FCUnpublish, deleteStream  ------------>     event Unpublished        (state kEnded)
//
// One publish per connection: a second publish, a play request or malformed protocol data ends
// the session with a ProtocolError event (after queueing an error status where one fits); the
// caller flushes takeOutput() and closes. Unknown commands are ignored, as nginx-rtmp does.
//
// Media and metadata that arrive while a publish waits for the caller's answer are held (up to
// max_held_bytes and max_held_messages; codec configuration is kept even past that) and
// returned by acceptPublish(), so sequence headers sent right after publish are not lost.
// Media before publish, after refusal or on another message stream is dropped.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ingest/proto/Amf0.h"
#include "ingest/proto/ChunkDecoder.h"
#include "ingest/proto/ChunkEncoder.h"
#include "ingest/proto/Handshake.h"
#include "ingest/proto/RtmpCommand.h"
#include "ingest/proto/RtmpMessage.h"

namespace bloomcast::ingest {

struct RtmpSessionConfig {
  uint64_t random_seed = 0;              // S1/S2 filler; vary it per connection
  uint32_t out_chunk_size_bytes = 4096;  // announced with Set Chunk Size after connect
  uint32_t window_ack_size_bytes = 2'500'000;
  uint32_t peer_bandwidth_bytes = 2'500'000;
  size_t max_held_bytes = 1024 * 1024;  // media held while a publish awaits the answer
  size_t max_held_messages = 1024;      // ... and at most this many messages
  ChunkDecoderLimits chunk_limits;
  Amf0Limits amf0_limits;
};

// The encoder asks to publish. `stream_name` is the key ("KEY" of "KEY?token=x"), `query` what
// followed the '?'.
struct PublishRequested {
  std::string app;  // "live" for rtmp://host/live/KEY
  std::string stream_name;
  std::string query;
  std::string tc_url;        // rtmp://host:1935/live, as the encoder sent it
  std::string publish_type;  // "live" (or "record"/"append"; treated alike)
};

// onMetaData (usually via @setDataFrame): width, height, framerate, encoder, ...
struct MetaData {
  Amf0 metadata;  // an object or ECMA array
};

// One audio or video message: an FLV tag body (parse it with parseFlvTag).
struct Media {
  bool is_video = false;
  uint32_t timestamp_ms = 0;
  std::vector<uint8_t> payload;
};

struct Unpublished {};

struct ProtocolError {
  std::string why;
};

using RtmpEvent = std::variant<PublishRequested, MetaData, Media, Unpublished, ProtocolError>;

// One publisher connection. Owned by the connection object on the loop thread, which alone
// calls it; it has no thread of its own and never blocks.
class RtmpSession {
 public:
  enum class State {
    kHandshake,
    kAwaitConnect,
    kConnected,
    kPublishPending,  // PublishRequested emitted, waiting for acceptPublish/refusePublish
    kPublishing,
    kRefused,
    kEnded,   // Unpublished emitted
    kFailed,  // ProtocolError emitted; further input is ignored
  };

  explicit RtmpSession(RtmpSessionConfig config = {});

  // Consumes bytes received from the encoder, in order, split anywhere. Returns the events they
  // complete, in order; a ProtocolError is the last event ever returned. Replies accumulate for
  // takeOutput().
  std::vector<RtmpEvent> onBytes(std::span<const uint8_t> bytes);

  // Bytes to send to the encoder since the last call (handshake, control messages, replies).
  std::vector<uint8_t> takeOutput();

  // Answers the pending publish with NetStream.Publish.Start. Returns the media and metadata
  // events held while the publish was pending, in arrival order. No-op (empty) unless the state
  // is kPublishPending: the encoder may have given up meanwhile.
  std::vector<RtmpEvent> acceptPublish();

  // Answers the pending publish with an error status NetStream.Publish.BadName carrying
  // `reason`; the caller then flushes takeOutput() and closes. No-op unless kPublishPending.
  void refusePublish(std::string_view reason);

  State state() const { return state_; }

 private:
  void handleMessage(RtmpMessage& message, std::vector<RtmpEvent>& events);
  void handleCommand(const RtmpMessage& message, std::vector<RtmpEvent>& events);
  void handleConnect(const RtmpCommand& command, std::vector<RtmpEvent>& events);
  void handlePublish(const RtmpCommand& command, uint32_t msg_stream_id,
                     std::vector<RtmpEvent>& events);
  void handleData(std::span<const uint8_t> payload, std::vector<RtmpEvent>& events);
  void handleMedia(bool is_video, uint32_t timestamp_ms, uint32_t msg_stream_id,
                   std::vector<uint8_t> payload, std::vector<RtmpEvent>& events);
  void handleAggregate(const RtmpMessage& message, std::vector<RtmpEvent>& events);
  void handleUserControl(const RtmpMessage& message);
  void endPublish(std::vector<RtmpEvent>& events);
  // Routes a media or metadata event by state: out now, held, or dropped.
  void deliver(RtmpEvent event, bool is_config, size_t size_bytes, std::vector<RtmpEvent>& events);
  void reply(const RtmpCommand& command, std::vector<Amf0> values);
  void send(const RtmpMessage& message);
  void fail(std::string why, std::vector<RtmpEvent>& events);

  RtmpSessionConfig config_;
  State state_ = State::kHandshake;
  Handshake handshake_;
  std::vector<uint8_t> handshake_input_;
  ChunkDecoder decoder_;
  ChunkEncoder encoder_;
  std::vector<uint8_t> output_;

  std::string app_;
  std::string tc_url_;
  uint32_t publish_stream_id_ = 0;

  std::vector<RtmpEvent> held_;
  size_t held_bytes_ = 0;
  size_t held_configs_ = 0;  // metadata and sequence headers among held_
  bool held_overflowed_ = false;

  uint64_t received_bytes_ = 0;  // after the handshake, for Acknowledgement
  uint64_t acked_bytes_ = 0;
  uint32_t peer_window_bytes_ = 0;  // 0 until the encoder sends Window Ack Size
};

}  // namespace bloomcast::ingest
