#pragma once
// GmvService: the numbers of GET /api/gmv and of the dashboard tick — campaign totals,
// per-stream and per-factory leaderboards and a per-minute series — summed over the streams'
// counters at read time (no global counter is written by the order script, see Keys.h).
//
// Cost of one snapshot: 1 ZRANGE + 2 commands per stream (meta, counters) + 1 HMGET of
// `minutes` minute fields (m:UNIX_MINUTE of the stats hash) per stream + 1 per factory, all
// pipelined.
//
// Thread: loop thread. Owned by OrdersModule; destroy after the RedisClient is closed.
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "infra/RedisClient.h"
#include "orders/Catalog.h"

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

  GmvService(RedisClient& redis, Catalog& catalog);

  // stream_id "": the whole campaign. minutes: length of the series (1..kMaxMinutes).
  void snapshot(const std::string& stream_id, int64_t minutes, int64_t now_ms,
                Callback<GmvSnapshot> cb);

  static nlohmann::json toJson(const GmvSnapshot& s);

 private:
  void withStreams(std::vector<StreamInfo> streams, bool one_stream, int64_t minutes,
                   int64_t now_ms, Callback<GmvSnapshot> cb);

  RedisClient& redis_;
  Catalog& catalog_;
};

}  // namespace bloomcast::orders
