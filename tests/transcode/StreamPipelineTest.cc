// StreamPipeline end to end in one process: generated H.264/AAC streams go in as ingest's
// packets; what comes out is read back with libavformat/libavcodec like a player would.
#include "transcode/StreamPipeline.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "MediaFixture.h"
#include "TestSupport.h"

namespace bloomcast::transcode {
namespace {

using bloomcast::test::TempDir;
using bloomcast::test::waitUntil;
namespace fs = std::filesystem;

constexpr double kFrame30 = 1.0 / 30;

// master.m3u8 -> variant URI -> its STREAM-INF attributes.
std::map<std::string, std::map<std::string, std::string>> readMaster(const std::string& path) {
  std::map<std::string, std::map<std::string, std::string>> out;
  std::string text = test::readText(path);
  std::map<std::string, std::string> attrs;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    std::string line = text.substr(pos, eol - pos);
    pos = eol == std::string::npos ? text.size() : eol + 1;
    const std::string tag = "#EXT-X-STREAM-INF:";
    if (line.starts_with(tag)) {
      attrs.clear();
      std::string rest = line.substr(tag.size());
      std::size_t i = 0;
      while (i < rest.size()) {
        std::size_t eq = rest.find('=', i);
        std::string name = rest.substr(i, eq - i);
        std::string value;
        std::size_t j = eq + 1;
        if (rest[j] == '"') {
          std::size_t close = rest.find('"', j + 1);
          value = rest.substr(j + 1, close - j - 1);
          j = close + 1;
        } else {
          std::size_t comma = rest.find(',', j);
          value = rest.substr(j, comma == std::string::npos ? std::string::npos : comma - j);
          j = comma == std::string::npos ? rest.size() : comma;
        }
        attrs[name] = value;
        i = j + 1;
      }
    } else if (!line.empty() && line[0] != '#') {
      out[line] = attrs;
    }
  }
  return out;
}

class StreamPipelineTest : public ::testing::Test {
 protected:
  std::unique_ptr<StreamPipeline> make(std::vector<std::string> renditions,
                                       std::function<void(PipelineOptions&)> adjust = nullptr) {
    PipelineOptions options;
    options.dir = dir();
    options.ladder = parseLadder(renditions).value();
    options.queue_packets = 64;  // keeps a fast feeder close to the worker: lag stays small
    if (adjust) adjust(options);
    return std::make_unique<StreamPipeline>("s1", std::move(options), metrics_);
  }
  std::string dir() const { return tmp_.path() + "/hls/s1"; }
  std::string path(const std::string& rel) const { return dir() + "/" + rel; }

  static void feed(StreamPipeline& p, const std::vector<MediaPacketPtr>& packets) {
    for (const auto& packet : packets) ASSERT_TRUE(p.pushPacketWait(packet));
  }
  static StreamDescription publisher() {
    StreamDescription d;
    d.stream_id = "s1";
    d.publisher_ip = "127.0.0.1";
    return d;
  }
  // One whole show: publish, every packet, unpublish, end.
  static void show(StreamPipeline& p, const std::vector<MediaPacketPtr>& packets) {
    p.beginPublish(publisher());
    feed(p, packets);
    p.endPublish("done");
    p.finish();
    ASSERT_TRUE(waitUntil([&] { return p.finished(); }, std::chrono::seconds(120)));
  }

  // Every segment of a rendition: complete, starts with a keyframe, decodes cleanly, has the
  // right picture size and audio; durations are the target +/- one frame except the last.
  // Returns the playlist.
  MediaPlaylist checkRendition(const std::string& name, int width, int height, bool audio,
                               double total_s, double frame_s = kFrame30) {
    MediaPlaylist playlist = test::readPlaylist(path(name + "/index.m3u8"));
    EXPECT_TRUE(playlist.ended) << name;
    EXPECT_FALSE(playlist.segments.empty()) << name;
    double sum = 0;
    for (std::size_t i = 0; i < playlist.segments.size(); ++i) {
      const SegmentRecord& s = playlist.segments[i];
      double d = static_cast<double>(s.duration_us) / 1e6;
      sum += d;
      bool last_of_period = i + 1 == playlist.segments.size() || playlist.segments[i + 1].discontinuity;
      if (!last_of_period) {
        EXPECT_NEAR(d, 2.0, frame_s + 0.0015) << name << " " << s.uri;
      }
      EXPECT_LE(d, 2.0 + frame_s + 0.0015) << name << " " << s.uri;
      auto probe = test::probeSegment(path(name + "/" + s.map_uri), path(name + "/" + s.uri));
      EXPECT_TRUE(probe.opened) << name << " " << s.uri;
      EXPECT_TRUE(probe.starts_with_keyframe) << name << " " << s.uri;
      EXPECT_EQ(probe.width, width) << name << " " << s.uri;
      EXPECT_EQ(probe.height, height) << name << " " << s.uri;
      EXPECT_GT(probe.video_packets, 0) << name << " " << s.uri;
      EXPECT_EQ(probe.decoded_frames, probe.video_packets) << name << " " << s.uri;
      EXPECT_EQ(probe.decode_errors, 0) << name << " " << s.uri;
      EXPECT_EQ(probe.has_audio, audio) << name << " " << s.uri;
      if (audio) {
        EXPECT_GT(probe.audio_packets, 0) << name << " " << s.uri;
      }
    }
    EXPECT_NEAR(sum, total_s, 0.1) << name;
    return playlist;
  }

  TempDir tmp_;
  MetricsRegistry metrics_;
};

TEST_F(StreamPipelineTest, SourceOnlyRemuxesIntoTwoSecondSegmentsAndAReplay) {
  auto packets = test::readMediaPackets(test::generateStream({.seconds = 7}));
  auto p = make({"source"});
  show(*p, packets);

  auto master = readMaster(path("master.m3u8"));
  ASSERT_EQ(master.size(), 1u);
  auto& source = master["source/index.m3u8"];
  EXPECT_EQ(source["RESOLUTION"], "640x360");
  EXPECT_TRUE(source["CODECS"].starts_with("avc1.")) << source["CODECS"];
  EXPECT_TRUE(source["CODECS"].ends_with(",mp4a.40.2")) << source["CODECS"];
  EXPECT_GT(std::stoll(source["BANDWIDTH"]), 0);

  auto playlist = checkRendition("source", 640, 360, true, 7.0);
  EXPECT_EQ(playlist.segments.size(), 4u);
  std::string text = test::readText(path("source/index.m3u8"));
  EXPECT_NE(text.find("#EXT-X-MAP:URI=\"init_0.mp4\""), std::string::npos);
  EXPECT_NE(text.find("#EXT-X-PROGRAM-DATE-TIME:"), std::string::npos);
  EXPECT_TRUE(text.ends_with("#EXT-X-ENDLIST\n")) << text;

  // The replay plays from start to end: every frame, audio too.
  auto replay = test::play(path("source/index.m3u8"));
  ASSERT_TRUE(replay.opened);
  EXPECT_EQ(replay.video_frames, 7 * 30);
  EXPECT_EQ(replay.decode_errors, 0);
  EXPECT_NEAR(replay.last_pts_s - replay.first_pts_s, 7.0 - kFrame30, 0.05);
  EXPECT_NEAR(replay.audio_packets, 7 * 44100 / 1024, 3);
  auto status = p->status();
  EXPECT_EQ(status.source_segments, 4u);
  EXPECT_EQ(status.dropped_frames, 0u);
  EXPECT_NE(metrics_.render().find("bloomcast_hls_segments_total 4"), std::string::npos);
}

TEST_F(StreamPipelineTest, LadderRungsLineUpWithTheSourceSegmentBySegment) {
  auto packets = test::readMediaPackets(test::generateStream({.seconds = 6}));
  auto p = make({"source", "240p:300", "144p:150", "480p"});  // 480p is above the source: skipped
  show(*p, packets);

  auto master = readMaster(path("master.m3u8"));
  ASSERT_EQ(master.size(), 3u);
  EXPECT_EQ(master["source/index.m3u8"]["RESOLUTION"], "640x360");
  EXPECT_EQ(master["240p/index.m3u8"]["RESOLUTION"], "426x240");
  EXPECT_EQ(master["144p/index.m3u8"]["RESOLUTION"], "256x144");
  EXPECT_GE(std::stoll(master["240p/index.m3u8"]["BANDWIDTH"]), 300'000);
  for (auto& [uri, attrs] : master) EXPECT_NE(attrs["CODECS"].find(",mp4a.40.2"), std::string::npos) << uri;
  EXPECT_FALSE(fs::exists(path("480p")));

  auto source = checkRendition("source", 640, 360, true, 6.0);
  auto r240 = checkRendition("240p", 426, 240, true, 6.0);
  auto r144 = checkRendition("144p", 256, 144, true, 6.0);
  ASSERT_EQ(r240.segments.size(), source.segments.size());
  ASSERT_EQ(r144.segments.size(), source.segments.size());
  for (std::size_t i = 0; i < source.segments.size(); ++i) {
    EXPECT_EQ(r240.segments[i].uri, source.segments[i].uri);
    int64_t t = test::videoFragmentTime(path("source/" + source.segments[i].uri));
    EXPECT_GE(t, 0);
    EXPECT_NEAR(test::videoFragmentTime(path("240p/" + r240.segments[i].uri)), t, 3000) << i;
    EXPECT_NEAR(test::videoFragmentTime(path("144p/" + r144.segments[i].uri)), t, 3000) << i;
    EXPECT_EQ(r144.segments[i].duration_us, source.segments[i].duration_us);
    EXPECT_EQ(r240.segments[i].program_date_time_ms, source.segments[i].program_date_time_ms);
  }
  auto replay = test::play(path("master.m3u8"));
  ASSERT_TRUE(replay.opened);
  EXPECT_EQ(replay.decode_errors, 0);
  std::string metrics = metrics_.render();
  EXPECT_NE(metrics.find("bloomcast_hls_encode_fps{stream=\"s1\",rendition=\"240p\"}"), std::string::npos)
      << metrics;
}

TEST_F(StreamPipelineTest, ASourceWithBFramesKeepsRungsAlignedToItsKeyframes) {
  auto packets = test::readMediaPackets(test::generateStream({.seconds = 5, .bframes = 2}));
  auto p = make({"source", "144p:150"});
  show(*p, packets);
  auto source = checkRendition("source", 640, 360, true, 5.0);
  auto rung = checkRendition("144p", 256, 144, true, 5.0);
  ASSERT_EQ(rung.segments.size(), source.segments.size());
  for (std::size_t i = 0; i < source.segments.size(); ++i)
    EXPECT_NEAR(test::videoFragmentTime(path("144p/" + rung.segments[i].uri)),
                test::videoFragmentTime(path("source/" + source.segments[i].uri)), 3000)
        << i;
  auto replay = test::play(path("source/index.m3u8"));
  EXPECT_EQ(replay.video_frames, 5 * 30);
}

TEST_F(StreamPipelineTest, ASourceWithoutAudioGivesVideoOnlyRenditions) {
  auto packets = test::readMediaPackets(test::generateStream({.seconds = 4, .audio = false}));
  auto p = make({"source", "144p:150"});
  show(*p, packets);
  auto master = readMaster(path("master.m3u8"));
  ASSERT_EQ(master.size(), 2u);
  for (auto& [uri, attrs] : master) EXPECT_EQ(attrs["CODECS"].find("mp4a"), std::string::npos) << uri;
  checkRendition("source", 640, 360, false, 4.0);
  checkRendition("144p", 256, 144, false, 4.0);
}

TEST_F(StreamPipelineTest, ASourceBelowEveryRungGetsOnlySource) {
  auto packets = test::readMediaPackets(test::generateStream({.width = 256, .height = 144, .seconds = 3}));
  auto p = make({"source", "720p", "480p", "360p"});
  show(*p, packets);
  auto master = readMaster(path("master.m3u8"));
  ASSERT_EQ(master.size(), 1u);
  EXPECT_EQ(master["source/index.m3u8"]["RESOLUTION"], "256x144");
  checkRendition("source", 256, 144, true, 3.0);
}

TEST_F(StreamPipelineTest, APhoneHeldUprightGetsUprightRungs) {
  auto packets = test::readMediaPackets(test::generateStream({.width = 360, .height = 640, .seconds = 2}));
  auto p = make({"source", "240p:300", "480p"});  // 480 lines is above the 360-wide source
  show(*p, packets);
  auto master = readMaster(path("master.m3u8"));
  ASSERT_EQ(master.size(), 2u);
  EXPECT_EQ(master["source/index.m3u8"]["RESOLUTION"], "360x640");
  EXPECT_EQ(master["240p/index.m3u8"]["RESOLUTION"], "240x426");
  checkRendition("240p", 240, 426, true, 2.0);
}

TEST_F(StreamPipelineTest, AResolutionChangeMidStreamStartsANewInitAfterADiscontinuity) {
  auto first = test::readMediaPackets(test::generateStream({.seconds = 4}));
  auto second = test::readMediaPackets(test::generateStream({.width = 320, .height = 180, .seconds = 4}));
  // One publish: the encoder switches to 320x180 and sends new sequence headers 4 s in.
  auto packets = first;
  for (const auto& q : test::shiftTimestamps(second, 4000)) packets.push_back(q);
  auto p = make({"source", "240p:300", "144p:150"});
  show(*p, packets);

  auto source = test::readPlaylist(path("source/index.m3u8"));
  ASSERT_GE(source.segments.size(), 4u);
  int discontinuities = 0;
  for (const auto& s : source.segments) discontinuities += s.discontinuity;
  EXPECT_EQ(discontinuities, 1);
  EXPECT_EQ(source.segments.front().map_uri, "init_0.mp4");
  EXPECT_EQ(source.segments.back().map_uri, "init_1.mp4");
  for (const auto& s : source.segments) {
    auto probe = test::probeSegment(path("source/" + s.map_uri), path("source/" + s.uri));
    EXPECT_EQ(probe.width, s.map_uri == "init_0.mp4" ? 640 : 320) << s.uri;
    EXPECT_EQ(probe.decode_errors, 0);
    EXPECT_TRUE(probe.starts_with_keyframe);
  }
  // 240p is not below 180 lines: it ends where the small picture begins; 144p goes on.
  auto r240 = test::readPlaylist(path("240p/index.m3u8"));
  EXPECT_TRUE(r240.ended);
  EXPECT_NEAR(static_cast<double>(r240.segments.back().sequence), 1, 0);
  auto r144 = test::readPlaylist(path("144p/index.m3u8"));
  EXPECT_EQ(r144.segments.size(), source.segments.size());
  auto master = readMaster(path("master.m3u8"));
  EXPECT_EQ(master.count("240p/index.m3u8"), 0u);
  EXPECT_EQ(master["source/index.m3u8"]["RESOLUTION"], "320x180");
  EXPECT_EQ(p->status().renditions, (std::vector<std::string>{"source", "144p"}));
}

TEST_F(StreamPipelineTest, TimestampsThatJumpOrGoBackwardsStillGiveOneSteadyTimeline) {
  auto base = test::readMediaPackets(test::generateStream({.seconds = 6}));
  std::vector<MediaPacketPtr> packets;
  for (const auto& q : base) {
    auto copy = std::make_shared<MediaPacket>(*q);
    if (!q->is_config && q->dts_ms >= 2000 && q->dts_ms < 4000) {  // clock jumps an hour ahead
      copy->dts_ms += 3'600'000;
      copy->pts_ms += 3'600'000;
    } else if (!q->is_config && q->dts_ms >= 4000) {  // then falls 30 s behind the start
      copy->dts_ms -= 30'000;
      copy->pts_ms -= 30'000;
    }
    packets.push_back(copy);
  }
  auto p = make({"source", "144p:150"});
  show(*p, packets);
  auto source = checkRendition("source", 640, 360, true, 6.0);
  checkRendition("144p", 256, 144, true, 6.0);
  int64_t previous = -1;
  for (const auto& s : source.segments) {
    int64_t t = test::videoFragmentTime(path("source/" + s.uri));
    EXPECT_GT(t, previous);
    if (previous >= 0) {
      EXPECT_NEAR(static_cast<double>(t - previous), 180000, 3000);
    }
    previous = t;
  }
  auto replay = test::play(path("source/index.m3u8"));
  EXPECT_EQ(replay.video_frames, 6 * 30);
  EXPECT_NEAR(replay.last_pts_s - replay.first_pts_s, 6.0 - kFrame30, 0.1);
}

TEST_F(StreamPipelineTest, AReconnectContinuesTheSamePlaylistsAfterADiscontinuity) {
  auto packets = test::readMediaPackets(test::generateStream({.seconds = 4}));
  auto p = make({"source", "144p:150"});
  p->beginPublish(publisher());
  feed(*p, packets);
  p->endPublish("publisher closed the connection");
  ASSERT_TRUE(waitUntil([&] { return p->status().source_segments == 2; }));
  std::string between = test::readText(path("source/index.m3u8"));
  EXPECT_EQ(between.find("#EXT-X-ENDLIST"), std::string::npos) << "open while waiting for the publisher";
  p->beginPublish(publisher());
  feed(*p, packets);  // the publisher's clock starts from zero again
  p->endPublish("done");
  p->finish();
  ASSERT_TRUE(waitUntil([&] { return p->finished(); }, std::chrono::seconds(60)));

  for (const char* name : {"source", "144p"}) {
    auto playlist = checkRendition(name, std::string(name) == "source" ? 640 : 256,
                                   std::string(name) == "source" ? 360 : 144, true, 8.0);
    ASSERT_EQ(playlist.segments.size(), 4u) << name;
    EXPECT_FALSE(playlist.segments[1].discontinuity);
    EXPECT_TRUE(playlist.segments[2].discontinuity) << name;
    EXPECT_EQ(playlist.segments[2].map_uri, "init_1.mp4");
    EXPECT_EQ(playlist.segments[3].uri, "seg_3.m4s");
    // One timeline: the second publish starts where the first ended.
    EXPECT_NEAR(static_cast<double>(test::videoFragmentTime(path(std::string(name) + "/seg_2.m4s"))),
                4.0 * 90000, 3000);
  }
  auto replay = test::play(path("source/index.m3u8"));
  ASSERT_TRUE(replay.opened);
  EXPECT_EQ(replay.video_frames, 8 * 30);
  EXPECT_EQ(replay.decode_errors, 0);
  EXPECT_NEAR(replay.last_pts_s - replay.first_pts_s, 8.0 - kFrame30, 0.05);
}

TEST_F(StreamPipelineTest, APublisherFasterThanTheQueueLosesWholeGopsNeverCorruptFrames) {
  auto packets = test::readMediaPackets(test::generateStream({.seconds = 8}));
  auto p = make({"source"}, [](PipelineOptions& o) { o.queue_packets = 40; });
  p->beginPublish(publisher());
  int refused = 0;
  for (const auto& packet : packets) refused += !p->pushPacket(packet);  // never waits
  p->endPublish("done");
  p->finish();
  ASSERT_TRUE(waitUntil([&] { return p->finished(); }, std::chrono::seconds(60)));
  ASSERT_GT(refused, 0) << "the feeder must have outrun the worker for this test to mean anything";
  EXPECT_EQ(p->status().dropped_frames, static_cast<uint64_t>(refused));
  EXPECT_NE(metrics_.render().find("bloomcast_hls_dropped_frames_total " + std::to_string(refused)),
            std::string::npos);
  auto playlist = test::readPlaylist(path("source/index.m3u8"));
  ASSERT_FALSE(playlist.segments.empty());
  for (const auto& s : playlist.segments) {
    auto probe = test::probeSegment(path("source/" + s.map_uri), path("source/" + s.uri));
    EXPECT_TRUE(probe.starts_with_keyframe) << s.uri;
    EXPECT_EQ(probe.decode_errors, 0) << s.uri;
    EXPECT_EQ(probe.decoded_frames, probe.video_packets) << s.uri;
  }
}

TEST_F(StreamPipelineTest, ALadderThatFallsBehindDropsRungsFromTheTopAndKeepsSource) {
  auto packets = test::readMediaPackets(test::generateStream({.seconds = 6}));
  // Any lag at all counts as behind here, as on a machine far too slow for the ladder.
  auto p = make({"source", "240p:300", "144p:150"}, [](PipelineOptions& o) {
    o.max_lag_ms = 0;
    o.degrade_patience_ms = 0;
  });
  p->beginPublish(publisher());
  for (const auto& packet : packets) {
    ASSERT_TRUE(p->pushPacketWait(packet));
    // Paced a little, so that lag is measured across several packets.
    if (packet->type == MediaType::kVideo && packet->keyframe) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  p->endPublish("done");
  p->finish();
  ASSERT_TRUE(waitUntil([&] { return p->finished(); }, std::chrono::seconds(60)));
  auto status = p->status();
  EXPECT_EQ(status.renditions, (std::vector<std::string>{"source"}));
  EXPECT_EQ(status.renditions_dropped, 2u);
  EXPECT_NE(metrics_.render().find("bloomcast_hls_renditions_dropped_total 2"), std::string::npos);
  auto master = readMaster(path("master.m3u8"));
  EXPECT_EQ(master.size(), 1u);
  checkRendition("source", 640, 360, true, 6.0);
  // Whatever the rungs wrote before they were dropped stays valid and closed.
  for (const char* name : {"240p", "144p"}) {
    if (!fs::exists(path(std::string(name) + "/index.m3u8"))) continue;
    EXPECT_TRUE(test::readPlaylist(path(std::string(name) + "/index.m3u8")).ended) << name;
  }
}

TEST_F(StreamPipelineTest, APipelineStartedOnAnEndedShowContinuesItsPlaylists) {
  auto packets = test::readMediaPackets(test::generateStream({.seconds = 4}));
  {
    auto p = make({"source"});
    show(*p, packets);
  }
  auto p = make({"source"});
  show(*p, packets);
  auto playlist = checkRendition("source", 640, 360, true, 8.0);
  ASSERT_EQ(playlist.segments.size(), 4u);
  EXPECT_TRUE(playlist.segments[2].discontinuity);
  EXPECT_EQ(playlist.segments[2].uri, "seg_2.m4s");
  EXPECT_EQ(playlist.segments[2].map_uri, "init_1.mp4");
  EXPECT_TRUE(fs::exists(path("source/seg_0.m4s")));
}

}  // namespace
}  // namespace bloomcast::transcode
