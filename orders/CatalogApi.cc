#include "orders/CatalogApi.h"

#include <chrono>

#include "infra/Crypto.h"
#include "orders/Keys.h"

namespace bloomcast::orders {
namespace {

uint64_t monotonicMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// Shorthand: answer an Error and stop.
#define BC_TRY(var, expr)                                   \
  auto var = (expr);                                        \
  if (!var) {                                               \
    r.send(api::errorResponse(var.error()));                \
    return;                                                 \
  }

// Answers a shared body (SharedResult) as it is — copied into the answer as it goes out, not
// into a response of its own first — or the error it came with.
Callback<SharedResult<std::string>::Ptr> sharedBodySender(const HttpResponder& r) {
  return [r](std::expected<SharedResult<std::string>::Ptr, Error> body) {
    if (!body) return r.send(api::errorResponse(body.error()));
    r.sendJson(200, **body);
  };
}

}  // namespace

CatalogApi::CatalogApi(HttpServer& http, Catalog& catalog, const Sessions& sessions,
                       CatalogApiOptions options)
    : catalog_(catalog),
      sessions_(sessions),
      options_(std::move(options)),
      sessions_per_ip_(options_.sessions_per_ip),
      stream_bodies_(options_.max_shared_streams),
      product_bodies_(options_.max_shared_streams),
      timeline_bodies_(options_.max_shared_streams) {
  auto bind = [this](void (CatalogApi::*fn)(HttpRequest&, HttpResponder)) {
    return [this, fn](HttpRequest& req, HttpResponder r) { (this->*fn)(req, std::move(r)); };
  };
  http.route("POST", "/api/factories", bind(&CatalogApi::createFactory));
  http.route("GET", "/api/factories", bind(&CatalogApi::listFactories));
  http.route("POST", "/api/streams", bind(&CatalogApi::createStream));
  http.route("GET", "/api/streams", bind(&CatalogApi::listStreams));
  http.route("GET", "/api/streams/:id", bind(&CatalogApi::getStream));
  http.route("POST", "/api/streams/:id/key", bind(&CatalogApi::rotateKey));
  http.route("POST", "/api/streams/:id/status", bind(&CatalogApi::setStatus));
  http.route("POST", "/api/streams/:id/products", bind(&CatalogApi::createProduct));
  http.route("GET", "/api/streams/:id/products", bind(&CatalogApi::listProducts));
  http.route("PATCH", "/api/streams/:id/products/:sku", bind(&CatalogApi::updateProduct));
  http.route("POST", "/api/streams/:id/pin", bind(&CatalogApi::pin));
  http.route("DELETE", "/api/streams/:id/pin", bind(&CatalogApi::unpin));
  http.route("GET", "/api/streams/:id/timeline", bind(&CatalogApi::timeline));
  http.route("POST", "/api/sessions", bind(&CatalogApi::createSession));
}

nlohmann::json CatalogApi::streamJson(const StreamInfo& s) const {
  std::string base = options_.public_base ? options_.public_base() : "";
  nlohmann::json j = {{"id", s.id},
                      {"factory_id", s.factory_id},
                      {"title", s.title},
                      {"status", s.status},
                      {"created_at", s.created_ms},
                      {"gmv_cents", s.gmv_cents},
                      {"orders", s.orders},
                      {"units", s.units},
                      {"viewers", s.viewers},
                      {"likes", s.likes},
                      {"hls_url", base + "/hls/" + s.id + "/master.m3u8"},
                      {"page_url", base + "/live/" + s.id}};
  if (s.pinned_sku.empty()) {
    j["pinned"] = nullptr;
  } else {
    j["pinned"] = {{"sku", s.pinned_sku},
                   {"flash_sale_ends_at",
                    s.pinned_ends_at_ms > 0 ? nlohmann::json(s.pinned_ends_at_ms) : nlohmann::json()}};
  }
  return j;
}

nlohmann::json CatalogApi::productJson(const Product& p) {
  nlohmann::json j = {{"sku", p.sku},
                      {"title", p.title},
                      {"price_cents", p.price_cents},
                      {"stock", p.stock},
                      {"limit_per_buyer", p.limit_per_buyer}};
  j["image_url"] = p.image_url.empty() ? nlohmann::json() : nlohmann::json(p.image_url);
  return j;
}

void CatalogApi::withPrincipal(const HttpRequest& req, const HttpResponder& r,
                               std::function<void(Principal)> then) {
  catalog_.authenticate(std::string(req.bearerToken()), options_.clock() / 1000,
                        [r, then = std::move(then)](std::expected<Principal, Error> p) {
                          if (!p) return r.send(api::errorResponse(p.error()));
                          then(std::move(*p));
                        });
}

void CatalogApi::withManagedStream(const HttpRequest& req, const HttpResponder& r,
                                   std::function<void(Principal, StreamInfo)> then) {
  std::string id = req.params.at("id");
  withPrincipal(req, r, [this, id, r, then = std::move(then)](Principal who) {
    catalog_.authorizeStream(who, id, [who, r, then](std::expected<StreamInfo, Error> s) {
      if (!s) return r.send(api::errorResponse(s.error()));
      then(who, std::move(*s));
    });
  });
}

// ---- factories -------------------------------------------------------------------------------

void CatalogApi::createFactory(HttpRequest& req, HttpResponder r) {
  BC_TRY(body, api::decodeFactoryBody(req.body));
  withPrincipal(req, r, [this, r, name = body->name](Principal who) {
    if (who.role != Role::Organizer)
      return r.send(api::errorResponse(Error{"forbidden", "needs the organizer's token"}));
    catalog_.createFactory(name, options_.clock(), [r, name](std::expected<IdAndSecret, Error> f) {
      if (!f) return r.send(api::errorResponse(f.error()));
      r.send(HttpResponse::json(201, {{"id", f->id}, {"name", name}, {"token", f->secret}}));
    });
  });
}

void CatalogApi::listFactories(HttpRequest& req, HttpResponder r) {
  withPrincipal(req, r, [this, r](Principal who) {
    if (who.role != Role::Organizer)
      return r.send(api::errorResponse(Error{"forbidden", "needs the organizer's token"}));
    catalog_.listFactories([r](std::expected<std::vector<FactoryInfo>, Error> list) {
      if (!list) return r.send(api::errorResponse(list.error()));
      auto out = nlohmann::json::array();
      for (const auto& f : *list) out.push_back({{"id", f.id}, {"name", f.name}});
      r.send(HttpResponse::json(200, {{"factories", out}}));
    });
  });
}

// ---- streams ---------------------------------------------------------------------------------

void CatalogApi::createStream(HttpRequest& req, HttpResponder r) {
  BC_TRY(body, api::decodeStreamBody(req.body));
  withPrincipal(req, r, [this, r, title = body->title, factory_id = body->factory_id](Principal who) {
    std::string fid = factory_id.value_or("");
    if (who.role == Role::Buyer)
      return r.send(api::errorResponse(Error{"forbidden", "needs the organizer's or a factory's token"}));
    if (who.role == Role::Factory) {
      if (fid.empty()) fid = who.factory_id;
      if (fid != who.factory_id)
        return r.send(api::errorResponse(Error{"forbidden", "a factory creates only its own streams"}));
    }
    if (fid.empty())
      return r.send(api::errorResponse(Error{"invalid_argument", "factory_id is required"}));
    catalog_.createStream(fid, title, options_.clock(),
                          [this, r, fid, title](std::expected<IdAndSecret, Error> s) {
                            if (!s) return r.send(api::errorResponse(s.error()));
                            StreamInfo info;
                            info.id = s->id;
                            info.factory_id = fid;
                            info.title = title;
                            info.status = "offline";
                            auto j = streamJson(info);
                            j["stream_key"] = s->secret;
                            j["rtmp_url"] = (options_.rtmp_base ? options_.rtmp_base() : "") + s->secret;
                            r.send(HttpResponse::json(201, j));
                          });
  });
}

void CatalogApi::listStreams(HttpRequest&, HttpResponder r) {
  // Every viewer's home page asks for this, every 10 s: one list per node at a time.
  auto compute = [this](Callback<std::string> done) {
    catalog_.listStreams([this, done = std::move(done)](std::expected<std::vector<StreamInfo>, Error> list) {
      if (!list) return done(std::unexpected(list.error()));
      auto out = nlohmann::json::array();
      for (const auto& s : *list) out.push_back(streamJson(s));
      done(HttpResponse::json(200, {{"streams", out}}).body);
    });
  };
  stream_list_.get(options_.list_shared_ms, catalog_.generation(), compute, sharedBodySender(r));
}

// Every viewer of a stream polls it (live.js: every 5 s): one answer per stream and node at a
// time, as for the products and the timeline below.
void CatalogApi::getStream(HttpRequest& req, HttpResponder r) {
  const std::string& id = req.params.at("id");
  auto compute = [this, &id](Callback<std::string> done) {  // runs inside get() or not at all
    catalog_.getStream(id, [this, done = std::move(done)](std::expected<StreamInfo, Error> s) {
      if (!s) return done(std::unexpected(s.error()));
      done(HttpResponse::json(200, streamJson(*s)).body);
    });
  };
  stream_bodies_.get(id, options_.stream_shared_ms, catalog_.generation(), compute, sharedBodySender(r));
}

void CatalogApi::rotateKey(HttpRequest& req, HttpResponder r) {
  withManagedStream(req, r, [this, r](Principal, StreamInfo s) {
    catalog_.rotateStreamKey(s.id, [this, r, id = s.id](std::expected<std::string, Error> key) {
      if (!key) return r.send(api::errorResponse(key.error()));
      r.send(HttpResponse::json(
          200, {{"id", id},
                {"stream_key", *key},
                {"rtmp_url", (options_.rtmp_base ? options_.rtmp_base() : "") + *key}}));
    });
  });
}

void CatalogApi::setStatus(HttpRequest& req, HttpResponder r) {
  BC_TRY(body, api::decodeStreamStatusBody(req.body));
  withManagedStream(req, r, [this, r, st = body->status](Principal, StreamInfo s) {
    catalog_.setStreamStatus(s.id, st, [this, r, s, st](std::expected<bool, Error> ok) mutable {
      if (!ok) return r.send(api::errorResponse(ok.error()));
      s.status = st;
      r.send(HttpResponse::json(200, streamJson(s)));
    });
  });
}

// ---- products --------------------------------------------------------------------------------

void CatalogApi::createProduct(HttpRequest& req, HttpResponder r) {
  BC_TRY(product, api::decodeProductBody(req.body));
  withManagedStream(req, r, [this, r, p = *product](Principal, StreamInfo s) {
    catalog_.createProduct(s.id, p, options_.clock(), [r](std::expected<Product, Error> made) {
      if (!made) return r.send(api::errorResponse(made.error()));
      r.send(HttpResponse::json(201, productJson(*made)));
    });
  });
}

void CatalogApi::listProducts(HttpRequest& req, HttpResponder r) {
  const std::string& id = req.params.at("id");
  auto compute = [this, &id](Callback<std::string> done) {  // runs inside get() or not at all
    // "at": when the answer was taken, so that a page can tell it from the newer stock the room
    // heard of since (live.js keeps the stock of an order or change announced after it).
    int64_t at_ms = options_.clock();
    catalog_.listProducts(id, [done = std::move(done), at_ms](std::expected<std::vector<Product>, Error> list) {
      if (!list) return done(std::unexpected(list.error()));
      auto out = nlohmann::json::array();
      for (const auto& p : *list) out.push_back(productJson(p));
      done(HttpResponse::json(200, {{"products", out}, {"at", at_ms}}).body);
    });
  };
  product_bodies_.get(id, options_.stream_shared_ms, catalog_.generation(), compute, sharedBodySender(r));
}

// Validated as createProduct validates; only the fields present change. `stock` sets the units
// left (orders already placed keep theirs).
void CatalogApi::updateProduct(HttpRequest& req, HttpResponder r) {
  std::string sku = req.params.at("sku");
  BC_TRY(changes, api::decodeProductChanges(req.body, sku));
  withManagedStream(req, r, [this, r, sku, changes = *changes](Principal, StreamInfo s) {
    catalog_.updateProduct(s.id, sku, changes, options_.clock(), [r](std::expected<std::string, Error> frame) {
      if (!frame) return r.send(api::errorResponse(frame.error()));
      auto j = nlohmann::json::parse(*frame, nullptr, false);
      r.send(HttpResponse::json(200, j.is_object() ? j["product"] : nlohmann::json()));
    });
  });
}

void CatalogApi::unpin(HttpRequest& req, HttpResponder r) {
  withManagedStream(req, r, [this, r](Principal, StreamInfo s) {
    catalog_.unpin(s.id, options_.clock(), [r](std::expected<std::string, Error> frame) {
      if (!frame) return r.send(api::errorResponse(frame.error()));
      r.send(HttpResponse::json(200, {{"pinned", nullptr}}));
    });
  });
}

void CatalogApi::timeline(HttpRequest& req, HttpResponder r) {
  const std::string& id = req.params.at("id");
  auto compute = [this, &id](Callback<std::string> done) {  // runs inside get() or not at all
    catalog_.timeline(id, [done = std::move(done)](std::expected<std::vector<TimelineEvent>, Error> list) {
      if (!list) return done(std::unexpected(list.error()));
      auto out = nlohmann::json::array();
      for (const auto& e : *list) {
        auto frame = nlohmann::json::parse(e.frame, nullptr, false);
        out.push_back({{"type", e.type},
                       {"ts", e.ts_ms},
                       {"product", frame.is_object() && frame.contains("product") ? frame["product"] : nlohmann::json()}});
      }
      done(HttpResponse::json(200, {{"events", out}}).body);
    });
  };
  timeline_bodies_.get(id, options_.stream_shared_ms, catalog_.generation(), compute, sharedBodySender(r));
}

void CatalogApi::pin(HttpRequest& req, HttpResponder r) {
  BC_TRY(body, api::decodePinBody(req.body, options_.clock()));
  withManagedStream(req, r, [this, r, sku = body->sku, ends = body->ends_at_ms](Principal, StreamInfo s) {
    catalog_.pin(s.id, sku, ends, options_.clock(), [r](std::expected<std::string, Error> frame) {
      if (!frame) return r.send(api::errorResponse(frame.error()));
      auto j = nlohmann::json::parse(*frame, nullptr, false);
      r.send(HttpResponse::json(200, {{"pinned", j.is_object() ? j["product"] : nlohmann::json()}}));
    });
  });
}

// ---- sessions --------------------------------------------------------------------------------

void CatalogApi::createSession(HttpRequest& req, HttpResponder r) {
  if (options_.rate_limits && !sessions_per_ip_.allow(addressKey(req.remote_ip), monotonicMs())) {
    r.send(api::errorResponse(Error{"rate_limited", "too many new sessions from this address"}));
    return;
  }
  BC_TRY(body, api::decodeSessionBody(req.body));
  Session s;
  s.user_id = randomHex(8);
  s.name = body->name.empty() ? "观众" + s.user_id.substr(0, 4) : body->name;
  s.issued_s = options_.clock() / 1000;
  r.send(HttpResponse::json(201, {{"token", sessions_.issue(s)}, {"user", s.name}, {"user_id", s.user_id}}));
}

}  // namespace bloomcast::orders
