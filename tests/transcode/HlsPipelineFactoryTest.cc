// HlsPipelineFactory on a running loop: a publisher that drops and returns within the window
// continues the same show; once the window passes the show ends and its pipeline goes away.
#include "transcode/HlsPipelineFactory.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "LoopThread.h"
#include "transcode/AtomicFile.h"
#include "MediaFixture.h"
#include "TestSupport.h"

namespace bloomcast::transcode {
namespace {

using bloomcast::test::LoopThread;
using bloomcast::test::TempDir;
using bloomcast::test::waitUntil;

class HlsPipelineFactoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lt_.sync([&] {
      HlsOptions options;
      options.root_dir = dir_.path() + "/hls";
      options.ladder = parseLadder({"source", "144p:150"}).value();
      options.reconnect_window_ms = 400;
      factory_ = std::make_unique<HlsPipelineFactory>(lt_.loop(), metrics_, options);
    });
  }
  void TearDown() override {
    lt_.sync([&] { factory_.reset(); });
  }

  // One publish through the sink, as ingest does it, on the loop thread.
  void publish(const std::vector<MediaPacketPtr>& packets, const std::string& id = "s1") {
    lt_.sync([&] {
      StreamDescription d;
      d.stream_id = id;
      auto sink = factory_->open(d);
      for (const auto& p : packets) sink->onPacket(p);
      sink->onEnd("publisher closed the connection");
    });
  }
  std::size_t pipelines() {
    return lt_.sync([&] { return factory_->pipelines(); });
  }
  std::shared_ptr<StreamPipeline> pipeline(const std::string& id = "s1") {
    return lt_.sync([&] { return factory_->pipeline(id); });
  }

  TempDir dir_;
  LoopThread lt_;
  MetricsRegistry metrics_;
  std::unique_ptr<HlsPipelineFactory> factory_;
};

TEST_F(HlsPipelineFactoryTest, APublisherBackWithinTheWindowContinuesTheShowThenItEnds) {
  auto packets = test::readMediaPackets(test::generateStream({.seconds = 4}));
  // Both publishes happen in one turn of the loop, so the second is surely within the window.
  lt_.sync([&] {
    StreamDescription d;
    d.stream_id = "s1";
    auto first = factory_->open(d);
    for (const auto& p : packets) first->onPacket(p);
    first->onEnd("publisher closed the connection");
    auto second = factory_->open(d);  // back at once
    for (const auto& p : packets) second->onPacket(p);
    second->onEnd("publisher closed the connection");
  });
  auto p = pipeline();
  ASSERT_NE(p, nullptr);
  EXPECT_NE(metrics_.render().find("bloomcast_hls_pipelines 1"), std::string::npos);
  ASSERT_TRUE(waitUntil([&] { return pipelines() == 0; }, std::chrono::seconds(60)));
  EXPECT_TRUE(p->status().finished);
  p.reset();
  EXPECT_NE(metrics_.render().find("bloomcast_hls_pipelines 0"), std::string::npos);

  for (const char* name : {"source", "144p"}) {
    auto playlist = test::readPlaylist(dir_.path() + "/hls/s1/" + name + "/index.m3u8");
    EXPECT_TRUE(playlist.ended) << name;
    ASSERT_EQ(playlist.segments.size(), 4u) << name;
    EXPECT_TRUE(playlist.segments[2].discontinuity) << name;
  }
  EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/hls/s1/master.m3u8"));
}

TEST_F(HlsPipelineFactoryTest, APublishAfterTheShowEndedContinuesItFromDisk) {
  auto packets = test::readMediaPackets(test::generateStream({.seconds = 4}));
  publish(packets);
  ASSERT_TRUE(waitUntil([&] { return pipelines() == 0; }, std::chrono::seconds(60)));
  publish(packets);
  ASSERT_TRUE(waitUntil([&] { return pipelines() == 0; }, std::chrono::seconds(60)));
  auto playlist = test::readPlaylist(dir_.path() + "/hls/s1/source/index.m3u8");
  EXPECT_TRUE(playlist.ended);
  ASSERT_EQ(playlist.segments.size(), 4u);
  EXPECT_TRUE(playlist.segments[2].discontinuity);
  EXPECT_EQ(playlist.segments[3].uri, "seg_3.m4s");
}

// What kill -9 leaves behind: the show's playlists without #EXT-X-ENDLIST.
void reopenAsIfCrashed(const std::string& playlist_path) {
  auto text = readTextFile(playlist_path).value();
  auto at = text.find("#EXT-X-ENDLIST\n");
  ASSERT_NE(at, std::string::npos);
  text.erase(at);
  ASSERT_TRUE(writeFileAtomic(playlist_path, text));
}

TEST_F(HlsPipelineFactoryTest, AShowInterruptedByACrashIsClosedWhenNoPublisherReturns) {
  publish(test::readMediaPackets(test::generateStream({.seconds = 2})));
  ASSERT_TRUE(waitUntil([&] { return pipelines() == 0; }, std::chrono::seconds(60)));
  for (const char* name : {"source", "144p"}) reopenAsIfCrashed(dir_.path() + "/hls/s1/" + name + "/index.m3u8");
  TearDown();  // the restarted process
  SetUp();
  std::vector<std::string> closed;
  EXPECT_EQ(lt_.sync([&] {
    return factory_->recoverInterruptedShows([&](const std::string& id) { closed.push_back(id); });
  }), 1u);
  ASSERT_TRUE(waitUntil([&] { return lt_.sync([&] { return closed.size(); }) == 1; }, std::chrono::seconds(10)));
  EXPECT_EQ(lt_.sync([&] { return closed; }), std::vector<std::string>{"s1"});
  for (const char* name : {"source", "144p"}) {
    auto playlist = test::readPlaylist(dir_.path() + "/hls/s1/" + name + "/index.m3u8");
    EXPECT_TRUE(playlist.ended) << name;
    EXPECT_FALSE(playlist.segments.empty()) << name;
  }
}

TEST_F(HlsPipelineFactoryTest, APublisherBackAfterACrashContinuesTheSamePlaylists) {
  auto packets = test::readMediaPackets(test::generateStream({.seconds = 4}));
  publish(packets);
  ASSERT_TRUE(waitUntil([&] { return pipelines() == 0; }, std::chrono::seconds(60)));
  reopenAsIfCrashed(dir_.path() + "/hls/s1/source/index.m3u8");
  TearDown();
  SetUp();
  bool closed = false;
  lt_.sync([&] {
    factory_->recoverInterruptedShows([&](const std::string&) { closed = true; });
  });
  publish(packets);  // within the window
  ASSERT_TRUE(waitUntil([&] { return pipelines() == 0; }, std::chrono::seconds(60)));
  EXPECT_FALSE(lt_.sync([&] { return closed; })) << "the publisher came back; not an abandoned show";
  auto playlist = test::readPlaylist(dir_.path() + "/hls/s1/source/index.m3u8");
  EXPECT_TRUE(playlist.ended);
  ASSERT_EQ(playlist.segments.size(), 4u);
  EXPECT_TRUE(playlist.segments[2].discontinuity);
}

TEST_F(HlsPipelineFactoryTest, AStreamIdThatIsNotASafeDirectoryNameGetsNoPipeline) {
  auto packets = test::readMediaPackets(test::generateStream({.seconds = 1}));
  publish(packets, "../escape");
  EXPECT_EQ(pipelines(), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/escape"));
  EXPECT_TRUE(HlsPipelineFactory::validStreamId("42"));
  EXPECT_FALSE(HlsPipelineFactory::validStreamId(""));
  EXPECT_FALSE(HlsPipelineFactory::validStreamId("a/b"));
}

}  // namespace
}  // namespace bloomcast::transcode
