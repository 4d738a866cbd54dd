#pragma once
// RTMP chunk stream, sending side: one message -> one fmt 0 chunk + fmt 3 continuation chunks.
//
//   fmt 0: basic header | timestamp (3) | length (3) | type (1) | msg stream id (4, LE) | [ext ts]
//   fmt 3: basic header | [ext ts]
//
// Timestamps >= 0xFFFFFF are sent as 0xFFFFFF plus a 4-byte extended timestamp, repeated in
// every fmt 3 chunk of the message (as the spec and ffmpeg do). No header compression: the
// server sends few messages, and fmt 0 everywhere is the form every client decodes.
#include <cstdint>
#include <vector>

#include "ingest/proto/RtmpMessage.h"

namespace bloomcast::ingest {

// One connection's outgoing chunk stream. Owned by its RtmpSession; no thread of its own.
class ChunkEncoder {
 public:
  // The chunk size for messages encoded from now on, clamped to 1..0xFFFFFF. The caller sends
  // the matching Set Chunk Size message (encoded with the old size) first.
  void setChunkSize(uint32_t chunk_size_bytes);
  uint32_t chunkSize() const { return chunk_size_; }

  // Appends `message` as chunks to `out`. Preconditions (internal messages only): csid in
  // 2..65599 and payload shorter than 16 MiB.
  void encode(const RtmpMessage& message, std::vector<uint8_t>& out) const;

 private:
  uint32_t chunk_size_ = 128;
};

}  // namespace bloomcast::ingest
