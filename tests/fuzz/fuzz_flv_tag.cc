// Fuzzes FLV tag bodies and the codec configuration parsers behind them.
// Input: byte 0 = bit 0 video (0) / audio (1), bits 1-2 NALU length size (1, 2, 4, 4); then the
// body. Invariants: no crash; a parsed tag's data lies inside the body; pts - dts fits s24.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "ingest/proto/AacConfig.h"
#include "ingest/proto/AvcConfig.h"
#include "ingest/proto/FlvTag.h"

using namespace bloomcast::ingest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const MediaKind kind = (data[0] & 1) ? MediaKind::kAudio : MediaKind::kVideo;
  constexpr uint8_t kLengthSizes[] = {1, 2, 4, 4};
  const uint8_t length_size = kLengthSizes[(data[0] >> 1) & 3];
  const std::span<const uint8_t> body(data + 1, size - 1);

  auto result = parseFlvTag(kind, 0x7FFFFFF0, body, length_size);
  if (auto* tag = std::get_if<MediaTag>(&result)) {
    if (!tag->data.empty() && (tag->data.data() < body.data() ||
                               tag->data.data() + tag->data.size() > body.data() + body.size())) {
      std::abort();
    }
    const int64_t cts = tag->pts_ms - tag->dts_ms;
    if (cts < -0x800000 || cts > 0x7FFFFF) std::abort();
  }

  auto config = parseAvcConfig(body);
  if (auto* avc = std::get_if<AvcConfig>(&config)) {
    for (const auto& sps : avc->sps) (void)parseSps(sps);
  }
  auto sps = parseSps(body);
  if (auto* info = std::get_if<SpsInfo>(&sps)) {
    if (info->width == 0 || info->height == 0 || info->width > 16384 || info->height > 16384) {
      std::abort();
    }
  }
  (void)parseAacConfig(body);
  return 0;
}
