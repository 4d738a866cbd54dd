#pragma once
// ApiSupport: what the HTTP handlers of the orders part share — reading a JSON body field by
// field with clear 400s, error codes to HTTP statuses, and the wall clock.
//
// Error codes and their statuses (docs/API.md lists them per call):
//   400 bad_json, invalid_argument, idempotency_key_required
//   401 unauthorized          403 forbidden            404 *_not_found
//   409 sold_out, limit_exceeded, stream_ended, sku_exists, order_expired, order_cancelled,
//       order_paid           422 idempotency_key_reused 429 rate_limited
//   500 internal              503 store_unavailable
//
// Thread: loop thread. Pure helpers.
#include <cstdint>
#include <expected>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "infra/Error.h"
#include "infra/HttpServer.h"

namespace bloomcast::orders::api {

using Clock = std::function<int64_t()>;  // wall clock, UNIX ms

int64_t systemClockMs();

int statusFor(std::string_view code);

// {"error":code,"message":...} with the status for its code; 401 also carries
// WWW-Authenticate, 429 Retry-After.
HttpResponse errorResponse(const Error& e);

// The body as a JSON object, or bad_json.
std::expected<nlohmann::json, Error> parseObject(const std::string& body);

// Field readers: a missing field is nullopt when optional, invalid_argument when required;
// a field of the wrong type or out of range is invalid_argument naming the field.
std::expected<std::optional<std::string>, Error> stringField(const nlohmann::json& j,
                                                             const char* name, bool required,
                                                             std::size_t max_bytes);
std::expected<std::optional<int64_t>, Error> intField(const nlohmann::json& j, const char* name,
                                                      bool required, int64_t min, int64_t max);

// SKU: 1..64 of [A-Za-z0-9_.-].
bool isValidSku(std::string_view sku);
// Printable ASCII (0x21..0x7e), 1..64 characters.
bool isValidIdempotencyKey(std::string_view key);
// Text for people: valid UTF-8 (nlohmann checked it), no control characters.
bool isPlainText(std::string_view text);
// http(s)://... or /path, no spaces, quotes or angle brackets.
bool isValidImageUrl(std::string_view url);

// 1234 -> "12.34", -5 -> "-0.05": yuan, rendered from integer cents without floating point.
std::string yuan(int64_t cents);

}  // namespace bloomcast::orders::api
