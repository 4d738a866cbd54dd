#include "infra/TrustedProxies.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace bloomcast {
namespace {

constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// The longest text inet_pton can accept (an IPv6 address with an embedded IPv4 tail) is
// INET6_ADDRSTRLEN - 1 characters; anything longer is refused before it is copied.
constexpr std::size_t kMaxAddressText = INET6_ADDRSTRLEN - 1;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decimal digits only (no sign, no spaces), at most `max_digits` of them, value <= max.
std::optional<unsigned> parseSmallNumber(std::string_view text, std::size_t max_digits, unsigned max) {
  if (text.empty() || text.size() > max_digits) return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  unsigned value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  if (value > max) return std::nullopt;
  return value;
}

// inet_pton for one family; `text` is copied into a NUL-terminated buffer on the stack.
bool presentationToBytes(int family, std::string_view text, void* out) {
  if (text.empty() || text.size() > kMaxAddressText) return false;
  char buffer[kMaxAddressText + 1];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  return inet_pton(family, buffer, out) == 1;
}

std::optional<IpAddress> parseV4(std::string_view text) {
  IpAddress a;
  std::copy(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), a.bytes.begin());
  if (!presentationToBytes(AF_INET, text, a.bytes.data() + 12)) return std::nullopt;
  return a;
}

std::optional<IpAddress> parseV6(std::string_view text) {
  IpAddress a;
  if (!presentationToBytes(AF_INET6, text, a.bytes.data())) return std::nullopt;
  return a;
}

// True when the first `bits` bits of a and b agree.
bool samePrefix(const IpAddress& a, const IpAddress& b, int bits) {
  int whole = bits / 8;
  if (!std::equal(a.bytes.begin(), a.bytes.begin() + whole, b.bytes.begin())) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[whole] & mask) == (b.bytes[whole] & mask);
}

// Bits beyond the first `bits` are all zero.
bool hostBitsZero(const IpAddress& a, int bits) {
  for (int i = bits; i < 128; ++i)
    if (a.bytes[i / 8] & (0x80 >> (i % 8))) return false;
  return true;
}

}  // namespace

bool IpAddress::isV4() const { return std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), bytes.begin()); }

std::optional<IpAddress> parseIpAddress(std::string_view text) {
  // inet_pton(AF_INET6) also reads "::ffff:1.2.3.4", which isV4() then recognises.
  return text.find(':') == std::string_view::npos ? parseV4(text) : parseV6(text);
}

void formatIpAddress(const IpAddress& address, std::string& out) {
  char text[INET6_ADDRSTRLEN];
  const char* written = address.isV4() ? inet_ntop(AF_INET, address.bytes.data() + 12, text, sizeof text)
                                       : inet_ntop(AF_INET6, address.bytes.data(), text, sizeof text);
  out.assign(written ? written : "");
}

std::string formatIpAddress(const IpAddress& address) {
  std::string out;
  formatIpAddress(address, out);
  return out;
}

std::string addressKey(std::string_view ip) {
  if (ip.find(':') == std::string_view::npos) return std::string(ip);  // IPv4 (or not an address)
  auto address = parseIpAddress(ip);
  if (!address) return std::string(ip);
  if (address->isV4()) return formatIpAddress(*address);  // ::ffff:a.b.c.d
  std::fill(address->bytes.begin() + 8, address->bytes.end(), uint8_t{0});
  std::string key = formatIpAddress(*address);
  key.append("/64");
  return key;
}

bool IpNetwork::contains(const IpAddress& address) const {
  return address.isV4() == isV4() && samePrefix(address, base, prefix_bits);
}

std::expected<IpNetwork, Error> parseIpNetwork(std::string_view text) {
  auto refuse = [text](std::string why) {
    return std::unexpected(Error{"bad_address", "'" + std::string(text) + "' " + why});
  };
  auto slash = text.find('/');
  std::string_view address_text = text.substr(0, slash);
  auto address = parseIpAddress(address_text);
  if (!address)
    return refuse("is not an IPv4 or IPv6 address or CIDR block (such as 10.0.0.0/8, 127.0.0.1, ::1, fd00::/8)");
  bool v4_text = address_text.find(':') == std::string_view::npos;
  IpNetwork network{*address, 128};
  if (slash != std::string_view::npos) {
    unsigned max = v4_text ? 32 : 128;
    auto prefix = parseSmallNumber(text.substr(slash + 1), 3, max);
    if (!prefix) return refuse("has a bad prefix length: it must be 0.." + std::to_string(max));
    network.prefix_bits = static_cast<int>(*prefix) + (v4_text ? 96 : 0);
  }
  if (!hostBitsZero(network.base, network.prefix_bits))
    return refuse("has address bits set beyond its prefix (a typo for a network address?)");
  return network;
}

std::optional<IpAddress> parseForwardedElement(std::string_view element) {
  if (element.starts_with('[')) {  // [IPv6] or [IPv6]:port
    auto close = element.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view after = element.substr(close + 1);
    if (!after.empty() && (after.front() != ':' || !parseSmallNumber(after.substr(1), 5, 65535)))
      return std::nullopt;
    return parseV6(element.substr(1, close - 1));
  }
  auto colon = element.find(':');
  if (colon == std::string_view::npos) return parseV4(element);
  if (element.find(':', colon + 1) != std::string_view::npos) return parseV6(element);
  // One colon: IPv4 with a port.
  if (!parseSmallNumber(element.substr(colon + 1), 5, 65535)) return std::nullopt;
  return parseV4(element.substr(0, colon));
}

std::expected<TrustedProxies, Error> TrustedProxies::parse(const std::vector<std::string>& entries) {
  TrustedProxies set;
  set.networks_.reserve(entries.size());
  for (const auto& entry : entries) {
    auto network = parseIpNetwork(entry);
    if (!network) return std::unexpected(network.error());
    set.networks_.push_back(*network);
  }
  return set;
}

bool TrustedProxies::contains(const IpAddress& address) const {
  return std::any_of(networks_.begin(), networks_.end(),
                     [&address](const IpNetwork& n) { return n.contains(address); });
}

bool TrustedProxies::contains(std::string_view address) const {
  if (networks_.empty()) return false;
  auto parsed = parseIpAddress(address);
  return parsed && contains(*parsed);
}

ForwardedClient TrustedProxies::clientFrom(std::string_view forwarded_for, std::size_t max_elements) const {
  ForwardedClient result;
  std::string_view rest = forwarded_for;
  for (std::size_t pieces = 0;; ++pieces) {
    if (pieces == max_elements)
      return ForwardedClient{ForwardedClient::Kind::Invalid, {}, "more elements than the limit"};
    auto comma = rest.rfind(',');
    std::string_view element = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    if (!element.empty()) {
      auto address = parseForwardedElement(element);
      if (!address) return ForwardedClient{ForwardedClient::Kind::Invalid, {}, "an element is not an address"};
      // Trusted: remembered as the leftmost so far, and the walk goes on to its left.
      result = ForwardedClient{ForwardedClient::Kind::Found, *address, {}};
      if (!contains(*address)) return result;
    }
    if (comma == std::string_view::npos) return result;
    rest = rest.substr(0, comma);
  }
}

}  // namespace bloomcast
