#include "orders/GmvService.h"

#include <algorithm>
#include <map>
#include <span>
#include <nlohmann/json.hpp>

#include "orders/Keys.h"

namespace bloomcast::orders {
namespace {

constexpr int64_t kMinuteMs = 60000;
constexpr int kTopProducts = 20;

// "GMV UNITS ORDERS" -> totals (zeros when absent or malformed).
GmvTotals parseMinute(const RedisReply& r) {
  GmvTotals t;
  if (r.type != RedisReply::Type::String) return t;
  const char* p = r.str.data();
  const char* end = p + r.str.size();
  int64_t* fields[] = {&t.gmv_cents, &t.units, &t.orders};
  for (auto* f : fields) {
    auto [next, ec] = std::from_chars(p, end, *f);
    if (ec != std::errc()) return GmvTotals{};
    p = next < end ? next + 1 : next;
  }
  return t;
}

void add(GmvTotals& into, const GmvTotals& t) {
  into.gmv_cents += t.gmv_cents;
  into.orders += t.orders;
  into.units += t.units;
}

nlohmann::json totalsJson(const GmvTotals& t) {
  return {{"gmv_cents", t.gmv_cents}, {"orders", t.orders}, {"units", t.units}};
}

}  // namespace

GmvService::GmvService(RedisClient& redis, Catalog& catalog, uint64_t shared_ms)
    : redis_(redis), catalog_(catalog), shared_ms_(shared_ms) {}

int64_t GmvService::seriesClass(int64_t minutes) {
  for (int64_t c : {1, 5, 15, 30, 60, 180, 360, 720})
    if (minutes <= c) return c;
  return kMaxMinutes;
}

uint64_t GmvService::sharedForMs(int64_t series_class) const {
  return shared_ms_ * static_cast<uint64_t>(std::max<int64_t>(1, series_class / 60));
}

void GmvService::snapshot(const std::string& stream_id, int64_t minutes, int64_t now_ms,
                          Callback<Shared> cb) {
  minutes = std::clamp<int64_t>(minutes, 1, kMaxMinutes);
  if (!stream_id.empty()) {
    catalog_.getStream(stream_id, [this, minutes, now_ms, cb = std::move(cb)](auto stream) mutable {
      if (!stream) return cb(std::unexpected(stream.error()));
      std::vector<StreamInfo> one{std::move(*stream)};
      withStreams(std::move(one), true, minutes, now_ms, [cb = std::move(cb)](auto snap) {
        if (!snap) return cb(std::unexpected(snap.error()));
        cb(std::make_shared<const GmvSnapshot>(std::move(*snap)));
      });
    });
    return;
  }
  int64_t series_class = seriesClass(minutes);
  auto compute = [this, series_class, now_ms](Callback<GmvSnapshot> done) {
    catalog_.listStreams([this, series_class, now_ms, done = std::move(done)](auto streams) mutable {
      if (!streams) return done(std::unexpected(streams.error()));
      withStreams(std::move(*streams), false, series_class, now_ms, std::move(done));
    });
  };
  campaign_[series_class].get(sharedForMs(series_class), catalog_.generation(), compute, std::move(cb));
}

void GmvService::withStreams(std::vector<StreamInfo> streams, bool one_stream, int64_t minutes,
                             int64_t now_ms, Callback<GmvSnapshot> cb) {
  int64_t last_minute = now_ms / kMinuteMs;
  int64_t first_minute = last_minute - minutes + 1;
  std::vector<std::vector<std::string>> cmds;
  cmds.reserve(streams.size() + 2);
  for (const auto& s : streams) {
    std::vector<std::string> hmget{"HMGET", keys::stats(s.id)};
    hmget.reserve(2 + static_cast<std::size_t>(minutes));
    for (int64_t m = first_minute; m <= last_minute; ++m) hmget.push_back(keys::minuteField(m));
    cmds.push_back(std::move(hmget));
  }
  if (one_stream)
    cmds.push_back({"ZREVRANGE", keys::leaderboard(streams[0].id), "0",
                    std::to_string(kTopProducts - 1), "WITHSCORES"});
  runBatch(redis_, std::move(cmds),
           [this, streams = std::move(streams), one_stream, first_minute, minutes, now_ms,
            cb = std::move(cb)](auto replies) mutable {
             if (!replies) return cb(std::unexpected(replies.error()));
             GmvSnapshot snap;
             snap.at_ms = now_ms;
             snap.one_stream = one_stream;
             snap.series.resize(static_cast<std::size_t>(minutes));
             for (int64_t i = 0; i < minutes; ++i)
               snap.series[static_cast<std::size_t>(i)].start_ms = (first_minute + i) * kMinuteMs;
             for (std::size_t s = 0; s < streams.size(); ++s) {
               const auto& per_minute = (*replies)[s];
               for (std::size_t i = 0; i < snap.series.size(); ++i)
                 add(snap.series[i].total, parseMinute(element(per_minute, i)));
               add(snap.total, GmvTotals{streams[s].gmv_cents, streams[s].orders, streams[s].units});
             }
             if (one_stream) {
               const auto& lb = replies->back();
               for (std::size_t i = 0; i + 1 < lb.elements.size(); i += 2) {
                 int64_t gmv = 0;
                 // Scores are whole cents kept exactly by the double (< 2^53).
                 gmv = static_cast<int64_t>(std::strtod(lb.elements[i + 1].str.c_str(), nullptr));
                 snap.products.push_back({lb.elements[i].str, gmv});
               }
             }
             std::stable_sort(streams.begin(), streams.end(),
                              [](const auto& a, const auto& b) { return a.gmv_cents > b.gmv_cents; });
             snap.streams = std::move(streams);
             catalog_.listFactories([snap = std::move(snap), cb = std::move(cb)](auto factories) mutable {
               if (!factories) return cb(std::unexpected(factories.error()));
               std::map<std::string, GmvSnapshot::Factory> by_id;
               for (const auto& f : *factories) by_id[f.id] = GmvSnapshot::Factory{f.id, f.name, {}, 0};
               for (const auto& s : snap.streams) {
                 auto it = by_id.find(s.factory_id);
                 if (it == by_id.end()) continue;
                 add(it->second.total, GmvTotals{s.gmv_cents, s.orders, s.units});
                 ++it->second.streams;
               }
               for (auto& [id, f] : by_id)
                 if (f.streams > 0) snap.factories.push_back(std::move(f));
               std::stable_sort(snap.factories.begin(), snap.factories.end(),
                                [](const auto& a, const auto& b) { return a.total.gmv_cents > b.total.gmv_cents; });
               cb(std::move(snap));
             });
           });
}

nlohmann::json GmvService::toJson(const GmvSnapshot& s, std::size_t max_streams,
                                  std::size_t last_minutes) {
  nlohmann::json j = totalsJson(s.total);
  j["total_cents"] = s.total.gmv_cents;
  j["at"] = s.at_ms;
  auto& streams = j["streams"] = nlohmann::json::array();
  for (const auto& st : std::span(s.streams).first(std::min(max_streams, s.streams.size())))
    streams.push_back({{"id", st.id},
                       {"title", st.title},
                       {"factory_id", st.factory_id},
                       {"status", st.status},
                       {"gmv_cents", st.gmv_cents},
                       {"orders", st.orders},
                       {"units", st.units}});
  auto& factories = j["factories"] = nlohmann::json::array();
  for (const auto& f : s.factories) {
    auto fj = totalsJson(f.total);
    fj["id"] = f.id;
    fj["name"] = f.name;
    fj["streams"] = f.streams;
    factories.push_back(std::move(fj));
  }
  auto& series = j["series"] = nlohmann::json::array();
  for (const auto& m : std::span(s.series).last(std::min(last_minutes, s.series.size()))) {
    auto mj = totalsJson(m.total);
    mj["t"] = m.start_ms;
    series.push_back(std::move(mj));
  }
  if (s.one_stream) {
    auto& products = j["products"] = nlohmann::json::array();
    for (const auto& p : s.products) products.push_back({{"sku", p.sku}, {"gmv_cents", p.gmv_cents}});
  }
  return j;
}

}  // namespace bloomcast::orders
