#include "transcode/PlaylistWriter.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace bloomcast::transcode {
namespace {

// Microseconds as seconds with three decimals, rounded to the millisecond.
std::string seconds3(int64_t us) {
  int64_t ms = (us + 500) / 1000;
  char text[32];
  std::snprintf(text, sizeof text, "%lld.%03lld", static_cast<long long>(ms / 1000),
                static_cast<long long>(ms % 1000));
  return text;
}

bool startsWith(std::string_view line, std::string_view prefix, std::string_view& rest) {
  if (!line.starts_with(prefix)) return false;
  rest = line.substr(prefix.size());
  return true;
}

template <class T>
bool parseNumber(std::string_view text, T& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// "2.000" or "2" -> microseconds.
bool parseSeconds(std::string_view text, int64_t& us) {
  auto dot = text.find('.');
  int64_t whole = 0;
  if (!parseNumber(text.substr(0, dot), whole) || whole < 0) return false;
  int64_t frac_us = 0;
  if (dot != std::string_view::npos) {
    std::string_view frac = text.substr(dot + 1);
    if (frac.empty() || frac.size() > 6) return false;
    if (!parseNumber(frac, frac_us)) return false;
    for (std::size_t i = frac.size(); i < 6; ++i) frac_us *= 10;
  }
  us = whole * 1'000'000 + frac_us;
  return true;
}

}  // namespace

int targetDurationSeconds(const MediaPlaylist& playlist) {
  int64_t target = playlist.min_target_duration_s;
  for (const SegmentRecord& s : playlist.segments)
    target = std::max<int64_t>(target, (s.duration_us + 500'000) / 1'000'000);
  return static_cast<int>(target);
}

std::string renderMediaPlaylist(const MediaPlaylist& playlist) {
  std::string out;
  out.reserve(160 + playlist.segments.size() * 110);
  out += "#EXTM3U\n#EXT-X-VERSION:7\n";
  out += "#EXT-X-TARGETDURATION:" + std::to_string(targetDurationSeconds(playlist)) + "\n";
  uint64_t first = playlist.segments.empty() ? 0 : playlist.segments.front().sequence;
  out += "#EXT-X-MEDIA-SEQUENCE:" + std::to_string(first) + "\n";
  out += "#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-INDEPENDENT-SEGMENTS\n";
  const std::string* map = nullptr;
  for (const SegmentRecord& s : playlist.segments) {
    if (s.discontinuity && map) out += "#EXT-X-DISCONTINUITY\n";
    if (!map || *map != s.map_uri) out += "#EXT-X-MAP:URI=\"" + s.map_uri + "\"\n";
    map = &s.map_uri;
    out += "#EXT-X-PROGRAM-DATE-TIME:" + formatProgramDateTime(s.program_date_time_ms) + "\n";
    out += "#EXTINF:" + seconds3(s.duration_us) + ",\n";
    out += s.uri;
    out += '\n';
  }
  if (playlist.ended) out += "#EXT-X-ENDLIST\n";
  return out;
}

std::expected<MediaPlaylist, Error> parseMediaPlaylist(std::string_view text) {
  MediaPlaylist playlist;
  auto bad = [](std::string why) { return std::unexpected(Error{"invalid_data", "playlist: " + why}); };
  if (!text.starts_with("#EXTM3U")) return bad("no #EXTM3U");
  uint64_t sequence = 0;
  SegmentRecord next;
  bool have_duration = false;
  std::string map;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    std::string_view line = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view rest;
    if (line.empty()) continue;
    if (startsWith(line, "#EXT-X-MEDIA-SEQUENCE:", rest)) {
      if (!parseNumber(rest, sequence)) return bad("bad media sequence");
    } else if (startsWith(line, "#EXT-X-MAP:URI=\"", rest)) {
      if (rest.size() < 2 || rest.back() != '"') return bad("bad map");
      map = std::string(rest.substr(0, rest.size() - 1));
    } else if (line == "#EXT-X-DISCONTINUITY") {
      next.discontinuity = true;
    } else if (startsWith(line, "#EXT-X-PROGRAM-DATE-TIME:", rest)) {
      auto ms = parseProgramDateTime(rest);
      if (!ms) return std::unexpected(ms.error());
      next.program_date_time_ms = *ms;
    } else if (startsWith(line, "#EXTINF:", rest)) {
      rest = rest.substr(0, rest.find(','));
      if (!parseSeconds(rest, next.duration_us)) return bad("bad EXTINF");
      have_duration = true;
    } else if (line == "#EXT-X-ENDLIST") {
      playlist.ended = true;
    } else if (line.front() != '#') {
      if (!have_duration) return bad("segment without EXTINF");
      if (map.empty()) return bad("segment without EXT-X-MAP");
      next.uri = std::string(line);
      next.map_uri = map;
      next.sequence = sequence++;
      playlist.segments.push_back(std::move(next));
      next = SegmentRecord{};
      have_duration = false;
    }
  }
  return playlist;
}

std::string renderMasterPlaylist(const std::vector<VariantRecord>& variants) {
  std::string out = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n";
  for (const VariantRecord& v : variants) {
    out += "#EXT-X-STREAM-INF:BANDWIDTH=" + std::to_string(v.bandwidth_bps);
    if (v.average_bandwidth_bps > 0) out += ",AVERAGE-BANDWIDTH=" + std::to_string(v.average_bandwidth_bps);
    if (v.width > 0 && v.height > 0)
      out += ",RESOLUTION=" + std::to_string(v.width) + "x" + std::to_string(v.height);
    if (v.frame_rate > 0) {
      char rate[32];
      std::snprintf(rate, sizeof rate, "%.3f", v.frame_rate);
      out += ",FRAME-RATE=";
      out += rate;
    }
    out += ",CODECS=\"" + v.codecs + "\"\n";
    out += v.uri + "\n";
  }
  return out;
}

std::string formatProgramDateTime(int64_t unix_ms) {
  int64_t seconds = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  int millis = static_cast<int>(unix_ms - seconds * 1000);
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[48];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return text;
}

std::expected<int64_t, Error> parseProgramDateTime(std::string_view text) {
  // Exactly the form formatProgramDateTime writes.
  int year, month, day, hour, minute, second, millis;
  std::string copy(text);
  char z = 0;
  if (copy.size() != 24 ||
      std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &year, &month, &day, &hour, &minute,
                  &second, &millis, &z) != 8 ||
      z != 'Z')
    return std::unexpected(Error{"invalid_data", "bad program date time '" + copy + "'"});
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + millis;
}

}  // namespace bloomcast::transcode
