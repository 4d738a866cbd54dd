#include "orders/ApiSupport.h"

#include <chrono>

#include "infra/EventLoop.h"

namespace bloomcast::orders::api {

int64_t systemClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(loopTurnWallClock().time_since_epoch()).count();
}

int statusFor(std::string_view code) {
  if (code == "bad_json" || code == "invalid_argument" || code == "idempotency_key_required")
    return 400;
  if (code == "unauthorized") return 401;
  if (code == "forbidden") return 403;
  if (code.ends_with("_not_found") || code == "not_found") return 404;
  if (code == "sold_out" || code == "limit_exceeded" || code == "stream_ended" ||
      code == "flash_sale_ended" ||
      code == "sku_exists" || code == "order_expired" || code == "order_cancelled" ||
      code == "order_paid")
    return 409;
  if (code == "idempotency_key_reused") return 422;
  if (code == "rate_limited") return 429;
  if (code == "store_unavailable") return 503;
  return 500;
}

HttpResponse errorResponse(const Error& e) {
  int status = statusFor(e.code);
  // An internal error's message may name keys or scripts: keep it in the log only.
  auto r = HttpResponse::error(status, status == 500 ? "internal" : e.code,
                               status == 500 ? "internal error" : e.message);
  if (status == 401) r.headers.emplace_back("www-authenticate", "Bearer");
  if (status == 429) r.headers.emplace_back("retry-after", "1");
  if (status == 503) r.headers.emplace_back("retry-after", "1");
  return r;
}

std::string yuan(int64_t cents) {
  bool negative = cents < 0;
  uint64_t abs = negative ? 0 - static_cast<uint64_t>(cents) : static_cast<uint64_t>(cents);
  std::string frac = std::to_string(abs % 100);
  if (frac.size() < 2) frac.insert(0, "0");
  return (negative ? "-" : "") + std::to_string(abs / 100) + "." + frac;
}

}  // namespace bloomcast::orders::api
