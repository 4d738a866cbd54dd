#include "orders/RateLimiter.h"

#include <algorithm>

namespace bloomcast::orders {

RateLimiter::RateLimiter(RateLimit limit, std::size_t max_keys)
    : limit_(limit), max_keys_(max_keys) {}

double RateLimiter::refill(Bucket& b, uint64_t now_ms) const {
  if (now_ms > b.updated_ms) {
    b.tokens = std::min(limit_.burst,
                        b.tokens + static_cast<double>(now_ms - b.updated_ms) * limit_.rate_per_s / 1000.0);
    b.updated_ms = now_ms;
  }
  return b.tokens;
}

bool RateLimiter::allow(std::string_view key, uint64_t now_ms) {
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) {
      sweep(now_ms);
      if (buckets_.size() >= max_keys_) return true;
    }
    it = buckets_.emplace(std::string(key), Bucket{limit_.burst, now_ms}).first;
  }
  if (refill(it->second, now_ms) < 1.0) return false;
  it->second.tokens -= 1.0;
  return true;
}

void RateLimiter::sweep(uint64_t now_ms) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if (refill(it->second, now_ms) >= limit_.burst) it = buckets_.erase(it);
    else ++it;
  }
}

}  // namespace bloomcast::orders
