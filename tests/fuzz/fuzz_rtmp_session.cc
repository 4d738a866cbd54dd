// Fuzzes the whole publisher session after a valid handshake.
// Input: byte 0 = split step (low 7 bits) and accept (high bit clear) or refuse the publish;
// then what the encoder sends after C2. Invariants: no crash; the server's output always decodes
// as a chunk stream; nothing happens after a ProtocolError.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "ingest/proto/ChunkDecoder.h"
#include "ingest/proto/RtmpSession.h"

using namespace bloomcast::ingest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t step = static_cast<size_t>(data[0] & 0x7F) + 1;
  const bool accept = (data[0] & 0x80) == 0;
  const std::span<const uint8_t> stream(data + 1, size - 1);

  RtmpSessionConfig config;
  config.chunk_limits.max_message_bytes = 256 * 1024;
  config.chunk_limits.max_buffered_bytes = 512 * 1024;
  config.max_held_bytes = 64 * 1024;
  RtmpSession session(config);

  std::vector<uint8_t> handshake(1 + 2 * 1536, 0);
  handshake[0] = 3;
  if (!session.onBytes(handshake).empty()) std::abort();

  ChunkDecoder server_output;  // what an encoder would read back
  bool skipped_handshake = false;
  bool failed = false;
  auto checkOutput = [&] {
    std::vector<uint8_t> out = session.takeOutput();
    if (!skipped_handshake) {
      if (out.size() < 1 + 2 * 1536) std::abort();
      out.erase(out.begin(), out.begin() + 1 + 2 * 1536);
      skipped_handshake = true;
    }
    if (std::holds_alternative<ParseError>(server_output.feed(out))) std::abort();
  };
  checkOutput();

  for (size_t pos = 0; pos < stream.size(); pos += step) {
    auto events = session.onBytes(stream.subspan(pos, std::min(step, stream.size() - pos)));
    if (failed && !events.empty()) std::abort();
    for (size_t i = 0; i < events.size(); ++i) {
      if (std::holds_alternative<ProtocolError>(events[i])) {
        if (i + 1 != events.size()) std::abort();
        failed = true;
      }
      if (std::holds_alternative<PublishRequested>(events[i]) && !failed) {
        if (accept) {
          (void)session.acceptPublish();
        } else {
          session.refusePublish("fuzz");
        }
      }
    }
    checkOutput();
  }
  return 0;
}
