// PacketQueue: the loop never waits; a full queue drops whole GOPs, never corrupting ones; and
// LagMonitor, which decides when the ladder must shrink.
#include "transcode/PacketQueue.h"

#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "transcode/LagMonitor.h"

namespace bloomcast::transcode {
namespace {

QueueItem packet(MediaType type, bool keyframe, int64_t ms, std::size_t size = 100, bool config = false) {
  auto p = std::make_shared<MediaPacket>();
  p->type = type;
  p->keyframe = keyframe;
  p->is_config = config;
  p->dts_ms = p->pts_ms = ms;
  p->data.assign(size, 0);
  QueueItem item;
  item.packet = p;
  return item;
}
QueueItem video(bool key, int64_t ms) { return packet(MediaType::kVideo, key, ms); }
QueueItem audio(int64_t ms) { return packet(MediaType::kAudio, true, ms); }

std::vector<QueueItem> drain(PacketQueue& q) {
  std::vector<QueueItem> out;
  while (auto item = q.pop(std::chrono::milliseconds(0))) out.push_back(std::move(*item));
  return out;
}

TEST(PacketQueue, AFullQueueDropsEverythingUpToTheNextKeyframeThatFits) {
  PacketQueue q(4, 1 << 20);
  EXPECT_TRUE(q.tryPush(video(true, 0)));
  EXPECT_TRUE(q.tryPush(video(false, 33)));
  EXPECT_TRUE(q.tryPush(audio(40)));
  EXPECT_TRUE(q.tryPush(video(false, 66)));
  EXPECT_FALSE(q.tryPush(video(false, 100))) << "full";
  q.pop(std::chrono::milliseconds(0));
  q.pop(std::chrono::milliseconds(0));  // room again, but the GOP is broken
  EXPECT_FALSE(q.tryPush(video(false, 133)));
  EXPECT_FALSE(q.tryPush(audio(140)));
  EXPECT_TRUE(q.tryPush(video(true, 166))) << "the next keyframe restarts";
  EXPECT_TRUE(q.tryPush(audio(170)));
  EXPECT_EQ(q.droppedFrames(), 3u);
  auto items = drain(q);
  ASSERT_EQ(items.size(), 4u);
  EXPECT_FALSE(items[1].after_gap);
  EXPECT_TRUE(items[2].after_gap);
  EXPECT_EQ(items[2].packet->dts_ms, 166);
  EXPECT_FALSE(items[3].after_gap);
}

TEST(PacketQueue, ByteBoundCountsToo) {
  PacketQueue q(100, 1000);
  EXPECT_TRUE(q.tryPush(packet(MediaType::kVideo, true, 0, 600)));
  EXPECT_FALSE(q.tryPush(packet(MediaType::kVideo, false, 33, 600)));
}

TEST(PacketQueue, ConfigurationsAndControlItemsAreNeverDropped) {
  PacketQueue q(1, 1 << 20);
  EXPECT_TRUE(q.tryPush(video(true, 0)));
  EXPECT_TRUE(q.tryPush(packet(MediaType::kVideo, false, 0, 30, true)));
  QueueItem end;
  end.kind = QueueItem::Kind::kEndPublish;
  q.pushControl(end);
  EXPECT_EQ(q.depth(), 3u);
  EXPECT_EQ(q.highWater(), 3u);
}

TEST(PacketQueue, AnAudioOnlyPublishResumesOnAudio) {
  PacketQueue q(1, 1 << 20);
  EXPECT_TRUE(q.tryPush(audio(0)));
  EXPECT_FALSE(q.tryPush(audio(23)));
  q.pop(std::chrono::milliseconds(0));
  EXPECT_TRUE(q.tryPush(audio(46)));
}

TEST(PacketQueue, PushWaitBlocksUntilTheWorkerMakesRoom) {
  PacketQueue q(2, 1 << 20);
  q.tryPush(video(true, 0));
  q.tryPush(video(false, 33));
  std::thread feeder([&] { EXPECT_TRUE(q.pushWait(video(false, 66))); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(q.depth(), 2u) << "still waiting";
  q.pop(std::chrono::milliseconds(0));
  feeder.join();
  EXPECT_EQ(q.depth(), 2u);
  EXPECT_EQ(q.droppedFrames(), 0u);
}

// Runs pop(timeout) on a worker thread once it is blocked in it, calls `feed`, and returns how
// long pop took and whether it got an item.
struct WorkerPop {
  std::chrono::milliseconds took;
  bool got;
};
WorkerPop popWhileFed(PacketQueue& q, std::chrono::milliseconds timeout, const std::function<void()>& feed) {
  WorkerPop result{};
  std::thread worker([&] {
    auto start = std::chrono::steady_clock::now();
    result.got = q.pop(timeout).has_value();
    result.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  });
  while (!q.workerWaiting()) std::this_thread::yield();
  feed();
  worker.join();
  return result;
}

TEST(PacketQueue, AWaitingWorkerIsNotWokenForEveryFrame) {
  PacketQueue q(64, 1 << 20);
  auto r = popWhileFed(q, std::chrono::milliseconds(300), [&] { q.tryPush(video(true, 0)); });
  EXPECT_TRUE(r.got) << "the frame is handed out at the worker's timeout at the latest";
  EXPECT_GE(r.took.count(), 250) << "one frame alone does not wake the worker";
}

TEST(PacketQueue, ABatchOfFramesWakesTheWorker) {
  PacketQueue q(64, 1 << 20);
  auto r = popWhileFed(q, std::chrono::milliseconds(60000), [&] {
    for (std::size_t i = 0; i < PacketQueue::kWakeBatch; ++i) q.tryPush(video(i == 0, 33 * static_cast<int64_t>(i)));
  });
  EXPECT_TRUE(r.got);
  EXPECT_LT(r.took.count(), 30000);
  EXPECT_EQ(drain(q).size(), PacketQueue::kWakeBatch - 1);
}

TEST(PacketQueue, AFrameThatWaitedTooLongWakesTheWorkerWithTheNextOne) {
  PacketQueue q(64, 1 << 20);
  auto r = popWhileFed(q, std::chrono::milliseconds(60000), [&] {
    q.tryPush(video(true, 0));
    std::this_thread::sleep_for(PacketQueue::kWakeAfter);  // the first frame is now overdue
    q.tryPush(audio(40));
  });
  EXPECT_TRUE(r.got);
  EXPECT_LT(r.took.count(), 30000);
}

TEST(PacketQueue, ControlItemsAndConfigurationsWakeTheWorkerAtOnce) {
  PacketQueue q(64, 1 << 20);
  QueueItem begin;
  begin.kind = QueueItem::Kind::kBeginPublish;
  auto r = popWhileFed(q, std::chrono::milliseconds(60000), [&] { q.pushControl(std::move(begin)); });
  EXPECT_TRUE(r.got);
  EXPECT_LT(r.took.count(), 30000);
  r = popWhileFed(q, std::chrono::milliseconds(60000),
                  [&] { q.tryPush(packet(MediaType::kVideo, false, 0, 40, true)); });
  EXPECT_TRUE(r.got);
  EXPECT_LT(r.took.count(), 30000);
}

TEST(PacketQueue, ClosedQueueHandsOutWhatIsLeftThenReportsDrained) {
  PacketQueue q(4, 1 << 20);
  q.tryPush(video(true, 0));
  q.close();
  EXPECT_FALSE(q.tryPush(video(false, 33)));
  EXPECT_FALSE(q.drained());
  EXPECT_TRUE(q.pop(std::chrono::milliseconds(0)).has_value());
  EXPECT_FALSE(q.pop(std::chrono::milliseconds(100)).has_value());
  EXPECT_TRUE(q.drained());
}

TEST(LagMonitor, DropsARungOnlyAfterTheLagPersists) {
  LagMonitor m(2000, 2000);
  EXPECT_FALSE(m.observe(0, 2500));
  EXPECT_FALSE(m.observe(1000, 100)) << "caught up: the clock restarts";
  EXPECT_FALSE(m.observe(1500, 2500));
  EXPECT_FALSE(m.observe(3000, 2600));
  EXPECT_TRUE(m.observe(3500, 2700));
}

TEST(LagMonitor, AfterADropItWaitsAndDropsAgainOnlyIfNotCatchingUp) {
  LagMonitor m(2000, 1000);
  EXPECT_FALSE(m.observe(0, 3000));
  EXPECT_TRUE(m.observe(1000, 3000));
  EXPECT_FALSE(m.observe(1500, 3500)) << "too soon";
  EXPECT_FALSE(m.observe(2100, 2800)) << "coming down: catching up";
  EXPECT_TRUE(m.observe(3200, 3900)) << "still growing";
  EXPECT_EQ(m.lastLagMs(), 3900);
}

}  // namespace
}  // namespace bloomcast::transcode
