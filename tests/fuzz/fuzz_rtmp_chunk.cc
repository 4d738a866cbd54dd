// Fuzzes the chunk decoder. Input: byte 0 = split step, then a chunk stream.
// Invariants: no crash; decoding in one call and in pieces of `step` bytes agree (same messages,
// or an error in both).
#include <cstdint>
#include <cstdlib>
#include <span>

#include "ingest/proto/ChunkDecoder.h"

using namespace bloomcast::ingest;

namespace {

// Small limits keep the fuzzer's memory low and reach the limit checks often.
ChunkDecoderLimits fuzzLimits() {
  ChunkDecoderLimits limits;
  limits.max_message_bytes = 256 * 1024;
  limits.max_chunk_streams = 16;
  limits.max_buffered_bytes = 512 * 1024;
  return limits;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t step = size_t{data[0]} + 1;
  const std::span<const uint8_t> stream(data + 1, size - 1);

  ChunkDecoder whole(fuzzLimits());
  auto whole_result = whole.feed(stream);

  ChunkDecoder pieces(fuzzLimits());
  std::vector<RtmpMessage> piece_messages;
  bool piece_error = false;
  for (size_t pos = 0; pos < stream.size() && !piece_error; pos += step) {
    auto result = pieces.feed(stream.subspan(pos, std::min(step, stream.size() - pos)));
    if (auto* messages = std::get_if<std::vector<RtmpMessage>>(&result)) {
      for (auto& m : *messages) piece_messages.push_back(std::move(m));
    } else {
      piece_error = true;
    }
  }

  if (auto* messages = std::get_if<std::vector<RtmpMessage>>(&whole_result)) {
    if (piece_error || *messages != piece_messages) std::abort();
  } else if (!piece_error) {
    std::abort();
  }
  return 0;
}
