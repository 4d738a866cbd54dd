#pragma once
// ApiBodies: the JSON request bodies of the orders part's HTTP API, decoded. One decoder per
// body; each takes the body text (and what else it is checked against) and answers the
// validated values or the Error the handler sends back. The handlers (CatalogApi, OrdersApi)
// call these and nothing else to read a body; tests/fuzz/fuzz_api_body.cc fuzzes them.
//
// Errors: bad_json (not a JSON object), invalid_argument (a field missing, of the wrong type
// or out of range; the message names it), idempotency_key_required, and stream_not_found /
// product_not_found where an id or SKU cannot name anything. Fields are checked in the order
// listed in each body, so one body always gets the same error.
//
// Pure functions of bytes: no sockets, clocks (now_ms is a parameter) or HTTP types, and they
// link only nlohmann-json, so the fuzz build (clang) compiles them. Thread-safe.
#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "infra/Error.h"
#include "orders/ApiFields.h"
#include "orders/Product.h"

namespace bloomcast::orders::api {

inline constexpr std::size_t kMaxIdBytes = 18;  // stream and factory ids (keys::isValidId)
inline constexpr std::size_t kMaxSkuBytes = 64;
inline constexpr std::size_t kMaxFactoryNameBytes = 200;
inline constexpr std::size_t kMaxTitleBytes = 400;  // streams and products
inline constexpr std::size_t kMaxImageUrlBytes = 2048;
inline constexpr std::size_t kMaxStatusBytes = 16;
inline constexpr int64_t kMaxPriceCents = 10'000'000'000;  // 100 million yuan
inline constexpr int64_t kMaxStock = 1'000'000'000;
inline constexpr int64_t kMaxLimitPerBuyer = 1'000'000;
inline constexpr int64_t kMaxFlashSaleMs = 7LL * 24 * 3600 * 1000;  // a pin's sale ends within
inline constexpr int64_t kMaxOrderQty = 999;  // OrderService::kMaxQty (asserted in OrdersApi.cc)

// POST /api/orders {"stream","sku","qty","idempotency_key"}: stream an id (else
// stream_not_found), sku a SKU (else product_not_found), qty 1..999, idempotency_key 1..64
// printable ASCII (missing: idempotency_key_required). The strings are views into `body`, or
// into `fields` when an escape needed nlohmann's parser: valid while both are.
struct OrderBody {
  std::string_view stream_id;
  std::string_view sku;
  int64_t qty = 1;
  std::string_view idempotency_key;
};
using OrderFields = std::array<ScalarField, 4>;
std::expected<OrderBody, Error> decodeOrderBody(const std::string& body, OrderFields& fields);

// POST /api/factories {"name"}: 1..200 bytes of plain text.
struct FactoryBody {
  std::string name;
};
std::expected<FactoryBody, Error> decodeFactoryBody(const std::string& body);

// POST /api/streams {"title","factory_id"?}: title 1..400 bytes of plain text, factory_id
// 1..18 bytes (whose it may be is the caller's question).
struct StreamBody {
  std::string title;
  std::optional<std::string> factory_id;
};
std::expected<StreamBody, Error> decodeStreamBody(const std::string& body);

// POST /api/streams/ID/status {"status"}: offline, live or ended.
struct StreamStatusBody {
  std::string status;
};
std::expected<StreamStatusBody, Error> decodeStreamStatusBody(const std::string& body);

// POST /api/streams/ID/products {"sku","title","price_cents","stock","limit_per_buyer"?,
// "image_url"?}: a SKU, 1..400 bytes of plain text, 1..kMaxPriceCents, 0..kMaxStock,
// 0..kMaxLimitPerBuyer (0 or absent: no limit), an http(s) URL or /path of 1..2048 bytes.
// created_ms is left 0.
std::expected<Product, Error> decodeProductBody(const std::string& body);

// PATCH /api/streams/ID/products/SKU with any of the fields above but sku: each present field
// is checked as decodeProductBody checks it; "image_url": null clears the picture (""). A `sku`
// from the path that is no SKU is product_not_found; a body that changes nothing is
// invalid_argument.
std::expected<ProductChanges, Error> decodeProductChanges(const std::string& body,
                                                          std::string_view sku);

// POST /api/streams/ID/pin {"sku","flash_sale_ends_at"?}: a SKU (else product_not_found) and
// an end in (now_ms, now_ms + kMaxFlashSaleMs]. ends_at_ms 0: no flash-sale end.
struct PinBody {
  std::string sku;
  int64_t ends_at_ms = 0;
};
std::expected<PinBody, Error> decodePinBody(const std::string& body, int64_t now_ms);

// POST /api/sessions, no body or {"name"?}: a viewer name (ViewerName.h). name "": none given.
struct SessionBody {
  std::string name;
};
std::expected<SessionBody, Error> decodeSessionBody(const std::string& body);

}  // namespace bloomcast::orders::api
