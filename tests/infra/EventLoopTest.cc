// infra/EventLoop: loopTurnClock's one reading per part of a turn.
#include <gtest/gtest.h>

#include <chrono>

#include "infra/EventLoop.h"

namespace bloomcast {
namespace {

using Clock = std::chrono::steady_clock;

// Waits (on the clock itself) until it has moved past `t` by a millisecond.
void passTime(Clock::time_point t) {
  while (Clock::now() < t + std::chrono::milliseconds(1)) {
  }
}

TEST(LoopTurnClock, IsReadOncePerTurnOnTheLoopAndEachTimeOffIt) {
  auto off = loopTurnClock();
  passTime(off);
  EXPECT_GT(loopTurnClock(), off) << "no EventLoop on this thread yet: the clock itself";

  EventLoop loop;
  Clock::time_point first, again, next_turn;
  loop.post([&] {
    first = loopTurnClock();
    passTime(first);
    again = loopTurnClock();
    // Posted from a task: it runs in a later turn of the loop.
    loop.post([&] {
      next_turn = loopTurnClock();
      loop.stop();
    });
  });
  loop.run();
  EXPECT_EQ(again, first) << "one turn, one reading";
  EXPECT_GT(next_turn, first) << "a later turn reads the clock again";

  auto after = loopTurnClock();
  passTime(after);
  EXPECT_GT(loopTurnClock(), after) << "the loop has stopped: the clock itself again";
}

}  // namespace
}  // namespace bloomcast
