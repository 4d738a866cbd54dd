// `bloomcast demo`, the README's run command: one process brings up a live show — catalog,
// a publisher over RTMP, HLS served — and stops cleanly.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "TestSupport.h"

namespace bloomcast {
namespace {

using namespace test;
using nlohmann::json;

TEST(Demo, OneCommandBringsUpALiveShowWithHlsAndStopsCleanly) {
  TempDir dir;
  int http_port = freePort(), rtmp_port = freePort();
  std::string data = dir.path() + "/data";
  Process demo({bloomcastBinary(), "demo", "--bind", "127.0.0.1", "--http-port", std::to_string(http_port),
                "--rtmp-port", std::to_string(rtmp_port), "--data-dir", data, "--renditions", "source"});
  std::string base = "http://127.0.0.1:" + std::to_string(http_port);

  ASSERT_TRUE(waitUntil([&] { return std::filesystem::exists(data + "/demo.json"); }, std::chrono::seconds(20)))
      << demo.output();
  std::ifstream in(data + "/demo.json");
  std::string id = json::parse(in)["stream_id"];

  // Video is served within seconds of the publisher starting.
  ASSERT_TRUE(waitUntil([&] { return http("GET", base + "/hls/" + id + "/master.m3u8").status == 200; },
                        std::chrono::seconds(30)))
      << demo.output();
  auto stream = json::parse(http("GET", base + "/api/streams/" + id).body);
  EXPECT_EQ(stream["status"], "live");
  EXPECT_FALSE(stream.contains("stream_key")) << "the key never appears in viewer-facing answers";
  auto products = json::parse(http("GET", base + "/api/streams/" + id + "/products").body);
  EXPECT_EQ(products["products"].size(), 3u);
  EXPECT_EQ(stream["pinned"]["sku"], "shoe-001");
  EXPECT_NE(demo.output().find("/live/" + id), std::string::npos) << "the viewer URL is printed";

  demo.signal(SIGTERM);
  EXPECT_EQ(demo.wait(std::chrono::seconds(8)), 0) << demo.output();
  std::ifstream playlist(data + "/hls/" + id + "/source/index.m3u8");
  std::string text((std::istreambuf_iterator<char>(playlist)), {});
  EXPECT_NE(text.find("#EXT-X-ENDLIST"), std::string::npos) << "the show ends as a replay";
}

}  // namespace
}  // namespace bloomcast
