#pragma once
// An RTMP message: what the chunk layer reassembles from chunks and cuts back into chunks.
#include <cstdint>
#include <vector>

namespace bloomcast::ingest {

// Message type ids (RTMP specification 5.4 and 7.1).
struct RtmpType {
  static constexpr uint8_t kSetChunkSize = 1;
  static constexpr uint8_t kAbort = 2;
  static constexpr uint8_t kAcknowledgement = 3;
  static constexpr uint8_t kUserControl = 4;
  static constexpr uint8_t kWindowAckSize = 5;
  static constexpr uint8_t kSetPeerBandwidth = 6;
  static constexpr uint8_t kAudio = 8;
  static constexpr uint8_t kVideo = 9;
  static constexpr uint8_t kDataAmf3 = 15;
  static constexpr uint8_t kCommandAmf3 = 17;
  static constexpr uint8_t kDataAmf0 = 18;
  static constexpr uint8_t kCommandAmf0 = 20;
  static constexpr uint8_t kAggregate = 22;
};

struct RtmpMessage {
  uint32_t csid = 0;           // chunk stream id it travelled on (2..65599)
  uint8_t type_id = 0;         // RtmpType
  uint32_t msg_stream_id = 0;  // 0 for the connection, 1.. for streams made by createStream
  uint32_t timestamp_ms = 0;   // absolute, after accumulating deltas; wraps at 2^32
  std::vector<uint8_t> payload;

  bool operator==(const RtmpMessage&) const = default;
};

}  // namespace bloomcast::ingest
