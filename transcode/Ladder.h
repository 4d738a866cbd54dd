#pragma once
// Ladder: which renditions a stream gets, from the `renditions` setting
// ("source,720p,480p,360p"; a rung may carry its bitrate: "480p:1000" = 1000 kbps).
//
// `source` (the published stream remuxed, no re-encode) is always produced: it is the one
// rendition that stays live when the machine cannot keep up. Rungs are kept in cost order,
// highest first, which is also the order they are dropped in. A stream gets only the rungs
// strictly below its own size. A rung's "lines" are the picture's short side: a landscape
// 480p rung is 854x480, a portrait (phone) one 480x854. Thread: plain values, copied freely.
#include <expected>
#include <string>
#include <vector>

#include "infra/Error.h"

namespace bloomcast::transcode {

struct RungSpec {
  std::string name;  // "720p"
  int height = 0;    // lines: the short side
  int video_kbps = 0;
};

struct Ladder {
  std::vector<RungSpec> rungs;  // height descending
};

// Parses the renditions setting. "source" may appear anywhere (or not at all); unknown names,
// odd or out-of-range heights (64..4320) and bitrates outside 50..50000 kbps are errors.
std::expected<Ladder, Error> parseLadder(const std::vector<std::string>& renditions);

// The rungs a source with `source_lines` (its short side) gets: those strictly lower, in cost
// order.
std::vector<RungSpec> rungsBelow(const Ladder& ladder, int source_lines);

struct RungSize {
  int width = 0;
  int height = 0;
};
// The picture size of a rung of `lines` for this source: the short side `lines`, the long side
// in the source's aspect ratio, rounded to even.
RungSize rungSize(int source_width, int source_height, int lines);

// The default video bitrate for a rung: 1080p 5000, 720p 2800, 480p 1200, 360p 700 kbps, and
// in proportion to the pixel count between and beyond those.
int defaultBitrateKbps(int height);

}  // namespace bloomcast::transcode
