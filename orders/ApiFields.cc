#include "orders/ApiFields.h"

#include "infra/Bytes16.h"

namespace bloomcast::orders::api {

std::expected<nlohmann::json, Error> parseObject(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::unexpected(Error{"bad_json", "the body is not valid JSON"});
  if (!j.is_object()) return std::unexpected(Error{"bad_json", "the body must be a JSON object"});
  return j;
}

namespace {

using Kind = ScalarField::Kind;

ScalarField withKind(Kind kind) {
  ScalarField f;
  f.kind = kind;
  return f;
}

// nlohmann's SAX interface: notes the fields asked for at depth 1, skips everything else.
struct FieldScanner {
  std::span<const std::string_view> names;
  std::span<ScalarField> out;
  int depth = 0;  // 1 inside the top-level object
  bool root_is_object = false;
  ScalarField* pending = nullptr;  // the field whose value comes next

  // The field a value at this point belongs to, if it is one of `names`.
  ScalarField* take() {
    ScalarField* f = depth == 1 ? pending : nullptr;
    pending = nullptr;
    return f;
  }
  bool mark(Kind kind) {
    if (ScalarField* f = take()) *f = withKind(kind);
    return true;
  }
  bool null() { return mark(Kind::Null); }
  bool boolean(bool) { return mark(Kind::Other); }
  bool number_integer(int64_t v) {
    if (ScalarField* f = take()) {
      *f = withKind(Kind::Integer);
      f->integer = v;
    }
    return true;
  }
  bool number_unsigned(uint64_t v) {
    if (ScalarField* f = take()) {
      *f = withKind(Kind::Unsigned);
      f->natural = v;
    }
    return true;
  }
  bool number_float(double, const std::string&) { return mark(Kind::Other); }
  bool string(std::string& v) {
    if (ScalarField* f = take()) {
      *f = withKind(Kind::String);
      f->text = v;  // a copy: the lexer keeps its buffer's capacity for the next token
    }
    return true;
  }
  bool binary(nlohmann::json::binary_t&) { return mark(Kind::Other); }
  bool start_object(std::size_t) {
    if (depth == 0) root_is_object = true;
    mark(Kind::Other);
    ++depth;
    return true;
  }
  bool key(std::string& k) {
    if (depth != 1) return true;
    pending = nullptr;
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i] == k) pending = &out[i];
    return true;
  }
  bool end_object() {
    --depth;
    return true;
  }
  bool start_array(std::size_t) {
    mark(Kind::Other);
    ++depth;
    return true;
  }
  bool end_array() {
    --depth;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }
};

// The shape nearly every order body has: one flat object of printable-ASCII strings without
// escapes, integers of at most 18 digits, true, false and null. Read here in one pass without
// an allocation beyond the field texts; anything else (an escape, a non-ASCII byte, a fraction
// or exponent, a longer number, nesting, an error) answers "not sure" and the body goes to
// nlohmann's parser, which gives every verdict and error. nlohmann's SAX lexer is what this
// saves: it records each token's raw bytes for its error messages, ~8 allocations and ~5% of
// the CPU of an order (docs/perf.md, session 9). The fuzz target holds scanObject, with this
// path, to the DOM's reading of every body.
bool scanFlatObject(std::string_view body, std::span<const std::string_view> names,
                    std::span<ScalarField> out) {
  const char* p = body.data();
  const char* end = p + body.size();
  auto skipSpace = [&] {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
  };
  // A string of printable ASCII without escapes; p is past its closing quote after. The scan
  // stops at the first quote, backslash, control character or non-ASCII byte (16 at a time):
  // a quote ends the string, anything else is for nlohmann's parser.
  auto plainString = [&](std::string_view& text) {
    if (p == end || *p != '"') return false;
    const char* start = ++p;
    for (;;) {
      if (end - p >= 16) {
        bytes16::Bytes v = bytes16::load(p);
        unsigned stop = bytes16::firstSet((v == '"') | (v == '\\') | (v < 0x20) | (v > 0x7e));
        p += stop;
        if (stop == 16) continue;
      } else {
        while (p < end && *p != '"' && *p != '\\' && *p >= 0x20 && *p <= 0x7e) ++p;
        if (p == end) return false;
      }
      break;
    }
    if (*p != '"') return false;
    text = std::string_view(start, static_cast<std::size_t>(p - start));
    ++p;
    return true;
  };
  auto literal = [&](std::string_view word) {
    if (static_cast<std::size_t>(end - p) < word.size() || std::string_view(p, word.size()) != word)
      return false;
    p += word.size();
    return true;
  };
  skipSpace();
  if (p == end || *p != '{') return false;
  ++p;
  skipSpace();
  if (p < end && *p == '}') {
    ++p;
  } else {
    for (;;) {
      std::string_view key;
      if (!plainString(key)) return false;
      skipSpace();
      if (p == end || *p != ':') return false;
      ++p;
      skipSpace();
      ScalarField* field = nullptr;  // the last of equal keys wins, as in nlohmann's reading
      for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == key) field = &out[i];
      // The value, written to `field` (if any) when it is whole. The flat scan sets no `text`:
      // every field's is empty (scanObject cleared them).
      ScalarField::Kind kind = Kind::Absent;
      std::string_view in_body;
      int64_t integer = 0;
      uint64_t natural = 0;
      if (p == end) return false;
      if (*p == '"') {
        if (!plainString(in_body)) return false;
        kind = Kind::String;
      } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
        bool negative = *p == '-';
        if (negative) ++p;
        const char* digits = p;
        while (p < end && *p >= '0' && *p <= '9') ++p;
        std::size_t n = static_cast<std::size_t>(p - digits);
        if (n == 0 || n > 18 || (*digits == '0' && n > 1)) return false;
        if (p < end && (*p == '.' || *p == 'e' || *p == 'E')) return false;
        uint64_t v = 0;
        for (const char* d = digits; d < p; ++d) v = v * 10 + static_cast<uint64_t>(*d - '0');
        if (negative) {
          kind = Kind::Integer;
          integer = -static_cast<int64_t>(v);
        } else {
          kind = Kind::Unsigned;
          natural = v;
        }
      } else if (literal("true") || literal("false")) {
        kind = Kind::Other;
      } else if (literal("null")) {
        kind = Kind::Null;
      } else {
        return false;  // nesting, or not JSON
      }
      if (field) {
        field->kind = kind;
        field->in_body = in_body;
        field->integer = integer;
        field->natural = natural;
      }
      skipSpace();
      if (p < end && *p == ',') {
        ++p;
        skipSpace();
        continue;
      }
      if (p < end && *p == '}') {
        ++p;
        break;
      }
      return false;
    }
  }
  skipSpace();
  return p == end;
}

Error required(const char* name) { return Error{"invalid_argument", std::string(name) + " is required"}; }

}  // namespace

std::expected<void, Error> scanObject(const std::string& body, std::span<const std::string_view> names,
                                      std::span<ScalarField> out) {
  for (auto& f : out) f.clear();
  if (scanFlatObject(body, names, out)) return {};
  for (auto& f : out) f.clear();  // what the fast path read before it gave up
  FieldScanner scanner{names, out};
  if (!nlohmann::json::sax_parse(body, &scanner))
    return std::unexpected(Error{"bad_json", "the body is not valid JSON"});
  if (!scanner.root_is_object) {
    for (auto& f : out) f.clear();
    return std::unexpected(Error{"bad_json", "the body must be a JSON object"});
  }
  return {};
}

ScalarField fieldOf(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return {};
  ScalarField f;
  if (it->is_null()) {
    f.kind = Kind::Null;
  } else if (it->is_string()) {
    f.kind = Kind::String;
    f.text = it->get<std::string>();
  } else if (it->is_number_unsigned()) {
    f.kind = Kind::Unsigned;
    f.natural = it->get<uint64_t>();
  } else if (it->is_number_integer()) {
    f.kind = Kind::Integer;
    f.integer = it->get<int64_t>();
  } else {
    f.kind = Kind::Other;
  }
  return f;
}

std::expected<std::optional<std::string_view>, Error> stringField(const ScalarField& f, const char* name,
                                                                  bool required_field, std::size_t max_bytes) {
  if (f.kind == Kind::Absent || f.kind == Kind::Null) {
    if (required_field) return std::unexpected(required(name));
    return std::nullopt;
  }
  if (f.kind != Kind::String)
    return std::unexpected(Error{"invalid_argument", std::string(name) + " must be a string"});
  std::string_view text = f.string();
  if (text.empty() || text.size() > max_bytes)
    return std::unexpected(Error{"invalid_argument", std::string(name) + " must be 1.." +
                                                         std::to_string(max_bytes) + " bytes"});
  return text;
}

std::expected<std::optional<int64_t>, Error> intField(const ScalarField& f, const char* name,
                                                      bool required_field, int64_t min, int64_t max) {
  if (f.kind == Kind::Absent || f.kind == Kind::Null) {
    if (required_field) return std::unexpected(required(name));
    return std::nullopt;
  }
  auto bad = [&] {
    return std::unexpected(Error{"invalid_argument", std::string(name) + " must be an integer in " +
                                                         std::to_string(min) + ".." + std::to_string(max)});
  };
  if (f.kind == Kind::Unsigned) {
    if (f.natural > static_cast<uint64_t>(max) || static_cast<int64_t>(f.natural) < min) return bad();
    return static_cast<int64_t>(f.natural);
  }
  if (f.kind != Kind::Integer || f.integer < min || f.integer > max) return bad();
  return f.integer;
}

std::expected<std::optional<std::string>, Error> stringField(const nlohmann::json& j,
                                                             const char* name, bool required,
                                                             std::size_t max_bytes) {
  ScalarField f = fieldOf(j, name);
  auto text = stringField(f, name, required, max_bytes);
  if (!text) return std::unexpected(text.error());
  if (!*text) return std::nullopt;
  return std::move(f.text);  // fieldOf's field holds its text
}

std::expected<std::optional<int64_t>, Error> intField(const nlohmann::json& j, const char* name,
                                                      bool required, int64_t min, int64_t max) {
  return intField(fieldOf(j, name), name, required, min, max);
}

bool isValidSku(std::string_view sku) {
  if (sku.empty() || sku.size() > 64) return false;
  for (char c : sku)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      return false;
  return true;
}

bool isValidIdempotencyKey(std::string_view key) {
  if (key.empty() || key.size() > 64) return false;
  std::size_t i = 0;
  for (; i + 16 <= key.size(); i += 16) {  // every order has one: 16 bytes at a time
    bytes16::Bytes v = bytes16::load(key.data() + i);
    if (bytes16::anySet((v < 0x21) | (v > 0x7e))) return false;
  }
  for (; i < key.size(); ++i)
    if (key[i] < 0x21 || key[i] > 0x7e) return false;
  return true;
}

bool isPlainText(std::string_view text) {
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

bool isValidImageUrl(std::string_view url) {
  if (!(url.starts_with("https://") || url.starts_with("http://") ||
        (url.starts_with("/") && !url.starts_with("//"))))
    return false;
  for (unsigned char c : url)
    if (c <= 0x20 || c == 0x7f || c == '"' || c == '\'' || c == '<' || c == '>' || c == '\\')
      return false;
  return true;
}

}  // namespace bloomcast::orders::api
