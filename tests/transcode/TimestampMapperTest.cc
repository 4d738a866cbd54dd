// TimestampMapper: the output timeline only moves forward and stays one timeline per show.
#include "transcode/TimestampMapper.h"

#include <gtest/gtest.h>

namespace bloomcast::transcode {
namespace {

TEST(TimestampMapper, AFirstPublishStartsAtZeroAndKeepsCompositionOffsets) {
  TimestampMapper m;
  m.continueAfterEnd();
  auto a = m.video(5000, 5067);
  EXPECT_EQ(a.dts, 0);
  EXPECT_EQ(a.pts, 67 * 90);
  auto b = m.video(5033, 5167);
  EXPECT_EQ(b.dts, 33 * 90);
  EXPECT_EQ(b.pts, 167 * 90);
  EXPECT_FALSE(b.rebased);
}

TEST(TimestampMapper, RepeatedOrSlightlyBackwardDtsIsNudgedForward) {
  TimestampMapper m;
  auto a = m.video(1000, 1000);
  auto b = m.video(1000, 1000);
  EXPECT_GT(b.dts, a.dts);
  auto c = m.video(990, 990);
  EXPECT_GT(c.dts, b.dts);
  EXPECT_FALSE(c.rebased);
}

TEST(TimestampMapper, AClockThatJumpsBackOrFarAheadContinuesOneFrameLater) {
  TimestampMapper m;
  for (int i = 0; i < 10; ++i) m.video(i * 40, i * 40);  // 25 fps
  auto back = m.video(100, 100);                       // back by 260 ms
  EXPECT_TRUE(back.rebased);
  EXPECT_EQ(back.dts, 9 * 40 * 90 + 40 * 90);
  auto next = m.video(140, 140);
  EXPECT_EQ(next.dts, back.dts + 40 * 90);
  auto ahead = m.video(3'600'140, 3'600'140);  // an hour ahead
  EXPECT_TRUE(ahead.rebased);
  EXPECT_EQ(ahead.dts, next.dts + 40 * 90);
}

TEST(TimestampMapper, AShortGapInTheClockIsKept) {
  TimestampMapper m;
  m.video(0, 0);
  auto later = m.video(3000, 3000);  // 3 s without video (a frozen encoder)
  EXPECT_FALSE(later.rebased);
  EXPECT_EQ(later.dts, 3000 * 90);
}

TEST(TimestampMapper, AudioAdvancesByWholeFramesDespiteMillisecondJitter) {
  TimestampMapper m;
  m.setAudioFormat(44100, 1024);
  int64_t expected = 0;
  for (int i = 0; i < 100; ++i) {
    int64_t ms = (i * 1024 * 1000) / 44100;  // 0, 23, 46, 69, 92, 116, ...
    auto a = m.audio(ms);
    EXPECT_EQ(a.pts, expected) << i;
    expected += 1024;
  }
  auto gap = m.audio((100 * 1024 * 1000) / 44100 + 500);  // half a second missing
  EXPECT_NEAR(static_cast<double>(gap.pts), 100 * 1024 + 22050, 50);
}

TEST(TimestampMapper, WhenTheWholeClockJumpsBothTracksMoveTogether) {
  TimestampMapper m;
  m.setAudioFormat(48000, 1024);
  TimestampMapper::Mapped v, a;
  int64_t audio_ms = 0;
  int audio_frames = 0;
  for (int i = 0; i < 30; ++i) {
    v = m.video(i * 33, i * 33);
    for (; audio_ms <= i * 33; audio_ms = (++audio_frames * 1024 * 1000) / 48000) a = m.audio(audio_ms);
  }
  double before = static_cast<double>(v.dts) / 90000.0 - static_cast<double>(a.pts) / 48000.0;
  // Both tracks' timestamps jump back by 10 s.
  v = m.video(30 * 33 - 10'000, 30 * 33 - 10'000);
  EXPECT_TRUE(v.rebased);
  a = m.audio(audio_ms - 10'000);
  EXPECT_FALSE(a.rebased) << "audio adopts video's new offset";
  double after = static_cast<double>(v.dts) / 90000.0 - static_cast<double>(a.pts) / 48000.0;
  EXPECT_NEAR(after, before + 0.033 - 1024.0 / 48000, 0.005) << "A/V sync kept across the jump";
}

TEST(TimestampMapper, ANewPublishContinuesAfterTheEndOfTheLast) {
  TimestampMapper m;
  m.setAudioFormat(44100, 1024);
  m.continueAfterEnd();
  for (int i = 0; i < 60; ++i) m.video(i * 33, i * 33);
  int64_t end = m.end90k();
  EXPECT_GE(end, 59 * 33 * 90 + 33 * 90 - 100);
  m.continueAfterEnd();
  auto first = m.video(0, 67);  // the publisher's clock restarts
  EXPECT_EQ(first.dts, end);
  EXPECT_EQ(first.pts, end + 67 * 90);
}

}  // namespace
}  // namespace bloomcast::transcode
