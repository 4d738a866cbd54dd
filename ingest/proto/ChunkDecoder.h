#pragma once
// RTMP chunk stream, receiving side: bytes in, complete messages out.
//
// Chunk = basic header | message header | [extended timestamp] | chunk data
//
//   basic header (fmt = top 2 bits of the first byte):
//     |fmt|  csid 2..63 |                          1 byte
//     |fmt|      0      |  csid - 64   |           2 bytes, csid 64..319
//     |fmt|      1      | (csid - 64) little-endian 16 bits |  3 bytes, csid 64..65599
//
//   message header by fmt:
//     0 (11 bytes): timestamp (3) | message length (3) | type id (1) | msg stream id (4, LE)
//     1  (7 bytes): timestamp delta (3) | message length (3) | type id (1)
//     2  (3 bytes): timestamp delta (3)
//     3  (0 bytes): everything as the previous chunk of this chunk stream
//
//   extended timestamp (4 bytes): present when the 3-byte field is 0xFFFFFF, and then also in
//   every fmt 3 chunk of this chunk stream until a fmt 0/1/2 header without it.
//
// A message longer than the chunk size arrives as one fmt 0/1/2 chunk plus fmt 3 chunks.
// A fmt 3 chunk that starts a new message repeats the previous timestamp field: for fmt 1/2 the
// delta; after fmt 0 the absolute value is used as the delta (what ffmpeg and SRS do, and what
// ffmpeg's sender relies on).
//
// Set Chunk Size (type 1) and Abort (type 2) change how later bytes decode, so the decoder
// applies them itself (and still returns them).
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <variant>
#include <vector>

#include "ingest/proto/ParseResult.h"
#include "ingest/proto/RtmpMessage.h"

namespace bloomcast::ingest {

struct ChunkDecoderLimits {
  uint32_t max_message_bytes = 8 * 1024 * 1024;  // one message (the wire allows 16 MiB - 1)
  size_t max_chunk_streams = 64;                 // distinct csids per connection
  size_t max_buffered_bytes = 16 * 1024 * 1024;  // partial messages across all chunk streams
};

inline constexpr uint32_t kDefaultChunkSize = 128;
inline constexpr uint32_t kMaxChunkSize = 0xFFFFFF;

// One connection's incoming chunk stream. Owned by its RtmpSession; no thread of its own.
class ChunkDecoder {
 public:
  explicit ChunkDecoder(ChunkDecoderLimits limits = {});

  // Decodes `bytes` (any amount, split anywhere) and returns the messages they complete, in
  // order. The same bytes split differently give the same messages. A ParseError is final: the
  // stream cannot be resynchronised, and every later call returns the same error.
  std::variant<std::vector<RtmpMessage>, ParseError> feed(std::span<const uint8_t> bytes);

  uint32_t chunkSize() const { return chunk_size_; }

 private:
  // Per chunk stream: the header fields later chunks inherit, and the message being assembled.
  struct ChunkStream {
    uint32_t timestamp_ms = 0;     // of the current (or last) message
    uint32_t timestamp_field = 0;  // last timestamp or delta read; fmt 3 reuses it as a delta
    uint32_t message_length = 0;
    uint8_t type_id = 0;
    uint32_t msg_stream_id = 0;
    bool extended = false;         // the last fmt 0/1/2 header used an extended timestamp
    bool assembling = false;       // a message has started and is not complete
    std::vector<uint8_t> payload;  // bytes of that message so far
  };

  struct Header {
    uint8_t fmt = 0;
    uint32_t csid = 0;
    uint32_t timestamp_field = 0;
    uint32_t message_length = 0;
    uint8_t type_id = 0;
    uint32_t msg_stream_id = 0;
    bool extended = false;
  };

  ParseResult<Header> parseHeader(std::span<const uint8_t> bytes) const;
  std::optional<ParseError> startChunk(const Header& header, std::vector<RtmpMessage>& out);
  std::optional<ParseError> completeMessage(ChunkStream& stream, uint32_t csid,
                                            std::vector<RtmpMessage>& out);
  std::variant<std::vector<RtmpMessage>, ParseError> fail(std::string why);

  ChunkDecoderLimits limits_;
  uint32_t chunk_size_ = kDefaultChunkSize;
  std::unordered_map<uint32_t, ChunkStream> streams_;
  size_t buffered_bytes_ = 0;

  // The chunk whose data is being read: its stream and how many data bytes are still due.
  ChunkStream* current_ = nullptr;
  uint32_t current_csid_ = 0;
  uint32_t chunk_remaining_bytes_ = 0;

  std::vector<uint8_t> pending_;  // unconsumed input: at most one incomplete chunk header
  std::optional<ParseError> error_;
};

}  // namespace bloomcast::ingest
