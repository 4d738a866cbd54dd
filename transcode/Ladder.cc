#include "transcode/Ladder.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace bloomcast::transcode {
namespace {

bool parseNumber(std::string_view text, int& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

std::expected<Ladder, Error> parseLadder(const std::vector<std::string>& renditions) {
  Ladder ladder;
  for (const std::string& item : renditions) {
    if (item == "source") continue;
    std::string_view text = item;
    std::string_view rate;
    if (auto colon = text.find(':'); colon != std::string_view::npos) {
      rate = text.substr(colon + 1);
      text = text.substr(0, colon);
    }
    int height = 0;
    if (text.size() < 2 || text.back() != 'p' || !parseNumber(text.substr(0, text.size() - 1), height))
      return std::unexpected(Error{"bad_config", "rendition '" + item + "' is not 'source' or HEIGHTp[:KBPS]"});
    if (height < 64 || height > 4320 || height % 2 != 0)
      return std::unexpected(Error{"bad_config", "rendition '" + item + "': height must be even, 64..4320"});
    int kbps = defaultBitrateKbps(height);
    if (!rate.empty() && (!parseNumber(rate, kbps) || kbps < 50 || kbps > 50000))
      return std::unexpected(Error{"bad_config", "rendition '" + item + "': bitrate must be 50..50000 kbps"});
    std::string name = std::string(text);
    if (std::any_of(ladder.rungs.begin(), ladder.rungs.end(), [&](const RungSpec& r) { return r.height == height; }))
      return std::unexpected(Error{"bad_config", "rendition '" + name + "' is listed twice"});
    ladder.rungs.push_back(RungSpec{name, height, kbps});
  }
  std::sort(ladder.rungs.begin(), ladder.rungs.end(),
            [](const RungSpec& a, const RungSpec& b) { return a.height > b.height; });
  return ladder;
}

std::vector<RungSpec> rungsBelow(const Ladder& ladder, int source_lines) {
  std::vector<RungSpec> out;
  for (const RungSpec& r : ladder.rungs)
    if (r.height < source_lines) out.push_back(r);
  return out;
}

RungSize rungSize(int source_width, int source_height, int lines) {
  if (source_width <= 0 || source_height <= 0) return RungSize{lines * 16 / 9 / 2 * 2, lines};
  bool portrait = source_height > source_width;
  int short_side = portrait ? source_width : source_height;
  int long_side = portrait ? source_height : source_width;
  double scaled = static_cast<double>(long_side) * lines / short_side;
  int even = std::max(2, static_cast<int>(std::lround(scaled / 2.0)) * 2);
  return portrait ? RungSize{lines, even} : RungSize{even, lines};
}

int defaultBitrateKbps(int height) {
  switch (height) {
    case 1080: return 5000;
    case 720: return 2800;
    case 480: return 1200;
    case 360: return 700;
    default: break;
  }
  // ~ 2800 kbps per 720p picture area, in proportion to pixels (16:9 assumed).
  double kbps = 2800.0 * (static_cast<double>(height) * height) / (720.0 * 720.0);
  return std::clamp(static_cast<int>(std::lround(kbps / 50.0)) * 50, 100, 20000);
}

}  // namespace bloomcast::transcode
