#include "infra/EventLoop.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace bloomcast {

namespace {
// loopTurnClock's reading on this thread, and whether an EventLoop's turn hooks invalidate it.
thread_local std::chrono::steady_clock::time_point turn_clock{};
thread_local std::chrono::system_clock::time_point turn_wall_clock{};
thread_local bool turn_clock_valid = false;
thread_local bool turn_wall_clock_valid = false;
thread_local bool turn_clock_hooked = false;

void newTurnPart() {
  turn_clock_hooked = true;
  turn_clock_valid = false;
  turn_wall_clock_valid = false;
}
}  // namespace

std::chrono::steady_clock::time_point loopTurnClock() {
  if (turn_clock_valid) return turn_clock;
  turn_clock = std::chrono::steady_clock::now();
  turn_clock_valid = turn_clock_hooked;
  return turn_clock;
}

std::chrono::system_clock::time_point loopTurnWallClock() {
  if (turn_wall_clock_valid) return turn_wall_clock;
  turn_wall_clock = std::chrono::system_clock::now();
  turn_wall_clock_valid = turn_clock_hooked;
  return turn_wall_clock;
}

EventLoop::EventLoop(std::size_t max_queued_tasks) : max_queued_tasks_(max_queued_tasks) {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &wakeup_, &EventLoop::onWakeup);
  wakeup_.data = this;
  uv_prepare_init(&loop_, &turn_start_);
  uv_prepare_start(&turn_start_, [](uv_prepare_t*) { newTurnPart(); });
  uv_unref(reinterpret_cast<uv_handle_t*>(&turn_start_));
  uv_check_init(&loop_, &turn_end_);
  uv_check_start(&turn_end_, [](uv_check_t*) { newTurnPart(); });
  uv_unref(reinterpret_cast<uv_handle_t*>(&turn_end_));
  loop_thread_ = std::this_thread::get_id();
}

EventLoop::~EventLoop() {
  uv_close(reinterpret_cast<uv_handle_t*>(&wakeup_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&turn_start_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&turn_end_), nullptr);
  // Let close callbacks of handles closed by other owners run, then release the loop.
  for (int i = 0; i < 100 && uv_run(&loop_, UV_RUN_NOWAIT) != 0; ++i) {
  }
  if (uv_loop_close(&loop_) == UV_EBUSY) {
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          spdlog::warn("event loop: handle of type {} still open at exit",
                       uv_handle_type_name(uv_handle_get_type(h)));
        },
        nullptr);
  }
}

void EventLoop::run() {
  loop_thread_ = std::this_thread::get_id();
  while (!stop_requested_.load()) {
    uv_run(&loop_, UV_RUN_DEFAULT);
    if (!stop_requested_.load()) break;  // no handles left at all
  }
  runQueuedTasks();
  // This thread may run another loop, which is not an EventLoop, next.
  turn_clock_hooked = false;
  turn_clock_valid = false;
  turn_wall_clock_valid = false;
}

void EventLoop::stop() {
  post([this] {
    stop_requested_ = true;
    uv_stop(&loop_);
  });
}

bool EventLoop::post(Task task) {
  {
    std::lock_guard lock(mutex_);
    if (tasks_.size() >= max_queued_tasks_) return false;
    tasks_.push_back(std::move(task));
    std::size_t depth = tasks_.size();
    if (depth > queue_high_water_.load(std::memory_order_relaxed)) queue_high_water_ = depth;
  }
  uv_async_send(&wakeup_);
  return true;
}

bool EventLoop::runInLoop(Task task) {
  if (isInLoopThread()) {
    task();
    return true;
  }
  return post(std::move(task));
}

void EventLoop::assertInLoopThread() const {
  if (!isInLoopThread()) {
    spdlog::critical("event loop: called off the loop thread");
    std::abort();
  }
}

std::size_t EventLoop::queuedTasks() const {
  std::lock_guard lock(mutex_);
  return tasks_.size();
}

void EventLoop::onWakeup(uv_async_t* handle) {
  static_cast<EventLoop*>(handle->data)->runQueuedTasks();
}

void EventLoop::runQueuedTasks() {
  std::vector<Task> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(tasks_);
  }
  for (auto& task : batch) task();
}

// ---- Timer ----------------------------------------------------------------------------------

struct Timer::Handle {
  uv_timer_t timer{};
  std::function<void()> fn;
};

Timer::Timer(EventLoop& loop) : handle_(new Handle) {
  uv_timer_init(loop.uv(), &handle_->timer);
  handle_->timer.data = handle_;
}

Timer::~Timer() {
  handle_->fn = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_->timer),
           [](uv_handle_t* h) { delete static_cast<Handle*>(h->data); });
}

void Timer::start(uint64_t timeout_ms, uint64_t repeat_ms, std::function<void()> fn) {
  handle_->fn = std::move(fn);
  uv_timer_start(
      &handle_->timer,
      [](uv_timer_t* t) {
        auto* h = static_cast<Handle*>(t->data);
        // Copy: fn may restart or destroy this timer.
        if (auto fn = h->fn) fn();
      },
      timeout_ms, repeat_ms);
}

void Timer::stop() { uv_timer_stop(&handle_->timer); }

bool Timer::active() const {
  return uv_is_active(reinterpret_cast<const uv_handle_t*>(&handle_->timer)) != 0;
}

struct Idle::Handle {
  uv_idle_t idle{};
  std::function<void()> fn;
};

Idle::Idle(EventLoop& loop) : handle_(new Handle) {
  uv_idle_init(loop.uv(), &handle_->idle);
  handle_->idle.data = handle_;
}

Idle::~Idle() {
  handle_->fn = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_->idle),
           [](uv_handle_t* h) { delete static_cast<Handle*>(h->data); });
}

void Idle::start(std::function<void()> fn) {
  handle_->fn = std::move(fn);
  uv_idle_start(&handle_->idle, [](uv_idle_t* i) {
    auto* h = static_cast<Handle*>(i->data);
    if (auto fn = h->fn) fn();  // a copy: fn may stop or destroy this handle
  });
}

void Idle::stop() { uv_idle_stop(&handle_->idle); }

bool Idle::active() const { return uv_is_active(reinterpret_cast<const uv_handle_t*>(&handle_->idle)) != 0; }

}  // namespace bloomcast
