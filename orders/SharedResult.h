#pragma once
// SharedResult: one answer computed for many askers. A public list (GET /api/streams, the
// campaign-wide GMV) costs a node and Redis in proportion to the number of streams, and anyone
// may ask for it, as often as they like: each node computes it at most once per `fresh_ms`, and
// every request in between — or arriving while it is computed — gets that one. A computation
// that failed is passed to those waiting for it and not kept.
//
// `generation`: a counter of the node's own writes to what the answer lists
// (Catalog::generation): an answer is not reused across a change, so a node's writes show in
// its next answer; other nodes' writes show within fresh_ms.
//
// Thread: loop thread. The compute function's callback must not outlive the SharedResult's owner.
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "orders/StoreReplies.h"

namespace bloomcast::orders {

template <class T>
class SharedResult {
 public:
  using Ptr = std::shared_ptr<const T>;

  // Answers `cb` with the value taken less than `fresh_ms` ago at this `generation`, or with the
  // next one `compute` produces (started now unless one is under way).
  void get(uint64_t fresh_ms, uint64_t generation, const std::function<void(Callback<T>)>& compute,
           Callback<Ptr> cb) {
    uint64_t now_ms = uv_hrtime() / 1000000;
    if (value_ && generation == generation_ && now_ms - taken_ms_ < fresh_ms) return cb(value_);
    waiting_.push_back(std::move(cb));
    if (computing_) return;
    computing_ = true;
    compute([this, now_ms, generation](std::expected<T, Error> result) {
      computing_ = false;
      auto waiting = std::move(waiting_);
      waiting_.clear();
      if (!result) {
        for (auto& w : waiting) w(std::unexpected(result.error()));
        return;
      }
      value_ = std::make_shared<const T>(std::move(*result));
      taken_ms_ = now_ms;
      generation_ = generation;
      for (auto& w : waiting) w(value_);
    });
  }

 private:
  Ptr value_;
  uint64_t taken_ms_ = 0;    // steady clock, when the computation of value_ started
  uint64_t generation_ = 0;  // the generation it was started at
  bool computing_ = false;
  std::vector<Callback<Ptr>> waiting_;
};

}  // namespace bloomcast::orders
