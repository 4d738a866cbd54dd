#include "ingest/proto/Amf0.h"

#include <algorithm>
#include <cstdio>

#include "ingest/proto/Bytes.h"

namespace bloomcast::ingest {

namespace {

constexpr uint8_t kNumberMarker = 0x00;
constexpr uint8_t kBooleanMarker = 0x01;
constexpr uint8_t kStringMarker = 0x02;
constexpr uint8_t kObjectMarker = 0x03;
constexpr uint8_t kNullMarker = 0x05;
constexpr uint8_t kUndefinedMarker = 0x06;
constexpr uint8_t kEcmaArrayMarker = 0x08;
constexpr uint8_t kObjectEndMarker = 0x09;
constexpr uint8_t kStrictArrayMarker = 0x0A;
constexpr uint8_t kDateMarker = 0x0B;
constexpr uint8_t kLongStringMarker = 0x0C;

std::string hexByte(uint8_t b) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", b);
  return text;
}

// One decode call: a reader over the input plus the budget shared by every value it produces.
// Every read is preceded by a remaining() check so that running out of input (need_more_) is
// told apart from corrupt input (error_).
class Decoder {
 public:
  Decoder(std::span<const uint8_t> bytes, const Amf0Limits& limits)
      : reader_(bytes), limits_(limits) {}

  // Decodes one value at nesting level `depth` (top level = 1) into `out`. False when the input
  // is short (need_more_) or invalid (error_).
  bool value(Amf0& out, size_t depth) {
    if (depth > limits_.max_depth) {
      return fail("AMF0 nesting deeper than " + std::to_string(limits_.max_depth));
    }
    if (++values_ > limits_.max_values) {
      return fail("more than " + std::to_string(limits_.max_values) + " AMF0 values");
    }
    if (reader_.remaining() < 1) return needMore();
    const uint8_t marker = reader_.u8();
    switch (marker) {
      case kNumberMarker:
        if (reader_.remaining() < 8) return needMore();
        out = Amf0::number(reader_.f64be());
        return true;
      case kBooleanMarker:
        if (reader_.remaining() < 1) return needMore();
        out = Amf0::boolean(reader_.u8() != 0);
        return true;
      case kStringMarker: {
        std::string text;
        if (!string(2, text)) return false;
        out = Amf0::string(std::move(text));
        return true;
      }
      case kLongStringMarker: {
        std::string text;
        if (!string(4, text)) return false;
        out = Amf0::longString(std::move(text));
        return true;
      }
      case kObjectMarker: {
        std::vector<Amf0::Property> properties;
        if (!propertiesUntilEnd(properties, depth)) return false;
        out = Amf0::object(std::move(properties));
        return true;
      }
      case kEcmaArrayMarker: {
        // The count is advisory (encoders disagree on it); the end marker is what ends the array.
        if (reader_.remaining() < 4) return needMore();
        reader_.skip(4);
        std::vector<Amf0::Property> properties;
        if (!propertiesUntilEnd(properties, depth)) return false;
        out = Amf0::ecmaArray(std::move(properties));
        return true;
      }
      case kStrictArrayMarker: return strictArray(out, depth);
      case kNullMarker: out = Amf0::null(); return true;
      case kUndefinedMarker: out = Amf0::undefined(); return true;
      case kDateMarker: {
        if (reader_.remaining() < 10) return needMore();
        const double ms = reader_.f64be();
        const auto timezone_min = static_cast<int16_t>(reader_.u16be());
        out = Amf0::date(ms, timezone_min);
        return true;
      }
      case kObjectEndMarker: return fail("AMF0 object end marker outside an object");
      default: return fail("unsupported AMF0 marker " + hexByte(marker));
    }
  }

  size_t consumed() const { return reader_.position(); }
  size_t remaining() const { return reader_.remaining(); }
  bool needsMore() const { return need_more_; }
  const std::string& error() const { return error_; }

 private:
  bool fail(std::string why) {
    error_ = std::move(why);
    return false;
  }
  bool needMore() {
    need_more_ = true;
    return false;
  }

  // A string whose length prefix is `length_bytes` wide (2 or 4).
  bool string(size_t length_bytes, std::string& out) {
    if (reader_.remaining() < length_bytes) return needMore();
    const uint32_t length = length_bytes == 2 ? reader_.u16be() : reader_.u32be();
    if (length > limits_.max_string_bytes) {
      return fail("AMF0 string of " + std::to_string(length) + " bytes exceeds the limit of " +
                  std::to_string(limits_.max_string_bytes));
    }
    if (reader_.remaining() < length) return needMore();
    const auto bytes = reader_.bytes(length);
    out.assign(bytes.begin(), bytes.end());
    return true;
  }

  //   property*  00 00 09      where property = u16 key length, key bytes, value
  bool propertiesUntilEnd(std::vector<Amf0::Property>& out, size_t depth) {
    for (;;) {
      if (reader_.remaining() < 2) return needMore();
      const uint16_t key_length = reader_.u16be();
      if (key_length == 0) {
        if (reader_.remaining() < 1) return needMore();
        const uint8_t marker = reader_.u8();
        if (marker == kObjectEndMarker) return true;
        return fail("AMF0 property with an empty name (marker " + hexByte(marker) + ")");
      }
      if (key_length > limits_.max_string_bytes) {
        return fail("AMF0 property name of " + std::to_string(key_length) + " bytes");
      }
      if (reader_.remaining() < key_length) return needMore();
      const auto key = reader_.bytes(key_length);
      Amf0 item;
      if (!value(item, depth + 1)) return false;
      out.emplace_back(std::string(key.begin(), key.end()), std::move(item));
    }
  }

  //   u32 count, then count values
  bool strictArray(Amf0& out, size_t depth) {
    if (reader_.remaining() < 4) return needMore();
    const uint32_t count = reader_.u32be();
    if (count > limits_.max_values - values_) {
      return fail("AMF0 strict array of " + std::to_string(count) + " items exceeds the limit");
    }
    std::vector<Amf0> items;
    // Each item takes at least one byte, so what is left bounds what can be there.
    items.reserve(std::min<size_t>(count, reader_.remaining()));
    for (uint32_t i = 0; i < count; ++i) {
      Amf0 item;
      if (!value(item, depth + 1)) return false;
      items.push_back(std::move(item));
    }
    out = Amf0::strictArray(std::move(items));
    return true;
  }

  ByteReader reader_;
  const Amf0Limits& limits_;
  size_t values_ = 0;
  bool need_more_ = false;
  std::string error_;
};

void encodeString(std::string_view text, bool long_form, std::vector<uint8_t>& out) {
  if (long_form || text.size() > 0xFFFF) {
    appendU8(out, kLongStringMarker);
    appendU32Be(out, static_cast<uint32_t>(text.size()));
  } else {
    appendU8(out, kStringMarker);
    appendU16Be(out, static_cast<uint16_t>(text.size()));
  }
  out.insert(out.end(), text.begin(), text.end());
}

void encodeProperties(const std::vector<Amf0::Property>& properties, std::vector<uint8_t>& out) {
  for (const auto& [key, value] : properties) {
    const size_t key_length = std::min<size_t>(key.size(), 0xFFFF);
    appendU16Be(out, static_cast<uint16_t>(key_length));
    out.insert(out.end(), key.begin(), key.begin() + static_cast<ptrdiff_t>(key_length));
    encodeAmf0(value, out);
  }
  appendU16Be(out, 0);
  appendU8(out, kObjectEndMarker);
}

}  // namespace

Amf0 Amf0::number(double value) {
  Amf0 v;
  v.type_ = Type::kNumber;
  v.number_ = value;
  return v;
}

Amf0 Amf0::boolean(bool value) {
  Amf0 v;
  v.type_ = Type::kBoolean;
  v.boolean_ = value;
  return v;
}

Amf0 Amf0::string(std::string value) {
  Amf0 v;
  v.type_ = Type::kString;
  v.string_ = std::move(value);
  return v;
}

Amf0 Amf0::longString(std::string value) {
  Amf0 v;
  v.type_ = Type::kLongString;
  v.string_ = std::move(value);
  return v;
}

Amf0 Amf0::object(std::vector<Property> properties) {
  Amf0 v;
  v.type_ = Type::kObject;
  v.properties_ = std::move(properties);
  return v;
}

Amf0 Amf0::ecmaArray(std::vector<Property> properties) {
  Amf0 v;
  v.type_ = Type::kEcmaArray;
  v.properties_ = std::move(properties);
  return v;
}

Amf0 Amf0::strictArray(std::vector<Amf0> items) {
  Amf0 v;
  v.type_ = Type::kStrictArray;
  v.items_ = std::move(items);
  return v;
}

Amf0 Amf0::null() { return Amf0(); }

Amf0 Amf0::undefined() {
  Amf0 v;
  v.type_ = Type::kUndefined;
  return v;
}

Amf0 Amf0::date(double ms_since_epoch, int16_t timezone_min) {
  Amf0 v;
  v.type_ = Type::kDate;
  v.number_ = ms_since_epoch;
  v.timezone_min_ = timezone_min;
  return v;
}

double Amf0::asNumber(double fallback) const {
  return (type_ == Type::kNumber || type_ == Type::kDate) ? number_ : fallback;
}

std::string_view Amf0::asString() const {
  return isString() ? std::string_view(string_) : std::string_view();
}

const Amf0* Amf0::find(std::string_view key) const {
  for (const auto& [name, value] : properties_) {
    if (name == key) return &value;
  }
  return nullptr;
}

std::string_view Amf0::stringAt(std::string_view key) const {
  const Amf0* value = find(key);
  return value ? value->asString() : std::string_view();
}

Amf0& Amf0::add(std::string key, Amf0 value) {
  if (isObjectLike()) properties_.emplace_back(std::move(key), std::move(value));
  return *this;
}

bool Amf0::operator==(const Amf0& other) const {
  if (type_ != other.type_) return false;
  switch (type_) {
    case Type::kNumber: return number_ == other.number_;
    case Type::kBoolean: return boolean_ == other.boolean_;
    case Type::kString:
    case Type::kLongString: return string_ == other.string_;
    case Type::kObject:
    case Type::kEcmaArray: return properties_ == other.properties_;
    case Type::kStrictArray: return items_ == other.items_;
    case Type::kDate: return number_ == other.number_ && timezone_min_ == other.timezone_min_;
    case Type::kNull:
    case Type::kUndefined: return true;
  }
  return false;
}

ParseResult<Amf0> decodeAmf0(std::span<const uint8_t> bytes, const Amf0Limits& limits) {
  Decoder decoder(bytes, limits);
  Amf0 value;
  if (decoder.value(value, 1)) return Parsed<Amf0>{std::move(value), decoder.consumed()};
  if (decoder.needsMore()) return NeedMore{};
  return ParseError{decoder.error()};
}

std::variant<std::vector<Amf0>, ParseError> decodeAmf0Sequence(std::span<const uint8_t> bytes,
                                                               const Amf0Limits& limits) {
  Decoder decoder(bytes, limits);
  std::vector<Amf0> values;
  while (decoder.remaining() > 0) {
    Amf0 value;
    if (!decoder.value(value, 1)) {
      if (decoder.needsMore()) {
        return ParseError{"AMF0 value truncated at the end of a " + std::to_string(bytes.size()) +
                          "-byte message"};
      }
      return ParseError{decoder.error()};
    }
    values.push_back(std::move(value));
  }
  return values;
}

void encodeAmf0(const Amf0& value, std::vector<uint8_t>& out) {
  switch (value.type()) {
    case Amf0::Type::kNumber:
      appendU8(out, kNumberMarker);
      appendF64Be(out, value.asNumber());
      return;
    case Amf0::Type::kBoolean:
      appendU8(out, kBooleanMarker);
      appendU8(out, value.asBoolean() ? 1 : 0);
      return;
    case Amf0::Type::kString: encodeString(value.asString(), false, out); return;
    case Amf0::Type::kLongString: encodeString(value.asString(), true, out); return;
    case Amf0::Type::kObject:
      appendU8(out, kObjectMarker);
      encodeProperties(value.properties(), out);
      return;
    case Amf0::Type::kEcmaArray:
      appendU8(out, kEcmaArrayMarker);
      appendU32Be(out, static_cast<uint32_t>(value.properties().size()));
      encodeProperties(value.properties(), out);
      return;
    case Amf0::Type::kStrictArray:
      appendU8(out, kStrictArrayMarker);
      appendU32Be(out, static_cast<uint32_t>(value.items().size()));
      for (const Amf0& item : value.items()) encodeAmf0(item, out);
      return;
    case Amf0::Type::kNull: appendU8(out, kNullMarker); return;
    case Amf0::Type::kUndefined: appendU8(out, kUndefinedMarker); return;
    case Amf0::Type::kDate:
      appendU8(out, kDateMarker);
      appendF64Be(out, value.asNumber());
      appendU16Be(out, static_cast<uint16_t>(value.timezoneMin()));
      return;
  }
}

std::vector<uint8_t> encodeAmf0Sequence(std::span<const Amf0> values) {
  std::vector<uint8_t> out;
  for (const Amf0& value : values) encodeAmf0(value, out);
  return out;
}

}  // namespace bloomcast::ingest
