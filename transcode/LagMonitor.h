#pragma once
// LagMonitor: decides when a pipeline has fallen behind live for long enough that the ladder
// must shrink. The lag is how long ago the packet just written arrived from the publisher.
//
// Drop a rung when the lag has stayed above max_lag_ms for patience_ms; after a drop, drop
// another only when another patience_ms has passed and the lag has not come down since the
// last drop (a pipeline that is catching up is left to catch up).
//
// Pure: the caller passes the time. Thread: the pipeline's worker.
#include <cstdint>

namespace bloomcast::transcode {

class LagMonitor {
 public:
  LagMonitor(int64_t max_lag_ms, int64_t patience_ms)
      : max_lag_ms_(max_lag_ms), patience_ms_(patience_ms) {}

  // Records the lag seen at now_ms (a steady clock). True: drop the most costly rung now.
  bool observe(int64_t now_ms, int64_t lag_ms) {
    last_lag_ms_ = lag_ms;
    if (lag_ms <= max_lag_ms_) {
      behind_since_ms_ = -1;
      return false;
    }
    if (behind_since_ms_ < 0) behind_since_ms_ = now_ms;
    if (now_ms - behind_since_ms_ < patience_ms_) return false;
    if (dropped_ && (now_ms - last_drop_ms_ < patience_ms_ || lag_ms < lag_at_drop_ms_)) return false;
    dropped_ = true;
    last_drop_ms_ = now_ms;
    lag_at_drop_ms_ = lag_ms;
    behind_since_ms_ = now_ms;
    return true;
  }

  int64_t lastLagMs() const { return last_lag_ms_; }

 private:
  int64_t max_lag_ms_;
  int64_t patience_ms_;
  int64_t behind_since_ms_ = -1;
  bool dropped_ = false;
  int64_t last_drop_ms_ = 0;
  int64_t lag_at_drop_ms_ = 0;
  int64_t last_lag_ms_ = 0;
};

}  // namespace bloomcast::transcode
