// Fuzz target: the HTTP JSON request bodies — the orders part's (orders/ApiBodies.h) and the
// chat moderation calls' (chat/ModerationBodies.h). The first byte picks the body, the rest is
// the body text:
//
//   o order      f factory    s stream     t stream status   p product   e product edit
//   n pin        v session    b (un)ban    d chat delete     w slow mode k keywords
//
// (any other first byte picks by its value modulo 12). Beyond "no crash": an accepted body
// holds only values within the limits its decoder states (SKUs and ids valid, strings within
// their bytes and free of control characters, numbers in range) and renders back as JSON, as
// the handlers echo it; a refused one carries one of its decoder's error codes and a message.
// An order body is also read both ways — scanObject's SAX pass and the DOM — and both must agree.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <expected>
#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "chat/ModerationBodies.h"
#include "orders/ApiBodies.h"
#include "orders/Keys.h"
#include "orders/ViewerName.h"

using namespace bloomcast;
using namespace bloomcast::orders;

namespace {

constexpr std::string_view kKinds = "ofstpenvbdwk";
constexpr int64_t kNowMs = 1'790'000'000'000;  // the pin's "now"
constexpr std::string_view kPathSku = "TEA-1";  // the product edit's SKU (from the path)

void check(bool ok) {
  if (!ok) std::abort();
}

// The handlers put accepted strings into JSON answers and room frames: dump() must not throw.
void checkRenders(const std::string& s) { (void)nlohmann::json(s).dump(); }

void checkText(const std::string& s, std::size_t max_bytes) {
  check(!s.empty() && s.size() <= max_bytes && api::isPlainText(s));
  checkRenders(s);
}

void checkImageUrl(const std::string& url) {
  check(url.size() <= api::kMaxImageUrlBytes);
  check(url.empty() || api::isValidImageUrl(url));
  checkRenders(url);
}

void checkProductNumbers(int64_t price_cents, int64_t stock, int64_t limit_per_buyer) {
  check(price_cents >= 1 && price_cents <= api::kMaxPriceCents);
  check(stock >= 0 && stock <= api::kMaxStock);
  check(limit_per_buyer >= 0 && limit_per_buyer <= api::kMaxLimitPerBuyer);
}

// A refusal: one of the codes the decoder documents, and something to tell the caller.
template <typename T>
bool refused(const std::expected<T, Error>& r, std::initializer_list<std::string_view> codes) {
  if (r) return false;
  bool known = false;
  for (auto c : codes) known = known || r.error().code == c;
  check(known && !r.error().message.empty());
  return true;
}

constexpr std::initializer_list<std::string_view> kOrdersCodes = {"bad_json", "invalid_argument"};

// decodeOrderBody reads with scanObject (one SAX pass): the same verdict as the DOM parse, and
// each field the same type and value as fieldOf reads from the DOM.
void checkScanMatchesDom(const std::string& body) {
  static constexpr std::string_view kNames[] = {"stream", "sku", "qty", "idempotency_key"};
  api::ScalarField scanned[std::size(kNames)];
  auto scan = api::scanObject(body, kNames, scanned);
  auto dom = api::parseObject(body);
  check(scan.has_value() == dom.has_value());
  if (!dom) {
    check(scan.error().code == dom.error().code && scan.error().message == dom.error().message);
    return;
  }
  for (std::size_t i = 0; i < std::size(kNames); ++i)
    check(scanned[i] == api::fieldOf(*dom, std::string(kNames[i]).c_str()));
}

void fuzzOrdersBody(char kind, const std::string& body) {
  switch (kind) {
    case 'o': {
      checkScanMatchesDom(body);
      api::OrderFields fields;
      auto r = api::decodeOrderBody(body, fields);
      if (refused(r, {"bad_json", "invalid_argument", "idempotency_key_required", "stream_not_found",
                      "product_not_found"}))
        return;
      check(keys::isValidId(r->stream_id) && api::isValidSku(r->sku));
      check(r->qty >= 1 && r->qty <= api::kMaxOrderQty);
      check(api::isValidIdempotencyKey(r->idempotency_key));
      return;
    }
    case 'f': {
      auto r = api::decodeFactoryBody(body);
      if (refused(r, kOrdersCodes)) return;
      checkText(r->name, api::kMaxFactoryNameBytes);
      return;
    }
    case 's': {
      auto r = api::decodeStreamBody(body);
      if (refused(r, kOrdersCodes)) return;
      checkText(r->title, api::kMaxTitleBytes);
      if (r->factory_id) {
        check(!r->factory_id->empty() && r->factory_id->size() <= api::kMaxIdBytes);
        checkRenders(*r->factory_id);
      }
      return;
    }
    case 't': {
      auto r = api::decodeStreamStatusBody(body);
      if (refused(r, kOrdersCodes)) return;
      check(r->status == "offline" || r->status == "live" || r->status == "ended");
      return;
    }
    case 'p': {
      auto r = api::decodeProductBody(body);
      if (refused(r, kOrdersCodes)) return;
      check(api::isValidSku(r->sku));
      checkText(r->title, api::kMaxTitleBytes);
      checkProductNumbers(r->price_cents, r->stock, r->limit_per_buyer);
      checkImageUrl(r->image_url);
      return;
    }
    case 'e': {
      auto r = api::decodeProductChanges(body, kPathSku);
      if (refused(r, kOrdersCodes)) return;
      check(r->title || r->price_cents || r->stock || r->limit_per_buyer || r->image_url);
      if (r->title) checkText(*r->title, api::kMaxTitleBytes);
      checkProductNumbers(r->price_cents.value_or(1), r->stock.value_or(0),
                          r->limit_per_buyer.value_or(0));
      if (r->image_url) checkImageUrl(*r->image_url);
      return;
    }
    case 'n': {
      auto r = api::decodePinBody(body, kNowMs);
      if (refused(r, {"bad_json", "invalid_argument", "product_not_found"})) return;
      check(api::isValidSku(r->sku));
      check(r->ends_at_ms == 0 ||
            (r->ends_at_ms > kNowMs && r->ends_at_ms <= kNowMs + api::kMaxFlashSaleMs));
      return;
    }
    case 'v': {
      auto r = api::decodeSessionBody(body);
      if (refused(r, kOrdersCodes)) return;
      check(r->name.empty() || isValidViewerName(r->name));
      checkRenders(r->name);
      checkRenders(maskedViewerName(r->name));
      check(maskedViewerNameJson(r->name) == nlohmann::json(maskedViewerName(r->name)).dump());
      return;
    }
  }
}

void fuzzModerationBody(char kind, const std::string& body) {
  if (kind == 'k') {
    auto r = chat::decodeKeywordsBody(body);
    if (refused(r, {"bad_request"})) return;
    check(r->keywords.size() <= chat::kMaxKeywords);
    for (const auto& k : r->keywords) {
      check(!k.empty() && k.size() <= chat::kMaxKeywordBytes);
      checkRenders(k);
    }
    return;
  }
  auto object = chat::parseModerationObject(body);
  if (refused(object, {"invalid_json"})) return;
  check(object->is_object());
  switch (kind) {
    case 'b': {
      auto r = chat::decodeBanBody(*object);
      if (refused(r, {"bad_request"})) return;
      check(!r->user.empty());
      checkRenders(r->user);
      return;
    }
    case 'd': {
      auto r = chat::decodeDeleteBody(*object);
      if (refused(r, {"bad_request"})) return;
      check(r->id > 0);
      return;
    }
    case 'w': {
      auto r = chat::decodeSlowModeBody(*object);
      if (refused(r, {"bad_request"})) return;
      check(r->seconds >= 0 && r->seconds <= chat::kMaxSlowModeSeconds);
      return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto at = kKinds.find(static_cast<char>(data[0]));
  char kind = kKinds[at != std::string_view::npos ? at : data[0] % kKinds.size()];
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (kind == 'b' || kind == 'd' || kind == 'w' || kind == 'k') fuzzModerationBody(kind, body);
  else fuzzOrdersBody(kind, body);
  return 0;
}
