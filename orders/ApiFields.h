#pragma once
// ApiFields: the bricks the JSON body decoders (ApiBodies.h) are built of — the body as a JSON
// object, one field at a time with a clear invalid_argument, and the value validators.
//
// Pure functions of bytes: no sockets, clocks or HTTP types, so the fuzz build (clang) compiles
// them. Thread-safe.
#include <cstddef>
#include <cstdint>
#include <expected>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "infra/Error.h"

namespace bloomcast::orders::api {

// The body as a JSON object, or bad_json.
std::expected<nlohmann::json, Error> parseObject(const std::string& body);

// One top-level field of a JSON object as the checks below see it: its JSON type and, for a
// string or an integer, its value.
struct ScalarField {
  enum class Kind { Absent, Null, String, Integer, Unsigned, Other };  // Other: bool, float, {}, []
  Kind kind = Kind::Absent;
  // Kind::String: as nlohmann's parser decoded it (`text`), or, read by the flat scan of a
  // string without escapes, a view into the body (`in_body`, valid while the body is): an order
  // copies none of its strings (the idempotency key was an allocation). string() is either.
  std::string text;
  std::string_view in_body;
  int64_t integer = 0;  // Kind::Integer (a negative number)
  uint64_t natural = 0; // Kind::Unsigned (nlohmann's reading of a non-negative integer)

  std::string_view string() const { return in_body.data() ? in_body : std::string_view(text); }
  // Absent again; `text` keeps its storage.
  void clear() {
    kind = Kind::Absent;
    text.clear();
    in_body = {};
    integer = 0;
    natural = 0;
  }
  bool operator==(const ScalarField& o) const {
    return kind == o.kind && string() == o.string() && integer == o.integer && natural == o.natural;
  }
};

// The hot path's reader (POST /api/orders): the top-level fields `names` of a JSON object body
// without building a DOM (which costs ~16 allocations for an order): a flat object of plain
// strings and integers in one pass of its own, anything else in one SAX pass of nlohmann's
// parser. out[i] answers names[i]; anything else in the body, at any depth, is skipped. The
// same acceptance and errors as parseObject, and each field as fieldOf would read it from
// parseObject's answer (tests/orders/ApiBodiesTest.cc and the fuzz target hold them to that).
std::expected<void, Error> scanObject(const std::string& body, std::span<const std::string_view> names,
                                      std::span<ScalarField> out);
// Field `name` of a parsed object (copied).
ScalarField fieldOf(const nlohmann::json& j, const char* name);

// Field readers: a missing field is nullopt when optional, invalid_argument when required;
// a field of the wrong type or out of range is invalid_argument naming the field.
std::expected<std::optional<std::string>, Error> stringField(const nlohmann::json& j,
                                                             const char* name, bool required,
                                                             std::size_t max_bytes);
std::expected<std::optional<int64_t>, Error> intField(const nlohmann::json& j, const char* name,
                                                      bool required, int64_t min, int64_t max);
// The same checks of a field scanObject read (the string is a view of f.string()).
std::expected<std::optional<std::string_view>, Error> stringField(const ScalarField& f, const char* name,
                                                                  bool required, std::size_t max_bytes);
std::expected<std::optional<int64_t>, Error> intField(const ScalarField& f, const char* name,
                                                      bool required, int64_t min, int64_t max);

// SKU: 1..64 of [A-Za-z0-9_.-].
bool isValidSku(std::string_view sku);
// Printable ASCII (0x21..0x7e), 1..64 characters.
bool isValidIdempotencyKey(std::string_view key);
// Text for people: valid UTF-8 (nlohmann checked it), no control characters.
bool isPlainText(std::string_view text);
// http(s)://... or /path, no spaces, quotes or angle brackets.
bool isValidImageUrl(std::string_view url);

}  // namespace bloomcast::orders::api
