// End to end: the ffmpeg CLI publishes over RTMP to ingest's RtmpServer; the HLS pipelines
// write under the data directory; bloomcast's HTTP server serves /hls/...; ffprobe plays it.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <mutex>

#include "LoopThread.h"
#include "TestSupport.h"
#include "infra/HttpServer.h"
#include "infra/StaticFiles.h"
#include "ingest/RtmpServer.h"
#include "transcode/HlsPipelineFactory.h"

namespace bloomcast::transcode {
namespace {

using bloomcast::test::http;
using bloomcast::test::LoopThread;
using bloomcast::test::Process;
using bloomcast::test::TempDir;
using bloomcast::test::waitUntil;
using Clock = std::chrono::steady_clock;

// One known stream key; records when the publish went live.
class OneKeyGate : public ingest::PublishGate {
 public:
  void authorize(const std::string& key, Answer answer) override {
    if (key == "k3y") answer(std::string("s1"));
    else answer(std::unexpected(Error{"unknown_key", "no stream has this key"}));
  }
  void onLive(const std::string&) override {
    std::lock_guard lock(mu);
    live_at = Clock::now();
  }
  void onOffline(const std::string&) override {}
  std::mutex mu;
  std::optional<Clock::time_point> live_at;
};

class HlsEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lt_.sync([&] {
      http_ = std::make_unique<HttpServer>(lt_.loop(), metrics_, HttpServerOptions{"127.0.0.1", 0, 16 * 1024});
      serveDirectory(*http_, "/hls/*path", dir_.path() + "/hls", hlsCacheControl);
      ASSERT_TRUE(http_->start().has_value());
      HlsOptions options;
      options.root_dir = dir_.path() + "/hls";
      options.ladder = parseLadder({"source", "240p:300"}).value();
      options.reconnect_window_ms = 500;
      hls_ = std::make_unique<HlsPipelineFactory>(lt_.loop(), metrics_, options);
      ingest::RtmpServerOptions rtmp;
      rtmp.bind_address = "127.0.0.1";
      rtmp.port = 0;
      rtmp_ = std::make_unique<ingest::RtmpServer>(lt_.loop(), metrics_, gate_, *hls_, rtmp);
      ASSERT_TRUE(rtmp_->start().has_value());
      base_ = "http://127.0.0.1:" + std::to_string(http_->port());
      rtmp_url_ = "rtmp://127.0.0.1:" + std::to_string(rtmp_->port()) + "/live/k3y";
    });
  }
  void TearDown() override {
    lt_.sync([&] {
      rtmp_.reset();
      hls_.reset();
      http_->destroy();
      http_.reset();
    });
  }

  TempDir dir_;
  LoopThread lt_;
  MetricsRegistry metrics_;
  OneKeyGate gate_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<HlsPipelineFactory> hls_;
  std::unique_ptr<ingest::RtmpServer> rtmp_;
  std::string base_;
  std::string rtmp_url_;
};

TEST_F(HlsEndToEndTest, FfmpegPublishesAndPlayersGetHlsWithinFourSecondsThenAReplay) {
  Process ffmpeg({"ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-f", "lavfi", "-i",
                  "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                  "-t", "8", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30",
                  "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "flv", rtmp_url_});
  ASSERT_TRUE(waitUntil([&] {
    std::lock_guard lock(gate_.mu);
    return gate_.live_at.has_value();
  }, std::chrono::seconds(20))) << ffmpeg.output();
  Clock::time_point live_at;
  {
    std::lock_guard lock(gate_.mu);
    live_at = *gate_.live_at;
  }
  // A player's first steps: the master, a media playlist, its init segment and first segment.
  std::string first_segment;
  ASSERT_TRUE(waitUntil([&] {
    if (http("GET", base_ + "/hls/s1/master.m3u8").status != 200) return false;
    auto index = http("GET", base_ + "/hls/s1/source/index.m3u8");
    auto at = index.body.find("seg_");
    if (index.status != 200 || at == std::string::npos) return false;
    first_segment = index.body.substr(at, index.body.find('\n', at) - at);
    return true;
  }, std::chrono::seconds(10)));
  double ready_s = std::chrono::duration<double>(Clock::now() - live_at).count();
  EXPECT_LT(ready_s, 4.0) << "master.m3u8 and a segment must be served within 4 s of going live";
  std::printf("first segment served %.2f s after the publish went live\n", ready_s);

  auto master = http("GET", base_ + "/hls/s1/master.m3u8");
  EXPECT_EQ(master.headers["content-type"], "application/vnd.apple.mpegurl");
  EXPECT_EQ(master.headers["cache-control"], "no-cache");
  EXPECT_NE(master.body.find("RESOLUTION=640x360"), std::string::npos) << master.body;
  EXPECT_NE(master.body.find("RESOLUTION=426x240"), std::string::npos) << master.body;
  auto segment = http("GET", base_ + "/hls/s1/source/" + first_segment);
  EXPECT_EQ(segment.status, 200);
  EXPECT_EQ(segment.headers["content-type"], "video/iso.segment");
  EXPECT_NE(segment.headers["cache-control"].find("max-age"), std::string::npos);
  EXPECT_EQ(http("GET", base_ + "/hls/s1/source/init_0.mp4").headers["content-type"], "video/mp4");

  Process probe({"ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0",
                 base_ + "/hls/s1/master.m3u8"});
  ASSERT_EQ(probe.wait(std::chrono::seconds(30)), 0) << probe.output();
  EXPECT_NE(probe.output().find("h264,640,360"), std::string::npos) << probe.output();
  EXPECT_NE(probe.output().find("aac"), std::string::npos) << probe.output();

  // The publisher finishes; after the reconnect window the show is a replay.
  ASSERT_EQ(ffmpeg.wait(std::chrono::seconds(30)), 0) << ffmpeg.output();
  ASSERT_TRUE(waitUntil([&] {
    return http("GET", base_ + "/hls/s1/source/index.m3u8").body.ends_with("#EXT-X-ENDLIST\n");
  }, std::chrono::seconds(15)));
  ASSERT_TRUE(waitUntil([&] { return lt_.sync([&] { return hls_->pipelines(); }) == 0; }));
  Process replay({"ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                  "stream=nb_read_frames", "-of", "csv=p=0", base_ + "/hls/s1/source/index.m3u8"});
  ASSERT_EQ(replay.wait(std::chrono::seconds(60)), 0) << replay.output();
  EXPECT_NEAR(std::stoi(replay.output()), 8 * 30, 2) << replay.output();
}

}  // namespace
}  // namespace bloomcast::transcode
