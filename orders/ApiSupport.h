#pragma once
// ApiSupport: what the HTTP handlers of the orders part share — error codes to HTTP statuses,
// the wall clock, money as text. Reading the JSON bodies is ApiBodies.h (pure, fuzzed).
//
// Error codes and their statuses (docs/API.md lists them per call):
//   400 bad_json, invalid_argument, idempotency_key_required
//   401 unauthorized          403 forbidden            404 *_not_found
//   409 sold_out, limit_exceeded, stream_ended, flash_sale_ended, sku_exists, order_expired,
//       order_cancelled, order_paid                    422 idempotency_key_reused
//   429 rate_limited
//   500 internal              503 store_unavailable
//
// Thread: loop thread. Pure helpers.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "infra/Error.h"
#include "infra/HttpServer.h"
#include "orders/ApiBodies.h"

namespace bloomcast::orders::api {

using Clock = std::function<int64_t()>;  // wall clock, UNIX ms

// The wall clock as of this loop turn (loopTurnWallClock): every order of one turn carries the
// same millisecond, and an order costs no clock read of its own.
int64_t systemClockMs();

int statusFor(std::string_view code);

// {"error":code,"message":...} with the status for its code; 401 also carries
// WWW-Authenticate, 429 Retry-After.
HttpResponse errorResponse(const Error& e);

// 1234 -> "12.34", -5 -> "-0.05": yuan, rendered from integer cents without floating point.
std::string yuan(int64_t cents);

}  // namespace bloomcast::orders::api
