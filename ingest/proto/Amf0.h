#pragma once
// AMF0 (Action Message Format 0): the value encoding of RTMP commands and metadata.
//
//   marker  type          payload
//   0x00    number        IEEE-754 double, big-endian
//   0x01    boolean       u8 (0 = false)
//   0x02    string        u16 length + UTF-8 bytes
//   0x03    object        { u16 key length + key, value }* then 00 00 09
//   0x05    null          -
//   0x06    undefined     -
//   0x08    ECMA array    u32 count (advisory) then properties as in an object, then 00 00 09
//   0x09    object end    only valid after an empty key inside an object or ECMA array
//   0x0A    strict array  u32 count + count values
//   0x0B    date          double (ms since epoch) + s16 time zone (minutes, unused by Flash)
//   0x0C    long string   u32 length + UTF-8 bytes
//   others (movie clip, reference, record set, XML, typed object, AVM+) are refused.
//
// Decoding is bounded: nesting depth, string length and the number of values in one message are
// capped (Amf0Limits), and no allocation is sized from a length field before it is checked.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "ingest/proto/ParseResult.h"

namespace bloomcast::ingest {

// One AMF0 value. A plain value type: copyable, comparable, no sharing.
class Amf0 {
 public:
  enum class Type : uint8_t {
    kNumber,
    kBoolean,
    kString,
    kObject,
    kNull,
    kUndefined,
    kEcmaArray,
    kStrictArray,
    kDate,
    kLongString,
  };
  using Property = std::pair<std::string, Amf0>;

  Amf0() = default;  // null

  static Amf0 number(double value);
  static Amf0 boolean(bool value);
  // A string; encoded with the long-string marker when longer than 65535 bytes.
  static Amf0 string(std::string value);
  static Amf0 longString(std::string value);
  static Amf0 object(std::vector<Property> properties = {});
  static Amf0 ecmaArray(std::vector<Property> properties = {});
  static Amf0 strictArray(std::vector<Amf0> items = {});
  static Amf0 null();
  static Amf0 undefined();
  static Amf0 date(double ms_since_epoch, int16_t timezone_min = 0);

  Type type() const { return type_; }
  bool isNumber() const { return type_ == Type::kNumber; }
  bool isBoolean() const { return type_ == Type::kBoolean; }
  bool isString() const { return type_ == Type::kString || type_ == Type::kLongString; }
  // Object or ECMA array: both are ordered key/value lists.
  bool isObjectLike() const { return type_ == Type::kObject || type_ == Type::kEcmaArray; }
  bool isNull() const { return type_ == Type::kNull; }

  // The number (or date in ms); `fallback` for any other type.
  double asNumber(double fallback = 0) const;
  bool asBoolean() const { return type_ == Type::kBoolean && boolean_; }
  // The string; empty for any other type.
  std::string_view asString() const;
  int16_t timezoneMin() const { return timezone_min_; }
  // Properties of an object or ECMA array, in wire order; empty for other types.
  const std::vector<Property>& properties() const { return properties_; }
  // Items of a strict array; empty for other types.
  const std::vector<Amf0>& items() const { return items_; }

  // The first property named `key` of an object or ECMA array, or nullptr.
  const Amf0* find(std::string_view key) const;
  // find(key)->asString(), or empty when absent or not a string.
  std::string_view stringAt(std::string_view key) const;
  // Appends a property (object or ECMA array only; a no-op otherwise). Returns *this.
  Amf0& add(std::string key, Amf0 value);

  bool operator==(const Amf0& other) const;

 private:
  Type type_ = Type::kNull;
  bool boolean_ = false;
  double number_ = 0;
  int16_t timezone_min_ = 0;
  std::string string_;
  std::vector<Property> properties_;
  std::vector<Amf0> items_;
};

struct Amf0Limits {
  size_t max_depth = 16;            // an object inside an object inside ... (top level = 1)
  size_t max_string_bytes = 65536;  // per string, key or long string
  size_t max_values = 4096;         // values per decode call (a whole command message)
};

// Decodes the one AMF0 value at the front of `bytes`. NeedMore when the value is cut short,
// ParseError on an unknown or refused marker, a misplaced object end or a broken limit.
ParseResult<Amf0> decodeAmf0(std::span<const uint8_t> bytes, const Amf0Limits& limits = {});

// Decodes a complete message body: values back to back up to its last byte (an RTMP command is
// "name, transaction id, command object, arguments..."). Truncation is an error here; the limits
// apply to the whole body.
std::variant<std::vector<Amf0>, ParseError> decodeAmf0Sequence(std::span<const uint8_t> bytes,
                                                               const Amf0Limits& limits = {});

// Appends the encoding of `value` to `out`. Keys longer than 65535 bytes are cut to fit the
// u16 length (decoded values never have such keys).
void encodeAmf0(const Amf0& value, std::vector<uint8_t>& out);

// Encodes values back to back: the body of a command or data message.
std::vector<uint8_t> encodeAmf0Sequence(std::span<const Amf0> values);

}  // namespace bloomcast::ingest
