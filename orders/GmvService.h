#pragma once
// GmvService: the numbers of GET /api/gmv and of the dashboard tick — campaign totals,
// per-stream and per-factory leaderboards and a per-minute series — summed over the streams'
// counters at read time (no global counter is written by the order script, see Keys.h).
//
// Cost of one snapshot: 1 ZRANGE + 2 commands per stream (meta, counters) + 1 HMGET of
// `minutes` minute fields (m:UNIX_MINUTE of the stats hash) per stream + 1 per factory, all
// pipelined. With 2,000 streams a 180-minute one cost ~110 ms of bloomcast's CPU and 70 ms of
// Redis's, a 1,440-minute one ~1 s and 340 ms (session 16), and GET /api/gmv is public. So a
// campaign-wide snapshot is shared: each node computes one per series length class (1, 5, 15,
// 30, 60, 180, 360, 720 or 1,440 minutes, the asked length rounded up) at most every
// 0.9 s x max(1, class / 60) — 0.9 s up to an hour, 21.6 s for a day — and every request and
// dashboard tick in between, or waiting while it is computed, is answered from it (the answer
// shows the last `minutes` of its series). Its `at` says when it was taken. What any number of
// requests can cost a node is bounded: ~0.35 s of CPU a second at 2,000 streams if every class
// is asked for all the time. One stream's snapshot is not shared (its cost is one stream's).
//
// Thread: loop thread. Owned by OrdersModule; destroy after the RedisClient is closed.
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "infra/RedisClient.h"
#include "orders/Catalog.h"
#include "orders/SharedResult.h"

namespace bloomcast::orders {

struct GmvTotals {
  int64_t gmv_cents = 0;
  int64_t orders = 0;
  int64_t units = 0;
};

struct GmvSnapshot {
  GmvTotals total;
  std::vector<StreamInfo> streams;  // by GMV, highest first
  struct Factory {
    std::string id;
    std::string name;
    GmvTotals total;
    int64_t streams = 0;
  };
  std::vector<Factory> factories;  // by GMV, highest first
  struct Minute {
    int64_t start_ms = 0;
    GmvTotals total;
  };
  std::vector<Minute> series;  // oldest first, one per minute, the last is the current minute
  struct ProductGmv {
    std::string sku;
    int64_t gmv_cents = 0;
  };
  std::vector<ProductGmv> products;  // only for one stream: its top products
  bool one_stream = false;
  int64_t at_ms = 0;
};

class GmvService {
 public:
  static constexpr int64_t kMaxMinutes = 24 * 60;

  // shared_ms: how long a campaign-wide snapshot of up to an hour's series is used (longer
  // series: in proportion).
  GmvService(RedisClient& redis, Catalog& catalog, uint64_t shared_ms = kSharedMs);
  static constexpr uint64_t kSharedMs = 900;

  using Shared = SharedResult<GmvSnapshot>::Ptr;

  // stream_id "": the whole campaign (shared, see above: its series may be longer than asked).
  // minutes: length of the series (1..kMaxMinutes).
  void snapshot(const std::string& stream_id, int64_t minutes, int64_t now_ms, Callback<Shared> cb);

  // `max_streams`: the first (highest GMV) streams listed; the totals count them all.
  // `last_minutes`: the end of the series shown.
  static nlohmann::json toJson(const GmvSnapshot& s, std::size_t max_streams = SIZE_MAX,
                               std::size_t last_minutes = SIZE_MAX);

  // The series length class a campaign-wide snapshot of `minutes` is computed for, and how
  // long (ms) one stays in use.
  static int64_t seriesClass(int64_t minutes);
  uint64_t sharedForMs(int64_t series_class) const;

 private:
  void withStreams(std::vector<StreamInfo> streams, bool one_stream, int64_t minutes,
                   int64_t now_ms, Callback<GmvSnapshot> cb);

  RedisClient& redis_;
  Catalog& catalog_;
  uint64_t shared_ms_;
  std::map<int64_t, SharedResult<GmvSnapshot>> campaign_;  // by series length class
};

}  // namespace bloomcast::orders
