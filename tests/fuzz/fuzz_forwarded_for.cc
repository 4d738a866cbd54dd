// Fuzz target: trusted proxies and the X-Forwarded-For walk (infra/TrustedProxies.h). The input
// is "ENTRIES\nHEADER": ENTRIES a comma list as trusted_proxies gives it, HEADER the joined
// X-Forwarded-For of a request from a trusted peer (with no '\n', everything is the header and
// 10.0.0.0/8 and ::1 are trusted). Beyond "no crash":
//   - every entry: accepted as a network that contains its own base and keeps no bits past its
//     prefix, or refused with bad_address and a message quoting it; an accepted list is every
//     entry accepted
//   - every address the parsers accept writes back as text that parses to the same address, and
//     an IPv4-mapped address writes as IPv4
//   - the walk agrees with the walk written the plain way (split into elements, from the right:
//     skip empty, stop on a non-address, skip trusted, the first untrusted is the client, else
//     the leftmost) with the default limit of 32 and with a small one; with the small limit it
//     answers as with 32 unless it gave up (Invalid)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "infra/TrustedProxies.h"

using namespace bloomcast;

namespace {

using Kind = ForwardedClient::Kind;

void check(bool ok) {
  if (!ok) std::abort();
}

std::vector<std::string_view> split(std::string_view text, char at) {
  std::vector<std::string_view> out;
  for (;;) {
    auto next = text.find(at);
    out.push_back(text.substr(0, next));
    if (next == std::string_view::npos) return out;
    text.remove_prefix(next + 1);
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void checkRoundTrip(const IpAddress& a) {
  std::string text = formatIpAddress(a);
  check(!text.empty() && text.find_first_of(", \t[]") == std::string::npos);
  auto again = parseIpAddress(text);
  check(again && *again == a);
  check(a.isV4() == (text.find(':') == std::string::npos));
}

bool sameResult(const ForwardedClient& a, const ForwardedClient& b) {
  return a.kind == b.kind && (a.kind != Kind::Found || a.address == b.address);
}

// The walk as TrustedProxies.h describes it, over the header split into elements.
ForwardedClient plainWalk(const TrustedProxies& trusted, std::string_view header, std::size_t max_elements) {
  auto pieces = split(header, ',');
  ForwardedClient result;
  std::size_t looked = 0;
  for (auto piece = pieces.rbegin(); piece != pieces.rend(); ++piece) {
    if (looked++ == max_elements) return {Kind::Invalid, {}, "limit"};
    std::string_view element = trim(*piece);
    if (element.empty()) continue;
    auto address = parseForwardedElement(element);
    if (!address) return {Kind::Invalid, {}, "not an address"};
    result = {Kind::Found, *address, {}};
    if (!trusted.contains(*address)) return result;
  }
  return result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto newline = input.find('\n');
  std::string_view entries_text = newline == std::string_view::npos ? "10.0.0.0/8,::1" : input.substr(0, newline);
  std::string_view header = newline == std::string_view::npos ? input : input.substr(newline + 1);

  std::vector<std::string> entries;
  bool all_accepted = true;
  for (std::string_view entry : split(entries_text, ',')) {
    auto network = parseIpNetwork(entry);
    if (network) {
      check(network->prefix_bits >= 0 && network->prefix_bits <= 128);
      check(network->contains(network->base));
      checkRoundTrip(network->base);
      auto host = parseIpNetwork(formatIpAddress(network->base));
      check(host && host->prefix_bits == 128 && host->isV4() == network->base.isV4());
    } else {
      check(network.error().code == "bad_address");
      check(network.error().message.find("'" + std::string(entry) + "'") != std::string::npos);
      all_accepted = false;
    }
    entries.emplace_back(entry);
  }
  auto trusted = TrustedProxies::parse(entries);
  check(trusted.has_value() == all_accepted);
  if (!trusted) trusted = TrustedProxies::parse({"10.0.0.0/8", "::1"});

  for (std::string_view piece : split(header, ',')) {
    auto address = parseForwardedElement(trim(piece));
    if (address) {
      checkRoundTrip(*address);
      check(*parseForwardedElement(formatIpAddress(*address)) == *address);
    }
    if (auto bare = parseIpAddress(piece)) check(address && *address == *bare);
  }

  auto found = trusted->clientFrom(header, 32);
  check(sameResult(found, plainWalk(*trusted, header, 32)));
  if (found.kind == Kind::Found) checkRoundTrip(found.address);
  if (found.kind == Kind::Invalid) check(!found.why.empty());
  check(sameResult(found, trusted->clientFrom(header, 32)));

  std::size_t small = size % 4 + 1;
  auto bounded = trusted->clientFrom(header, small);
  check(sameResult(bounded, plainWalk(*trusted, header, small)));
  check(bounded.kind == Kind::Invalid || sameResult(bounded, found));
  return 0;
}
