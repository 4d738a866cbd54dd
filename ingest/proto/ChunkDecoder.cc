#include "ingest/proto/ChunkDecoder.h"

#include <algorithm>
#include <array>
#include <string>

#include "ingest/proto/Bytes.h"

namespace bloomcast::ingest {

namespace {

constexpr std::array<size_t, 4> kMessageHeaderBytes = {11, 7, 3, 0};
constexpr size_t kMaxChunkHeaderBytes = 3 + 11 + 4;
constexpr uint32_t kTimestampEscape = 0xFFFFFF;

}  // namespace

ChunkDecoder::ChunkDecoder(ChunkDecoderLimits limits) : limits_(limits) {}

std::variant<std::vector<RtmpMessage>, ParseError> ChunkDecoder::fail(std::string why) {
  error_ = ParseError{std::move(why)};
  return *error_;
}

ParseResult<ChunkDecoder::Header> ChunkDecoder::parseHeader(std::span<const uint8_t> bytes) const {
  ByteReader reader(bytes);
  if (reader.remaining() < 1) return NeedMore{};
  Header header;
  const uint8_t first = reader.u8();
  header.fmt = first >> 6;
  header.csid = first & 0x3F;
  if (header.csid == 0) {
    if (reader.remaining() < 1) return NeedMore{};
    header.csid = 64 + reader.u8();
  } else if (header.csid == 1) {
    if (reader.remaining() < 2) return NeedMore{};
    const uint32_t low = reader.u8();
    const uint32_t high = reader.u8();
    header.csid = 64 + low + high * 256;
  }

  if (reader.remaining() < kMessageHeaderBytes[header.fmt]) return NeedMore{};
  if (header.fmt <= 2) header.timestamp_field = reader.u24be();
  if (header.fmt <= 1) {
    header.message_length = reader.u24be();
    header.type_id = reader.u8();
  }
  if (header.fmt == 0) header.msg_stream_id = reader.u32le();

  if (header.fmt <= 2) {
    header.extended = header.timestamp_field == kTimestampEscape;
  } else {
    const auto it = streams_.find(header.csid);
    header.extended = it != streams_.end() && it->second.extended;
  }
  if (header.extended) {
    if (reader.remaining() < 4) return NeedMore{};
    header.timestamp_field = reader.u32be();
  }
  return Parsed<Header>{header, reader.position()};
}

// Applies a parsed header to its chunk stream: starts a message (fmt 0/1/2, or fmt 3 after a
// complete message) or continues one (fmt 3), and sets up the read of this chunk's data.
std::optional<ParseError> ChunkDecoder::startChunk(const Header& header,
                                                   std::vector<RtmpMessage>& out) {
  auto it = streams_.find(header.csid);
  if (it == streams_.end()) {
    if (streams_.size() >= limits_.max_chunk_streams) {
      return ParseError{"more than " + std::to_string(limits_.max_chunk_streams) +
                        " chunk streams (new csid " + std::to_string(header.csid) + ")"};
    }
    it = streams_.emplace(header.csid, ChunkStream{}).first;
  }
  ChunkStream& stream = it->second;
  const uint32_t csid = header.csid;

  if (header.fmt != 3 && stream.assembling) {
    return ParseError{"chunk stream " + std::to_string(csid) + ": type " +
                      std::to_string(header.fmt) + " header inside an incomplete message"};
  }
  switch (header.fmt) {
    case 0:
      stream.timestamp_ms = header.timestamp_field;
      stream.msg_stream_id = header.msg_stream_id;
      [[fallthrough]];
    case 1:
      stream.message_length = header.message_length;
      stream.type_id = header.type_id;
      [[fallthrough]];
    case 2:
      if (header.fmt != 0) stream.timestamp_ms += header.timestamp_field;  // wraps, as RTMP does
      stream.timestamp_field = header.timestamp_field;
      stream.extended = header.extended;
      break;
    default:  // 3
      if (!stream.assembling) {
        const uint32_t delta = header.extended ? header.timestamp_field : stream.timestamp_field;
        stream.timestamp_ms += delta;
        stream.timestamp_field = delta;
      }
      break;
  }

  if (!stream.assembling) {
    if (stream.message_length > limits_.max_message_bytes) {
      return ParseError{"message of " + std::to_string(stream.message_length) +
                        " bytes on chunk stream " + std::to_string(csid) +
                        " exceeds the limit of " + std::to_string(limits_.max_message_bytes)};
    }
    stream.assembling = true;
    stream.payload.clear();
    if (stream.message_length == 0) return completeMessage(stream, csid, out);
  }

  const uint32_t due = std::min<uint32_t>(
      chunk_size_, stream.message_length - static_cast<uint32_t>(stream.payload.size()));
  if (buffered_bytes_ + due > limits_.max_buffered_bytes) {
    return ParseError{"more than " + std::to_string(limits_.max_buffered_bytes) +
                      " bytes of incomplete messages buffered"};
  }
  current_ = &stream;
  current_csid_ = csid;
  chunk_remaining_bytes_ = due;
  return std::nullopt;
}

// Hands out the message `stream` just completed and applies Set Chunk Size / Abort.
std::optional<ParseError> ChunkDecoder::completeMessage(ChunkStream& stream, uint32_t csid,
                                                        std::vector<RtmpMessage>& out) {
  buffered_bytes_ -= stream.payload.size();
  stream.assembling = false;
  RtmpMessage message{csid, stream.type_id, stream.msg_stream_id, stream.timestamp_ms,
                      std::move(stream.payload)};
  stream.payload = {};

  if (message.type_id == RtmpType::kSetChunkSize || message.type_id == RtmpType::kAbort) {
    if (message.payload.size() < 4) {
      return ParseError{"control message type " + std::to_string(message.type_id) + " of " +
                        std::to_string(message.payload.size()) + " bytes (needs 4)"};
    }
    ByteReader reader(message.payload);
    const uint32_t value = reader.u32be();
    if (message.type_id == RtmpType::kSetChunkSize) {
      // The top bit must be zero, and chunks beyond the largest message length are pointless.
      if (value == 0 || value > kMaxChunkSize) {
        return ParseError{"Set Chunk Size " + std::to_string(value) + " outside 1.." +
                          std::to_string(kMaxChunkSize)};
      }
      chunk_size_ = value;
    } else {
      const auto aborted = streams_.find(value);
      if (aborted != streams_.end() && aborted->second.assembling) {
        buffered_bytes_ -= aborted->second.payload.size();
        aborted->second.payload = {};
        aborted->second.assembling = false;
      }
    }
  }
  out.push_back(std::move(message));
  return std::nullopt;
}

std::variant<std::vector<RtmpMessage>, ParseError> ChunkDecoder::feed(
    std::span<const uint8_t> bytes) {
  if (error_) return *error_;
  std::vector<RtmpMessage> out;
  size_t pos = 0;
  for (;;) {
    if (current_ != nullptr) {
      const size_t n = std::min<size_t>(chunk_remaining_bytes_, bytes.size() - pos);
      if (n == 0) break;
      current_->payload.insert(current_->payload.end(), bytes.begin() + static_cast<ptrdiff_t>(pos),
                               bytes.begin() + static_cast<ptrdiff_t>(pos + n));
      buffered_bytes_ += n;
      pos += n;
      chunk_remaining_bytes_ -= static_cast<uint32_t>(n);
      if (chunk_remaining_bytes_ == 0) {
        ChunkStream& stream = *current_;
        current_ = nullptr;
        if (stream.payload.size() == stream.message_length) {
          if (auto error = completeMessage(stream, current_csid_, out)) return fail(error->why);
        }
      }
      continue;
    }

    // A header: parse it from the input directly, or from the bytes held back by the previous
    // call plus just enough new ones to complete it.
    std::vector<uint8_t> joined;
    std::span<const uint8_t> view = bytes.subspan(pos);
    size_t held = 0;
    if (!pending_.empty()) {
      held = pending_.size();
      const size_t take = std::min(kMaxChunkHeaderBytes, view.size());
      joined = pending_;
      joined.insert(joined.end(), view.begin(), view.begin() + static_cast<ptrdiff_t>(take));
      view = joined;
    }
    auto result = parseHeader(view);
    if (std::holds_alternative<NeedMore>(result)) {
      pending_.assign(view.begin(), view.end());
      pos = bytes.size();
      break;
    }
    if (auto* error = std::get_if<ParseError>(&result)) return fail(error->why);
    const auto& parsed = std::get<Parsed<Header>>(result);
    pos += parsed.consumed - held;
    pending_.clear();
    if (auto error = startChunk(parsed.value, out)) return fail(error->why);
  }
  return out;
}

}  // namespace bloomcast::ingest
