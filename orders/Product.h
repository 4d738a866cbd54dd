#pragma once
// Product: one item a stream sells, and a change to it — what the catalog stores and what the
// product bodies decode to (ApiBodies.h). Plain values, copied freely.
#include <cstdint>
#include <optional>
#include <string>

namespace bloomcast::orders {

struct Product {
  std::string sku;
  std::string title;
  std::string image_url;
  int64_t price_cents = 0;
  int64_t stock = 0;  // units left
  int64_t limit_per_buyer = 0;  // 0: no limit
  int64_t created_ms = 0;
};

// What PATCH .../products/SKU changes; unset fields stay as they are. Validated by the caller
// (decodeProductChanges).
struct ProductChanges {
  std::optional<std::string> title;
  std::optional<int64_t> price_cents;
  std::optional<int64_t> stock;  // sets the units left
  std::optional<int64_t> limit_per_buyer;
  std::optional<std::string> image_url;  // "" clears it
};

}  // namespace bloomcast::orders
