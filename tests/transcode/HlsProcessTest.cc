// The whole path in the real executable: the ffmpeg CLI publishes over RTMP to a running
// bloomcast (stream created through the API, key checked in Redis); HLS is served over HTTP
// within 4 s of the first keyframe and ffprobe reads it; the ended show is a replay.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "TestSupport.h"

namespace bloomcast {
namespace {

using namespace test;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

TEST(HlsProcess, FfmpegPublishesToBloomcastAndPlayersGetHlsWithinFourSeconds) {
  TempDir dir;
  const std::string admin = "Bearer adm1n-t0ken-for-hls-tests";
  auto server = startBloomcast(dir.path() + "/data",
                               {"--admin-token", "adm1n-t0ken-for-hls-tests", "--renditions", "source,240p:300",
                                "--hls-reconnect-window-ms", "500"});
  ASSERT_TRUE(server.process->running()) << server.process->output();
  auto factory = http("POST", server.base_url + "/api/factories", R"({"name":"东莞鞋厂"})", {"Authorization: " + admin});
  ASSERT_EQ(factory.status, 201) << factory.body;
  auto stream = http("POST", server.base_url + "/api/streams",
                     json{{"factory_id", json::parse(factory.body)["id"]}, {"title", "HLS"}}.dump(),
                     {"Authorization: " + admin});
  ASSERT_EQ(stream.status, 201) << stream.body;
  std::string id = json::parse(stream.body)["id"];
  std::string key = json::parse(stream.body)["stream_key"];
  std::string hls = server.base_url + "/hls/" + id;

  auto started = Clock::now();  // before ffmpeg's first keyframe can have left
  Process ffmpeg({"ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-f", "lavfi", "-i",
                  "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                  "-t", "8", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30",
                  "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "flv",
                  "rtmp://127.0.0.1:" + std::to_string(server.rtmp_port) + "/live/" + key});
  std::string segment;
  ASSERT_TRUE(waitUntil([&] {
    if (http("GET", hls + "/master.m3u8", "", {}, 1000).status != 200) return false;
    auto index = http("GET", hls + "/source/index.m3u8", "", {}, 1000);
    auto at = index.body.find("seg_");
    if (index.status != 200 || at == std::string::npos) return false;
    segment = index.body.substr(at, index.body.find('\n', at) - at);
    return http("GET", hls + "/source/" + segment, "", {}, 1000).status == 200;
  }, std::chrono::seconds(15))) << ffmpeg.output() << server.process->output();
  double served_s = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("master.m3u8 and %s served %.2f s after ffmpeg started\n", segment.c_str(), served_s);
  EXPECT_LT(served_s, 4.0);

  Process probe({"ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0",
                 hls + "/master.m3u8"});
  ASSERT_EQ(probe.wait(std::chrono::seconds(30)), 0) << probe.output();
  EXPECT_NE(probe.output().find("h264,640,360"), std::string::npos) << probe.output();
  EXPECT_NE(probe.output().find("h264,426,240"), std::string::npos) << probe.output();
  EXPECT_NE(probe.output().find("aac"), std::string::npos) << probe.output();

  ASSERT_EQ(ffmpeg.wait(std::chrono::seconds(30)), 0) << ffmpeg.output();
  ASSERT_TRUE(waitUntil([&] {
    return http("GET", hls + "/240p/index.m3u8").body.ends_with("#EXT-X-ENDLIST\n");
  }, std::chrono::seconds(15))) << "the reconnect window passed: the show is a replay";
  Process replay({"ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                  "stream=nb_read_frames", "-of", "csv=p=0", hls + "/240p/index.m3u8"});
  ASSERT_EQ(replay.wait(std::chrono::seconds(60)), 0) << replay.output();
  EXPECT_NEAR(std::stoi(replay.output()), 8 * 30, 2) << replay.output();
  std::string metrics = http("GET", server.base_url + "/metrics").body;
  EXPECT_NE(metrics.find("bloomcast_hls_segments_total 4"), std::string::npos) << metrics;

  server.process->signal(SIGTERM);
  EXPECT_EQ(server.process->wait(std::chrono::seconds(10)), 0) << server.process->output();
}

}  // namespace
}  // namespace bloomcast
