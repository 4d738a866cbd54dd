#pragma once
// EventLoop: the one libuv loop that owns every socket and all connection state.
//
// Thread: run() turns the calling thread into the loop thread. post() may be called from any
// thread; everything else only on the loop thread. Owned by app/ (one per process).
//
// Worker threads hand results back with post(): a bounded task queue guarded by a mutex plus a
// uv_async_t wake-up. When the queue is full post() refuses the task instead of growing memory,
// and the caller decides what to drop.
#include <uv.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace bloomcast {

class EventLoop {
 public:
  using Task = std::function<void()>;

  explicit EventLoop(std::size_t max_queued_tasks = 65536);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  uv_loop_t* uv() { return &loop_; }

  // Runs the loop on the calling thread until stop(). Returns after every task posted before
  // stop() ran.
  void run();

  // Any thread. Asks run() to return after the current iteration.
  void stop();

  // Any thread. Queues `task` to run on the loop thread. Returns false (task dropped) when
  // max_queued_tasks are already waiting.
  bool post(Task task);

  // Loop thread: runs `task` now; other threads: post()s it.
  bool runInLoop(Task task);

  bool isInLoopThread() const { return std::this_thread::get_id() == loop_thread_.load(); }
  // Aborts (an internal invariant is broken) when called off the loop thread.
  void assertInLoopThread() const;

  std::size_t queuedTasks() const;
  std::size_t queueHighWater() const { return queue_high_water_.load(); }

 private:
  static void onWakeup(uv_async_t* handle);
  void runQueuedTasks();

  uv_loop_t loop_{};
  uv_async_t wakeup_{};
  uv_prepare_t turn_start_{};  // loopTurnClock's turns: unreferenced, they keep no loop alive
  uv_check_t turn_end_{};
  std::atomic<std::thread::id> loop_thread_{};
  std::atomic<bool> stop_requested_{false};
  std::size_t max_queued_tasks_;
  std::atomic<std::size_t> queue_high_water_{0};
  mutable std::mutex mutex_;
  std::vector<Task> tasks_;  // guarded by mutex_
};

// The steady clock as of this loop turn: read once in each part of an EventLoop's turn that runs
// without blocking (its I/O callbacks; the rest of the turn, from its check handles to its
// prepare handles), on that loop's thread. For latencies at loop-turn precision: an order read the
// clock six times (clock_gettime was ~2% of its CPU on this VM), and every request answered
// within a turn can share one reading. On a thread whose loop is not an EventLoop — or before its
// first turn — it reads the clock each time. Not for deadlines that a long turn must not stretch
// by more than its length (RedisConnection's sends and replies are stamped with it, but its
// timeout check reads the clock).
std::chrono::steady_clock::time_point loopTurnClock();
// The wall clock the same way: the time an order is stamped with, at loop-turn precision.
std::chrono::system_clock::time_point loopTurnWallClock();

// Timer: a repeating or one-shot uv_timer_t. libuv closes handles asynchronously, so the handle
// lives on the heap and frees itself in its close callback; the Timer may be destroyed at any
// time on the loop thread. Thread: loop thread only.

class Timer {
 public:
  explicit Timer(EventLoop& loop);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Calls `fn` after timeout_ms, then every repeat_ms (0: once). Replaces any earlier start.
  void start(uint64_t timeout_ms, uint64_t repeat_ms, std::function<void()> fn);
  void stop();
  bool active() const;

 private:
  struct Handle;
  Handle* handle_;
};

// Idle: calls fn once per loop turn, before the loop polls, while started; the poll in between
// does not block, so sockets are served between calls. For work cut into slices (a broadcast to
// a large room): a zero-delay Timer would not do, since libuv runs a timer started from a timer
// callback in the same turn. Thread: loop thread only; destroyable at any time, like Timer.
class Idle {
 public:
  explicit Idle(EventLoop& loop);
  ~Idle();
  Idle(const Idle&) = delete;
  Idle& operator=(const Idle&) = delete;
  void start(std::function<void()> fn);
  void stop();
  bool active() const;

 private:
  struct Handle;
  Handle* handle_;
};

}  // namespace bloomcast
