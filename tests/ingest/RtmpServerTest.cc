// RtmpServer with the real ffmpeg CLI as the publisher: what the media sink sees, refused keys,
// one publisher per stream, and publishers that vanish or go silent.
#include "ingest/RtmpServer.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <mutex>

#include "LoopThread.h"
#include "TestSupport.h"
#include "ingest/proto/AvcConfig.h"

namespace bloomcast::ingest {
namespace {

using test::LoopThread;
using test::Process;
using test::waitUntil;

// The catalog's side of the gate, for this test: one known key.
class KeyTable : public PublishGate {
 public:
  void authorize(const std::string& key, Answer answer) override {
    bool down = false;
    {
      std::lock_guard lock(mu);
      ++authorizations;
      down = store_down_after_first && authorizations > 1;
    }
    if (down) return answer(std::unexpected(Error{"store_unavailable", "Redis is down"}));
    if (key == "k3y-of-s1") answer(std::string("s1"));
    else if (key == "k3y-of-s2") answer(std::string("s2"));
    else answer(std::unexpected(Error{"unknown_key", "no stream has this key"}));
  }
  void onLive(const std::string& id) override {
    std::lock_guard lock(mu);
    live.push_back(id);
  }
  void onOffline(const std::string& id) override {
    std::lock_guard lock(mu);
    offline.push_back(id);
  }
  std::mutex mu;
  int authorizations = 0;
  bool store_down_after_first = false;  // every check after the first: the store cannot answer
  std::vector<std::string> live, offline;
};

// Records everything a publish hands to the pipeline.
struct Recording {
  std::mutex mu;
  std::vector<MediaPacketPtr> packets;
  std::map<std::string, std::vector<MediaPacketPtr>> by_stream;
  std::vector<std::string> ends;
  int opened = 0;
  std::size_t size() {
    std::lock_guard lock(mu);
    return packets.size();
  }
};

class RecordingSinks : public MediaSinkFactory {
 public:
  explicit RecordingSinks(Recording& r) : r_(r) {}
  std::unique_ptr<MediaStreamSink> open(const StreamDescription& description) override {
    struct Sink : MediaStreamSink {
      Recording& r;
      std::string stream;
      Sink(Recording& r, std::string stream) : r(r), stream(std::move(stream)) {}
      void onMetaData(const StreamDescription&) override {}
      void onPacket(MediaPacketPtr p) override {
        std::lock_guard lock(r.mu);
        r.by_stream[stream].push_back(p);
        r.packets.push_back(std::move(p));
      }
      void onEnd(const std::string& why) override {
        std::lock_guard lock(r.mu);
        r.ends.push_back(why);
      }
    };
    std::lock_guard lock(r_.mu);
    ++r_.opened;
    return std::make_unique<Sink>(r_, description.stream_id);
  }

 private:
  Recording& r_;
};

// Each test runs in both read modes (RtmpServer.h): the parameter is poll_from_publishers, so 1
// reads every publisher by the poll timer and 1000 reads each as its bytes arrive.
class RtmpServerTest : public ::testing::TestWithParam<std::size_t> {
 protected:
  void SetUp() override {
    lt_.sync([&] {
      RtmpServerOptions options;
      options.bind_address = "127.0.0.1";
      options.port = 0;
      options.idle_timeout_ms = 1500;
      options.poll_from_publishers = GetParam();
      options.key_recheck_ms = 200;
      server_ = std::make_unique<RtmpServer>(lt_.loop(), metrics_, gate_, sinks_, options);
      ASSERT_TRUE(server_->start().has_value());
      port_ = server_->port();
    });
  }
  void TearDown() override {
    lt_.sync([&] { server_.reset(); });
  }

  // ffmpeg generating a 640x360 30 fps test picture with a tone, GOP of 30, and publishing it.
  std::unique_ptr<Process> publish(const std::string& key, double seconds, bool realtime) {
    std::vector<std::string> argv = {"ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin"};
    if (realtime) argv.push_back("-re");
    for (std::string a : {"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i",
                          "sine=frequency=440:sample_rate=44100", "-t"})
      argv.push_back(a);
    argv.push_back(std::to_string(seconds));
    for (std::string a : {"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30",
                          "-keyint_min", "30", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac",
                          "-b:a", "64k", "-f", "flv"})
      argv.push_back(a);
    argv.push_back("rtmp://127.0.0.1:" + std::to_string(port_) + "/live/" + key);
    return std::make_unique<Process>(argv);
  }

  std::size_t publishers() { return lt_.sync([&] { return server_->publishers(); }); }
  std::size_t connections() { return lt_.sync([&] { return server_->connections(); }); }

  LoopThread lt_;
  MetricsRegistry metrics_;
  KeyTable gate_;
  Recording recording_;
  RecordingSinks sinks_{recording_};
  std::unique_ptr<RtmpServer> server_;
  int port_ = 0;
};

TEST_P(RtmpServerTest, FfmpegPublishDeliversConfigsEveryFrameAndKeyframesAtTheGop) {
  auto ffmpeg = publish("k3y-of-s1", 4, false);
  ASSERT_EQ(ffmpeg->wait(std::chrono::seconds(60)), 0) << ffmpeg->output();
  ASSERT_TRUE(waitUntil([&] { std::lock_guard l(recording_.mu); return !recording_.ends.empty(); }));

  std::lock_guard lock(recording_.mu);
  EXPECT_EQ(recording_.opened, 1);
  const auto& packets = recording_.packets;
  ASSERT_FALSE(packets.empty());
  // Codec configuration comes before any frame of its kind.
  bool video_config = false, audio_config = false;
  int video_frames = 0, audio_frames = 0;
  int64_t last_video_dts = -1;
  std::vector<int> keyframe_indices;
  for (const auto& p : packets) {
    if (p->type == MediaType::kVideo) {
      if (p->is_config) {
        video_config = true;
        auto config = parseAvcConfig(p->data);
        ASSERT_TRUE(std::holds_alternative<AvcConfig>(config));
        auto sps = parseSps(std::get<AvcConfig>(config).sps.at(0));
        ASSERT_TRUE(std::holds_alternative<SpsInfo>(sps));
        EXPECT_EQ(std::get<SpsInfo>(sps).width, 640u);
        EXPECT_EQ(std::get<SpsInfo>(sps).height, 360u);
        continue;
      }
      ASSERT_TRUE(video_config) << "video frame before the AVC sequence header";
      EXPECT_GE(p->dts_ms, last_video_dts) << "video dts must not go backwards";
      EXPECT_GE(p->pts_ms, p->dts_ms);
      last_video_dts = p->dts_ms;
      if (p->keyframe) keyframe_indices.push_back(video_frames);
      // AVCC with 4-byte lengths: the first NAL unit's length fits the packet.
      ASSERT_GE(p->data.size(), 5u);
      uint32_t n = (uint32_t(p->data[0]) << 24) | (p->data[1] << 16) | (p->data[2] << 8) | p->data[3];
      EXPECT_LE(n + 4, p->data.size());
      ++video_frames;
    } else {
      if (p->is_config) {
        audio_config = true;
        continue;
      }
      ASSERT_TRUE(audio_config) << "audio frame before the AudioSpecificConfig";
      ++audio_frames;
    }
  }
  EXPECT_EQ(video_frames, 120) << "4 s at 30 fps, every frame";
  EXPECT_EQ(keyframe_indices, (std::vector<int>{0, 30, 60, 90}));
  EXPECT_NEAR(audio_frames, 4 * 44100 / 1024, 3);
  EXPECT_EQ(gate_.live, std::vector<std::string>{"s1"});
  EXPECT_EQ(gate_.offline, std::vector<std::string>{"s1"});
}

// A live publisher's key is asked again while it publishes (a rotated key or an ended stream
// cut it off: tests/app/PublisherRevocationTest.cc). When the store cannot answer, the show
// goes on: every frame arrives and the publish ends only when the encoder stops.
TEST_P(RtmpServerTest, ALivePublisherWhoseKeyCannotBeRecheckedPublishesOn) {
  {
    std::lock_guard lock(gate_.mu);
    gate_.store_down_after_first = true;
  }
  auto ffmpeg = publish("k3y-of-s1", 3, true);
  ASSERT_EQ(ffmpeg->wait(std::chrono::seconds(60)), 0) << ffmpeg->output();
  ASSERT_TRUE(waitUntil([&] { std::lock_guard l(recording_.mu); return !recording_.ends.empty(); }));
  {
    std::lock_guard lock(gate_.mu);
    EXPECT_GE(gate_.authorizations, 3) << "the key was asked again while publishing";
    EXPECT_EQ(gate_.live, std::vector<std::string>{"s1"});
  }
  std::lock_guard lock(recording_.mu);
  EXPECT_EQ(recording_.opened, 1);
  int video_frames = 0;
  for (const auto& p : recording_.packets)
    if (p->type == MediaType::kVideo && !p->is_config) ++video_frames;
  EXPECT_EQ(video_frames, 90) << "3 s at 30 fps, every frame";
  EXPECT_NE(metrics_.render().find("bloomcast_rtmp_publishers_revoked_total 0"), std::string::npos);
}

TEST_P(RtmpServerTest, UnknownStreamKeyIsRefusedAndClosed) {
  auto ffmpeg = publish("not-a-key", 2, false);
  EXPECT_NE(ffmpeg->wait(std::chrono::seconds(30)), 0) << "ffmpeg must fail";
  EXPECT_TRUE(waitUntil([&] { return connections() == 0; }));
  std::lock_guard lock(recording_.mu);
  EXPECT_EQ(recording_.opened, 0);
  EXPECT_TRUE(gate_.live.empty());
  EXPECT_NE(metrics_.render().find("bloomcast_rtmp_publish_refused_total 1"), std::string::npos);
}

TEST_P(RtmpServerTest, ASecondPublisherOfALiveStreamIsRefused) {
  auto first = publish("k3y-of-s1", 30, true);
  ASSERT_TRUE(waitUntil([&] { return recording_.size() > 10; }, std::chrono::seconds(20)));
  auto second = publish("k3y-of-s1", 2, false);
  EXPECT_NE(second->wait(std::chrono::seconds(30)), 0);
  EXPECT_EQ(publishers(), 1u);
  EXPECT_TRUE(first->running()) << "the first publisher is undisturbed";
  first->signal(SIGKILL);
}

TEST_P(RtmpServerTest, APublisherKilledMidStreamGoesOfflineAndLeavesNothingBehind) {
  auto ffmpeg = publish("k3y-of-s1", 30, true);
  ASSERT_TRUE(waitUntil([&] { return recording_.size() > 30; }, std::chrono::seconds(20)));
  ffmpeg->signal(SIGKILL);
  ASSERT_TRUE(waitUntil([&] { return publishers() == 0 && connections() == 0; }));
  std::lock_guard lock(recording_.mu);
  ASSERT_EQ(recording_.ends.size(), 1u);
  EXPECT_EQ(gate_.offline, std::vector<std::string>{"s1"});
}

TEST_P(RtmpServerTest, ASilentPublisherGoesOfflineAfterTheIdleTimeout) {
  auto ffmpeg = publish("k3y-of-s1", 30, true);
  ASSERT_TRUE(waitUntil([&] { return recording_.size() > 30; }, std::chrono::seconds(20)));
  ffmpeg->signal(SIGSTOP);  // the socket stays open; nothing arrives
  ASSERT_TRUE(waitUntil([&] { return publishers() == 0; }, std::chrono::seconds(10)));
  {
    std::lock_guard lock(recording_.mu);
    ASSERT_EQ(recording_.ends.size(), 1u);
    EXPECT_EQ(recording_.ends[0], "publisher silent");
  }
  ffmpeg->signal(SIGKILL);
}

TEST_P(RtmpServerTest, GarbageFromOneClientDoesNotDisturbAnother) {
  auto good = publish("k3y-of-s1", 30, true);
  ASSERT_TRUE(waitUntil([&] { return recording_.size() > 10; }, std::chrono::seconds(20)));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string junk(4096, '\x07');  // version 7, then nonsense
  ASSERT_GT(write(fd, junk.data(), junk.size()), 0);
  char buf[64];
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_LE(read(fd, buf, sizeof buf), 0) << "the server closes a client that speaks garbage";
  close(fd);
  std::size_t before = recording_.size();
  EXPECT_TRUE(waitUntil([&] { return recording_.size() > before + 10; })) << "the publisher goes on";
  good->signal(SIGKILL);
}

INSTANTIATE_TEST_SUITE_P(ReadModes, RtmpServerTest, ::testing::Values(std::size_t{1000}, std::size_t{1}),
                         [](const auto& info) { return info.param == 1 ? "Polled" : "OnArrival"; });

// With poll_from_publishers 2: a second publisher switches both to the poll timer, and its leaving
// switches the first back to reading on arrival; the first one's frames go on arriving in order
// across both switches.
class RtmpReadModeSwitchTest : public RtmpServerTest {};

TEST_P(RtmpReadModeSwitchTest, PublishersSwitchReadModesWithoutLosingTheirOrder) {
  auto first = publish("k3y-of-s1", 30, true);
  ASSERT_TRUE(waitUntil([&] { return recording_.size() > 10; }, std::chrono::seconds(20)));
  auto second = publish("k3y-of-s2", 3, true);
  ASSERT_TRUE(waitUntil([&] { return publishers() == 2; }, std::chrono::seconds(20)));
  ASSERT_EQ(second->wait(std::chrono::seconds(30)), 0) << second->output();
  ASSERT_TRUE(waitUntil([&] { return publishers() == 1; }));
  std::size_t after_switch_back = recording_.size();
  ASSERT_TRUE(waitUntil([&] { return recording_.size() > after_switch_back + 30; }, std::chrono::seconds(10)))
      << "the first publisher goes on after the switch back";
  first->signal(SIGKILL);
  ASSERT_TRUE(waitUntil([&] { return publishers() == 0 && connections() == 0; }));

  std::lock_guard lock(recording_.mu);
  EXPECT_EQ(recording_.opened, 2);
  EXPECT_EQ(recording_.ends.size(), 2u);
  // Each stream's video arrived whole and in order: 30 fps, so consecutive dts are ~33 ms apart
  // (a lost frame would leave a 66 ms hole), never backwards.
  for (const auto& [stream, packets] : recording_.by_stream) {
    int64_t last = -1;
    int frames = 0;
    for (const auto& p : packets) {
      if (p->type != MediaType::kVideo || p->is_config) continue;
      if (last >= 0) {
        EXPECT_GT(p->dts_ms, last) << stream;
        EXPECT_LE(p->dts_ms - last, 34) << stream << ": a frame missing after dts " << last;
      }
      last = p->dts_ms;
      ++frames;
    }
    EXPECT_GT(frames, 60) << stream;
  }
  EXPECT_EQ(recording_.by_stream.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Threshold2, RtmpReadModeSwitchTest, ::testing::Values(std::size_t{2}));

}  // namespace
}  // namespace bloomcast::ingest
