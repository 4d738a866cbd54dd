// PlaylistWriter: the playlist text players read, and reading back what bloomcast wrote.
#include "transcode/PlaylistWriter.h"

#include <gtest/gtest.h>

namespace bloomcast::transcode {
namespace {

SegmentRecord segment(uint64_t n, int64_t duration_us, std::string map = "init_0.mp4", bool discontinuity = false) {
  SegmentRecord s;
  s.sequence = n;
  s.uri = "seg_" + std::to_string(n) + ".m4s";
  s.duration_us = duration_us;
  s.program_date_time_ms = 1714564800000 + static_cast<int64_t>(n) * 2000;  // 2024-05-01T12:00:00Z
  s.map_uri = std::move(map);
  s.discontinuity = discontinuity;
  return s;
}

TEST(PlaylistWriter, ALiveEventPlaylistListsEverySegmentWithItsInitAndWallClock) {
  MediaPlaylist p;
  p.segments = {segment(0, 2'000'000), segment(1, 2'002'000)};
  EXPECT_EQ(renderMediaPlaylist(p),
            "#EXTM3U\n"
            "#EXT-X-VERSION:7\n"
            "#EXT-X-TARGETDURATION:2\n"
            "#EXT-X-MEDIA-SEQUENCE:0\n"
            "#EXT-X-PLAYLIST-TYPE:EVENT\n"
            "#EXT-X-INDEPENDENT-SEGMENTS\n"
            "#EXT-X-MAP:URI=\"init_0.mp4\"\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n"
            "#EXTINF:2.000,\n"
            "seg_0.m4s\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:02.000Z\n"
            "#EXTINF:2.002,\n"
            "seg_1.m4s\n");
}

TEST(PlaylistWriter, AnEndedShowIsClosedWithEndlist) {
  MediaPlaylist p;
  p.segments = {segment(0, 2'000'000)};
  p.ended = true;
  std::string text = renderMediaPlaylist(p);
  EXPECT_TRUE(text.ends_with("seg_0.m4s\n#EXT-X-ENDLIST\n")) << text;
}

TEST(PlaylistWriter, AReconnectIsADiscontinuityWithItsOwnInitSegment) {
  MediaPlaylist p;
  p.segments = {segment(0, 2'000'000), segment(1, 1'500'000), segment(2, 2'000'000, "init_1.mp4", true),
                segment(3, 2'000'000, "init_1.mp4")};
  std::string text = renderMediaPlaylist(p);
  EXPECT_NE(text.find("seg_1.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init_1.mp4\"\n"
                      "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:04.000Z\n#EXTINF:2.000,\nseg_2.m4s\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("#EXT-X-MAP", text.find("seg_2.m4s")), std::string::npos) << "map repeated needlessly";
}

TEST(PlaylistWriter, TargetDurationCoversTheLongestSegmentRounded) {
  MediaPlaylist p;
  p.segments = {segment(0, 2'000'000), segment(1, 2'499'000)};
  EXPECT_EQ(targetDurationSeconds(p), 2);
  p.segments.push_back(segment(2, 2'500'000));  // a source with a longer GOP
  EXPECT_EQ(targetDurationSeconds(p), 3);
  p.segments = {segment(0, 400'000)};
  p.min_target_duration_s = 1;
  EXPECT_EQ(targetDurationSeconds(p), 1);
}

TEST(PlaylistWriter, ReadsBackWhatItWrote) {
  MediaPlaylist p;
  p.segments = {segment(0, 2'000'000), segment(1, 1'233'000), segment(2, 2'000'000, "init_1.mp4", true)};
  p.ended = true;
  auto back = parseMediaPlaylist(renderMediaPlaylist(p));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  ASSERT_EQ(back->segments.size(), 3u);
  EXPECT_TRUE(back->ended);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back->segments[i].sequence, p.segments[i].sequence);
    EXPECT_EQ(back->segments[i].uri, p.segments[i].uri);
    EXPECT_EQ(back->segments[i].duration_us, p.segments[i].duration_us);
    EXPECT_EQ(back->segments[i].program_date_time_ms, p.segments[i].program_date_time_ms);
    EXPECT_EQ(back->segments[i].discontinuity, p.segments[i].discontinuity);
    EXPECT_EQ(back->segments[i].map_uri, p.segments[i].map_uri);
  }
}

TEST(PlaylistWriter, RefusesPlaylistsItCannotContinue) {
  EXPECT_FALSE(parseMediaPlaylist("").has_value());
  EXPECT_FALSE(parseMediaPlaylist("#EXTM3U\nseg_0.m4s\n").has_value()) << "no EXTINF";
  EXPECT_FALSE(parseMediaPlaylist("#EXTM3U\n#EXTINF:2.0,\nseg_0.m4s\n").has_value()) << "no map";
  EXPECT_FALSE(parseMediaPlaylist("#EXTM3U\n#EXT-X-MAP:URI=\"i.mp4\"\n#EXTINF:x,\ns\n").has_value());
  EXPECT_FALSE(parseMediaPlaylist("#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n").has_value());
}

TEST(PlaylistWriter, MasterListsEachVariantWithBandwidthResolutionAndCodecs) {
  std::vector<VariantRecord> v = {
      {"source/index.m3u8", 4'200'000, 3'900'000, 1280, 720, 30, "avc1.64001f,mp4a.40.2"},
      {"480p/index.m3u8", 1'480'000, 0, 854, 480, 29.97, "avc1.64001e,mp4a.40.2"},
  };
  EXPECT_EQ(renderMasterPlaylist(v),
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=4200000,AVERAGE-BANDWIDTH=3900000,RESOLUTION=1280x720,"
            "FRAME-RATE=30.000,CODECS=\"avc1.64001f,mp4a.40.2\"\nsource/index.m3u8\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=1480000,RESOLUTION=854x480,FRAME-RATE=29.970,"
            "CODECS=\"avc1.64001e,mp4a.40.2\"\n480p/index.m3u8\n");
}

TEST(PlaylistWriter, ProgramDateTimeIsUtcWithMilliseconds) {
  EXPECT_EQ(formatProgramDateTime(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(formatProgramDateTime(1714564800123), "2024-05-01T12:00:00.123Z");
  EXPECT_EQ(parseProgramDateTime("2024-05-01T12:00:00.123Z").value(), 1714564800123);
  EXPECT_FALSE(parseProgramDateTime("2024-05-01 12:00:00").has_value());
}

}  // namespace
}  // namespace bloomcast::transcode
