#pragma once
// RTMP command messages (type 20, or 17 = the same after a one-byte AMF3 prefix) and the
// protocol control messages a server sends.
//
//   command = name (string) | transaction id (number) | command object (object or null)
//             | arguments (any values)
//
//   connect     1, {app, tcUrl, flashVer, objectEncoding, ...}
//   createStream N, null                          -> _result N, null, stream id
//   publish     0, null, "name[?query]", "live"  -> onStatus 0, null, {level, code, description}
//
// Protocol control messages travel on chunk stream 2, message stream 0.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ingest/proto/Amf0.h"
#include "ingest/proto/ParseResult.h"
#include "ingest/proto/RtmpMessage.h"

namespace bloomcast::ingest {

inline constexpr uint32_t kControlCsid = 2;  // protocol control messages
inline constexpr uint32_t kCommandCsid = 3;  // connection-level command replies
inline constexpr uint32_t kStatusCsid = 5;   // onStatus on a stream (nginx-rtmp's choice)

// User Control event types (RTMP specification 7.1.7).
struct UserControlEvent {
  static constexpr uint16_t kStreamBegin = 0;
  static constexpr uint16_t kPingRequest = 6;
  static constexpr uint16_t kPingResponse = 7;
};

struct RtmpCommand {
  std::string name;
  double transaction_id = 0;
  Amf0 command_object;          // null when absent
  std::vector<Amf0> arguments;  // everything after the command object
};

// Parses a command message body. `amf3` for type 17, whose body starts with one format byte.
std::variant<RtmpCommand, ParseError> parseCommand(std::span<const uint8_t> payload, bool amf3,
                                                   const Amf0Limits& limits = {});

// A command or data message on `csid` / `msg_stream_id` whose body is `values` back to back.
RtmpMessage makeAmf0Message(uint8_t type_id, uint32_t csid, uint32_t msg_stream_id,
                            std::span<const Amf0> values);

// onStatus 0, null, {level, code, description} on the stream `msg_stream_id`.
RtmpMessage makeOnStatus(uint32_t msg_stream_id, std::string_view level, std::string_view code,
                         std::string_view description);

RtmpMessage makeSetChunkSize(uint32_t chunk_size_bytes);
RtmpMessage makeWindowAckSize(uint32_t window_bytes);
// limit type 2 = dynamic (what nginx-rtmp sends)
RtmpMessage makeSetPeerBandwidth(uint32_t window_bytes, uint8_t limit_type);
RtmpMessage makeAcknowledgement(uint32_t sequence_number);
RtmpMessage makeUserControl(uint16_t event_type, uint32_t value);

}  // namespace bloomcast::ingest
