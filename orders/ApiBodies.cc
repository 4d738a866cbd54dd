#include "orders/ApiBodies.h"

#include "orders/Keys.h"
#include "orders/ViewerName.h"

namespace bloomcast::orders::api {
namespace {

Error invalid(std::string message) { return Error{"invalid_argument", std::move(message)}; }

}  // namespace

// Shorthand: the value of an expected, or return its Error.
#define BC_DECODE(var, expr)                       \
  auto var = (expr);                               \
  if (!var) return std::unexpected(var.error());

std::expected<OrderBody, Error> decodeOrderBody(const std::string& body, OrderFields& f) {
  // Every order of a flash sale comes through here: a SAX scan, not a DOM (see scanObject).
  static constexpr std::string_view kNames[] = {"stream", "sku", "qty", "idempotency_key"};
  static_assert(std::size(kNames) == std::tuple_size_v<OrderFields>);
  if (auto scanned = scanObject(body, kNames, f); !scanned) return std::unexpected(scanned.error());
  BC_DECODE(stream, stringField(f[0], "stream", true, kMaxIdBytes));
  BC_DECODE(sku, stringField(f[1], "sku", true, kMaxSkuBytes));
  BC_DECODE(qty, intField(f[2], "qty", true, 1, kMaxOrderQty));
  ScalarField& key = f[3];
  if (key.kind == ScalarField::Kind::Absent || key.kind == ScalarField::Kind::Null)
    return std::unexpected(Error{"idempotency_key_required",
                                 "idempotency_key is required (1..64 printable ASCII)"});
  if (key.kind != ScalarField::Kind::String || !isValidIdempotencyKey(key.string()))
    return std::unexpected(invalid("idempotency_key must be 1..64 printable ASCII characters"));
  if (!keys::isValidId(**stream)) return std::unexpected(Error{"stream_not_found", "no such stream"});
  if (!isValidSku(**sku))
    return std::unexpected(Error{"product_not_found", "no such product on this stream"});
  return OrderBody{**stream, **sku, **qty, key.string()};
}

std::expected<FactoryBody, Error> decodeFactoryBody(const std::string& body) {
  BC_DECODE(j, parseObject(body));
  BC_DECODE(name, stringField(*j, "name", true, kMaxFactoryNameBytes));
  if (!isPlainText(**name)) return std::unexpected(invalid("name has control characters"));
  return FactoryBody{std::move(**name)};
}

std::expected<StreamBody, Error> decodeStreamBody(const std::string& body) {
  BC_DECODE(j, parseObject(body));
  BC_DECODE(title, stringField(*j, "title", true, kMaxTitleBytes));
  BC_DECODE(factory_id, stringField(*j, "factory_id", false, kMaxIdBytes));
  if (!isPlainText(**title)) return std::unexpected(invalid("title has control characters"));
  return StreamBody{std::move(**title), std::move(*factory_id)};
}

std::expected<StreamStatusBody, Error> decodeStreamStatusBody(const std::string& body) {
  BC_DECODE(j, parseObject(body));
  BC_DECODE(status, stringField(*j, "status", true, kMaxStatusBytes));
  const std::string& s = **status;
  if (s != "offline" && s != "live" && s != "ended")
    return std::unexpected(invalid("status must be offline, live or ended"));
  return StreamStatusBody{s};
}

std::expected<Product, Error> decodeProductBody(const std::string& body) {
  BC_DECODE(j, parseObject(body));
  BC_DECODE(sku, stringField(*j, "sku", true, kMaxSkuBytes));
  BC_DECODE(title, stringField(*j, "title", true, kMaxTitleBytes));
  BC_DECODE(price, intField(*j, "price_cents", true, 1, kMaxPriceCents));
  BC_DECODE(stock, intField(*j, "stock", true, 0, kMaxStock));
  BC_DECODE(limit, intField(*j, "limit_per_buyer", false, 0, kMaxLimitPerBuyer));
  BC_DECODE(image, stringField(*j, "image_url", false, kMaxImageUrlBytes));
  if (!isValidSku(**sku)) return std::unexpected(invalid("sku must be 1..64 of A-Z a-z 0-9 _ . -"));
  if (!isPlainText(**title)) return std::unexpected(invalid("title has control characters"));
  if (*image && !isValidImageUrl(**image))
    return std::unexpected(invalid("image_url must be an http(s) URL or a /path"));
  Product p;
  p.sku = std::move(**sku);
  p.title = std::move(**title);
  p.price_cents = **price;
  p.stock = **stock;
  p.limit_per_buyer = limit->value_or(0);
  p.image_url = image->value_or("");
  return p;
}

std::expected<ProductChanges, Error> decodeProductChanges(const std::string& body,
                                                          std::string_view sku) {
  BC_DECODE(j, parseObject(body));
  BC_DECODE(title, stringField(*j, "title", false, kMaxTitleBytes));
  BC_DECODE(price, intField(*j, "price_cents", false, 1, kMaxPriceCents));
  BC_DECODE(stock, intField(*j, "stock", false, 0, kMaxStock));
  BC_DECODE(limit, intField(*j, "limit_per_buyer", false, 0, kMaxLimitPerBuyer));
  std::optional<std::string> image;
  if (auto it = j->find("image_url"); it != j->end() && it->is_null()) {
    image = "";  // null clears the picture
  } else {
    BC_DECODE(given, stringField(*j, "image_url", false, kMaxImageUrlBytes));
    if (*given && !isValidImageUrl(**given))
      return std::unexpected(invalid("image_url must be an http(s) URL or a /path"));
    image = std::move(*given);
  }
  if (*title && (title->value().empty() || !isPlainText(**title)))
    return std::unexpected(invalid("title must be 1..400 bytes without control characters"));
  if (!isValidSku(sku))
    return std::unexpected(Error{"product_not_found", "no product " + std::string(sku) + " on this stream"});
  ProductChanges changes{std::move(*title), *price, *stock, *limit, std::move(image)};
  if (!changes.title && !changes.price_cents && !changes.stock && !changes.limit_per_buyer &&
      !changes.image_url)
    return std::unexpected(
        invalid("nothing to change: give title, price_cents, stock, limit_per_buyer or image_url"));
  return changes;
}

std::expected<PinBody, Error> decodePinBody(const std::string& body, int64_t now_ms) {
  BC_DECODE(j, parseObject(body));
  BC_DECODE(sku, stringField(*j, "sku", true, kMaxSkuBytes));
  BC_DECODE(ends_at, intField(*j, "flash_sale_ends_at", false, now_ms + 1, now_ms + kMaxFlashSaleMs));
  if (!isValidSku(**sku))
    return std::unexpected(Error{"product_not_found", "no product " + **sku + " on this stream"});
  return PinBody{std::move(**sku), ends_at->value_or(0)};
}

std::expected<SessionBody, Error> decodeSessionBody(const std::string& body) {
  if (body.empty()) return SessionBody{};
  BC_DECODE(j, parseObject(body));
  BC_DECODE(name, stringField(*j, "name", false, 4 * kMaxViewerNameChars));
  std::string given = name->value_or("");
  if (!given.empty() && !isValidViewerName(given))
    return std::unexpected(invalid("name must be 1..32 characters without control characters"));
  return SessionBody{std::move(given)};
}

#undef BC_DECODE

}  // namespace bloomcast::orders::api
