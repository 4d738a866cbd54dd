#include "ingest/proto/RtmpCommand.h"

#include "ingest/proto/Bytes.h"

namespace bloomcast::ingest {

namespace {

RtmpMessage controlMessage(uint8_t type_id, std::vector<uint8_t> payload) {
  return RtmpMessage{kControlCsid, type_id, 0, 0, std::move(payload)};
}

}  // namespace

std::variant<RtmpCommand, ParseError> parseCommand(std::span<const uint8_t> payload, bool amf3,
                                                   const Amf0Limits& limits) {
  if (amf3) {
    if (payload.empty()) return ParseError{"empty AMF3 command"};
    payload = payload.subspan(1);
  }
  auto decoded = decodeAmf0Sequence(payload, limits);
  if (auto* error = std::get_if<ParseError>(&decoded)) {
    return ParseError{"command: " + error->why};
  }
  auto& values = std::get<std::vector<Amf0>>(decoded);
  if (values.empty() || !values[0].isString()) {
    return ParseError{"command message does not start with a name"};
  }
  RtmpCommand command;
  command.name = std::string(values[0].asString());
  if (values.size() > 1) command.transaction_id = values[1].asNumber();
  if (values.size() > 2) command.command_object = std::move(values[2]);
  for (size_t i = 3; i < values.size(); ++i) command.arguments.push_back(std::move(values[i]));
  return command;
}

RtmpMessage makeAmf0Message(uint8_t type_id, uint32_t csid, uint32_t msg_stream_id,
                            std::span<const Amf0> values) {
  return RtmpMessage{csid, type_id, msg_stream_id, 0, encodeAmf0Sequence(values)};
}

RtmpMessage makeOnStatus(uint32_t msg_stream_id, std::string_view level, std::string_view code,
                         std::string_view description) {
  const Amf0 values[] = {
      Amf0::string("onStatus"),
      Amf0::number(0),
      Amf0::null(),
      Amf0::object({{"level", Amf0::string(std::string(level))},
                    {"code", Amf0::string(std::string(code))},
                    {"description", Amf0::string(std::string(description))}}),
  };
  return makeAmf0Message(RtmpType::kCommandAmf0, kStatusCsid, msg_stream_id, values);
}

RtmpMessage makeSetChunkSize(uint32_t chunk_size_bytes) {
  std::vector<uint8_t> payload;
  appendU32Be(payload, chunk_size_bytes & 0x7FFFFFFF);
  return controlMessage(RtmpType::kSetChunkSize, std::move(payload));
}

RtmpMessage makeWindowAckSize(uint32_t window_bytes) {
  std::vector<uint8_t> payload;
  appendU32Be(payload, window_bytes);
  return controlMessage(RtmpType::kWindowAckSize, std::move(payload));
}

RtmpMessage makeSetPeerBandwidth(uint32_t window_bytes, uint8_t limit_type) {
  std::vector<uint8_t> payload;
  appendU32Be(payload, window_bytes);
  appendU8(payload, limit_type);
  return controlMessage(RtmpType::kSetPeerBandwidth, std::move(payload));
}

RtmpMessage makeAcknowledgement(uint32_t sequence_number) {
  std::vector<uint8_t> payload;
  appendU32Be(payload, sequence_number);
  return controlMessage(RtmpType::kAcknowledgement, std::move(payload));
}

RtmpMessage makeUserControl(uint16_t event_type, uint32_t value) {
  std::vector<uint8_t> payload;
  appendU16Be(payload, event_type);
  appendU32Be(payload, value);
  return controlMessage(RtmpType::kUserControl, std::move(payload));
}

}  // namespace bloomcast::ingest
