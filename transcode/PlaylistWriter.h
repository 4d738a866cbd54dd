#pragma once
// PlaylistWriter: the text of HLS playlists (RFC 8216bis) from segment and variant records —
// each rendition's index.m3u8 and the stream's master.m3u8 — and the inverse for the media
// playlists bloomcast itself wrote (to continue a show after a restart).
//
// Media playlists are EVENT playlists holding every segment of the show: while live they only
// grow, and #EXT-X-ENDLIST turns the same file into the replay. Version 7: fMP4 segments with
// #EXT-X-MAP, repeated after each #EXT-X-DISCONTINUITY that changes the init segment. Every
// segment carries #EXT-X-PROGRAM-DATE-TIME (server wall clock of its first frame), so pages
// can line product pins up with the picture.
//
// Pure functions of values; no I/O, no clock. Thread: any.
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "infra/Error.h"

namespace bloomcast::transcode {

struct SegmentRecord {
  uint64_t sequence = 0;
  std::string uri;                   // relative to the playlist: "seg_12.m4s"
  int64_t duration_us = 0;
  int64_t program_date_time_ms = 0;  // Unix milliseconds of its first frame
  bool discontinuity = false;        // differs in timeline or encoding from the one before
  std::string map_uri;               // its init segment: "init_0.mp4"
  uint64_t size_bytes = 0;
};

struct MediaPlaylist {
  int min_target_duration_s = 2;  // raised to fit the longest segment
  std::vector<SegmentRecord> segments;
  bool ended = false;
};

// EXT-X-TARGETDURATION: the largest segment duration rounded to the nearest second, and at
// least min_target_duration_s.
int targetDurationSeconds(const MediaPlaylist& playlist);

std::string renderMediaPlaylist(const MediaPlaylist& playlist);

// Reads back a playlist written by renderMediaPlaylist (tags it does not write are ignored).
std::expected<MediaPlaylist, Error> parseMediaPlaylist(std::string_view text);

struct VariantRecord {
  std::string uri;                  // "720p/index.m3u8"
  int64_t bandwidth_bps = 0;        // peak segment bit rate
  int64_t average_bandwidth_bps = 0;  // 0: not written
  int width = 0;
  int height = 0;
  double frame_rate = 0;            // 0: not written
  std::string codecs;               // "avc1.64001f,mp4a.40.2"
};

// Variants in the order given (players start with the first).
std::string renderMasterPlaylist(const std::vector<VariantRecord>& variants);

// "2024-05-01T12:00:00.250Z" and back (UTC, millisecond precision).
std::string formatProgramDateTime(int64_t unix_ms);
std::expected<int64_t, Error> parseProgramDateTime(std::string_view text);

}  // namespace bloomcast::transcode
