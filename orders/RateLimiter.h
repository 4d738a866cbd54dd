#pragma once
// RateLimiter: token buckets keyed by a string (a session's user id, a client IP), in memory on
// one node. With N nodes behind a balancer a client gets at most N times the rate, which is
// acceptable for abuse control (the order script, not this, protects stock).
//
// Each key may spend `burst` requests at once and regains `rate_per_s` per second. Memory is
// bounded: buckets that have refilled are forgotten by sweep(), and when max_keys is reached
// the full ones are dropped at once; if every bucket is still in use, new keys pass unlimited
// (fail open) rather than being refused for others' traffic.
//
// Thread: loop thread. Owned by OrdersApi.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace bloomcast::orders {

struct RateLimit {
  double rate_per_s = 10;
  double burst = 20;
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimit limit, std::size_t max_keys = 100000);

  // Takes one token from `key`'s bucket; false when it is empty. now_ms: a monotonic clock.
  bool allow(std::string_view key, uint64_t now_ms);
  // Forgets buckets that are full again (idle keys).
  void sweep(uint64_t now_ms);
  std::size_t size() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens;
    uint64_t updated_ms;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  double refill(Bucket& b, uint64_t now_ms) const;

  RateLimit limit_;
  std::size_t max_keys_;
  std::unordered_map<std::string, Bucket, Hash, std::equal_to<>> buckets_;
};

}  // namespace bloomcast::orders
