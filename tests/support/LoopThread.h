#pragma once
// LoopThread: an EventLoop running on a background thread, for in-process tests. The test
// thread hands work to the loop with sync(), which waits for the result; objects owning libuv
// handles must be created and destroyed inside sync().
#include <future>
#include <thread>

#include "infra/EventLoop.h"

namespace bloomcast::test {

class LoopThread {
 public:
  LoopThread() : thread_([this] { loop_.run(); }) {
    sync([] {});  // the loop thread is running
  }
  ~LoopThread() {
    loop_.stop();
    thread_.join();
  }
  EventLoop& loop() { return loop_; }

  template <class F>
  auto sync(F&& fn) -> decltype(fn()) {
    using R = decltype(fn());
    std::promise<R> done;
    auto result = done.get_future();
    loop_.post([&] {
      if constexpr (std::is_void_v<R>) {
        fn();
        done.set_value();
      } else {
        done.set_value(fn());
      }
    });
    return result.get();
  }

 private:
  EventLoop loop_;
  std::thread thread_;
};

}  // namespace bloomcast::test
