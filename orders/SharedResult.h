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
// SharedResults: the same per key — a stream's public reads (GET /api/streams/:id, its
// products, its timeline), which every viewer in a room polls, so a full room during a flash sale
// would otherwise ask Redis thousands of times a second for what changes at most a few times.
//
// Thread: loop thread. The compute function's callback must not outlive the SharedResult's owner.
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "orders/StoreReplies.h"

namespace bloomcast::orders {

template <class T>
class SharedResult {
 public:
  using Ptr = std::shared_ptr<const T>;

  // Answers `cb` with the value taken less than `fresh_ms` ago at this `generation`, or with the
  // next one `compute` (a void(Callback<T>) callable) produces, started now unless one is under
  // way. A template: a shared answer costs no std::function of `compute`.
  template <class Compute>
  void get(uint64_t fresh_ms, uint64_t generation, Compute&& compute, Callback<Ptr> cb) {
    uint64_t now_ms = nowMs();
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

  // Nothing is being computed and there is no value younger than `fresh_ms`: dropping this
  // loses nothing.
  bool idle(uint64_t fresh_ms) const { return !computing_ && (!value_ || nowMs() - taken_ms_ >= fresh_ms); }

 private:
  static uint64_t nowMs() { return uv_hrtime() / 1000000; }

  Ptr value_;
  uint64_t taken_ms_ = 0;    // steady clock, when the computation of value_ started
  uint64_t generation_ = 0;  // the generation it was started at
  bool computing_ = false;
  std::vector<Callback<Ptr>> waiting_;
};

template <class T>
class SharedResults {
 public:
  using Ptr = typename SharedResult<T>::Ptr;

  // Keys come from URLs, so anyone can make new ones: at most `max_keys` are kept. When a new key
  // finds the map full, the idle entries are dropped (SharedResult::idle: unknown ids, whose
  // computation failed, and answers past fresh_ms) — a pass over the map at most once per
  // `max_keys` new keys; a key that still finds no room is computed for itself, unshared.
  explicit SharedResults(std::size_t max_keys) : max_keys_(max_keys) {}

  template <class Compute>
  void get(const std::string& key, uint64_t fresh_ms, uint64_t generation, Compute&& compute,
           Callback<Ptr> cb) {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      if (entries_.size() >= max_keys_)
        std::erase_if(entries_, [fresh_ms](const auto& e) { return e.second.idle(fresh_ms); });
      if (entries_.size() >= max_keys_) {
        compute([cb = std::move(cb)](std::expected<T, Error> result) {
          if (!result) return cb(std::unexpected(result.error()));
          cb(std::make_shared<const T>(std::move(*result)));
        });
        return;
      }
      // unordered_map nodes do not move: a computation under way keeps its entry's address.
      it = entries_.try_emplace(key).first;
    }
    it->second.get(fresh_ms, generation, std::forward<Compute>(compute), std::move(cb));
  }

  std::size_t size() const { return entries_.size(); }

 private:
  std::size_t max_keys_;
  std::unordered_map<std::string, SharedResult<T>> entries_;
};

}  // namespace bloomcast::orders
