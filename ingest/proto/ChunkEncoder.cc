#include "ingest/proto/ChunkEncoder.h"

#include <algorithm>
#include <cassert>

#include "ingest/proto/Bytes.h"

namespace bloomcast::ingest {

namespace {

void appendBasicHeader(std::vector<uint8_t>& out, uint8_t fmt, uint32_t csid) {
  const auto fmt_bits = static_cast<uint8_t>(fmt << 6);
  if (csid < 64) {
    appendU8(out, static_cast<uint8_t>(fmt_bits | csid));
  } else if (csid < 64 + 256) {
    appendU8(out, fmt_bits);
    appendU8(out, static_cast<uint8_t>(csid - 64));
  } else {
    appendU8(out, static_cast<uint8_t>(fmt_bits | 1));
    appendU8(out, static_cast<uint8_t>((csid - 64) & 0xFF));
    appendU8(out, static_cast<uint8_t>((csid - 64) >> 8));
  }
}

}  // namespace

void ChunkEncoder::setChunkSize(uint32_t chunk_size_bytes) {
  chunk_size_ = std::clamp<uint32_t>(chunk_size_bytes, 1, 0xFFFFFF);
}

void ChunkEncoder::encode(const RtmpMessage& message, std::vector<uint8_t>& out) const {
  assert(message.csid >= 2 && message.csid <= 65599);
  assert(message.payload.size() <= 0xFFFFFF);
  const bool extended = message.timestamp_ms >= 0xFFFFFF;
  const size_t length = message.payload.size();

  appendBasicHeader(out, 0, message.csid);
  appendU24Be(out, extended ? 0xFFFFFF : message.timestamp_ms);
  appendU24Be(out, static_cast<uint32_t>(length));
  appendU8(out, message.type_id);
  appendU32Le(out, message.msg_stream_id);
  if (extended) appendU32Be(out, message.timestamp_ms);

  size_t sent = 0;
  do {
    if (sent > 0) {
      appendBasicHeader(out, 3, message.csid);
      if (extended) appendU32Be(out, message.timestamp_ms);
    }
    const size_t n = std::min<size_t>(chunk_size_, length - sent);
    out.insert(out.end(), message.payload.begin() + static_cast<ptrdiff_t>(sent),
               message.payload.begin() + static_cast<ptrdiff_t>(sent + n));
    sent += n;
  } while (sent < length);
}

}  // namespace bloomcast::ingest
