#pragma once
// TrustedProxies: the reverse proxies (a TLS terminator, a cloud load balancer) whose
// X-Forwarded-For this server believes, and the walk that finds a request's client in it.
//
// Behind a proxy every TCP peer is the proxy, and per-address limits would see the whole
// audience as one client. Each proxy appends the address it got the request from, so only the
// right end of the list was written by proxies we trust; anything to the left of the first
// address they did not write came from the client and proves nothing:
//
//   peer 10.0.0.1 (trusted)     X-Forwarded-For: 198.51.100.7, 203.0.113.9, 10.0.0.2
//                                                ^ whatever     ^ client     ^ trusted: skipped
//
// So the walk goes from the right, skips trusted addresses, and the first untrusted one is the
// client; when every address is trusted, the leftmost is. An element that is not an address
// stops the walk and the request keeps its peer's address: a list we cannot read is not
// guessed at. Elements: bare IPv4 ("203.0.113.9"), IPv4 with a port ("203.0.113.9:51234"),
// bare IPv6 ("2001:db8::1"), bracketed IPv6 with or without a port ("[2001:db8::1]:443"),
// each with spaces or tabs around it; empty elements (",,") are passed over, as RFC 9110 5.6.1
// asks of lists.
//
// Addresses are 16 bytes with IPv4 held as IPv4-mapped IPv6 (::ffff:a.b.c.d), so a client has
// one key however it was written ("::ffff:203.0.113.9" is "203.0.113.9"). An IPv4 network
// matches IPv4 addresses only and an IPv6 network IPv6 addresses only: "::/0" trusts every
// IPv6 peer, not the IPv4 ones too. Text is parsed by inet_pton and written by inet_ntop.
//
// Pure: text in, addresses out, no sockets or clocks (fuzzed: tests/fuzz/fuzz_forwarded_for.cc).
// Thread: a TrustedProxies is a plain value, built once at start and then only read.
#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "infra/Error.h"

namespace bloomcast {

struct IpAddress {
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 as ::ffff:a.b.c.d

  bool isV4() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// A bare IPv4 or IPv6 address ("10.0.0.1", "::1"): no brackets, port, zone, prefix or spaces.
std::optional<IpAddress> parseIpAddress(std::string_view text);
// The address as text: dotted quad for IPv4 (also when it came as ::ffff:a.b.c.d), RFC 5952
// for IPv6. Into `out`, whose storage is kept.
void formatIpAddress(const IpAddress& address, std::string& out);
std::string formatIpAddress(const IpAddress& address);

// The key per-address limits (connections, rate limits) count a client under: an IPv4 address
// as it is; an IPv6 address by its /64, as "2001:db8:1:2::/64". A home, office or phone network
// gets a whole /64 and its hosts pick addresses in it at will (RFC 4941 privacy addresses), so
// counting each IPv6 address apart would let one client count as 2^64. Text that is not an
// address is its own key.
std::string addressKey(std::string_view ip);

// One CIDR block. `prefix_bits` counts in the 128-bit space: an IPv4 /n is 96 + n.
struct IpNetwork {
  IpAddress base;  // its bits beyond the prefix are zero
  int prefix_bits = 128;

  bool isV4() const { return prefix_bits >= 96 && base.isV4(); }
  bool contains(const IpAddress& address) const;
};

// "ADDRESS" (a single host) or "ADDRESS/PREFIX" (0..32 for IPv4, 0..128 for IPv6). An address
// with bits set beyond its prefix ("10.1.2.3/8") is refused as a likely typo. Error code
// "bad_address", the message naming the text.
std::expected<IpNetwork, Error> parseIpNetwork(std::string_view text);

// One X-Forwarded-For element, trimmed (see the header comment for the forms accepted).
std::optional<IpAddress> parseForwardedElement(std::string_view element);

// What the walk found.
struct ForwardedClient {
  enum class Kind {
    Absent,   // no element at all: the request keeps its peer's address
    Found,    // `address` is the client
    Invalid,  // unusable (`why`): the request keeps its peer's address
  };
  Kind kind = Kind::Absent;
  IpAddress address;
  std::string_view why;  // a static string
};

class TrustedProxies {
 public:
  TrustedProxies() = default;  // trusts no one

  // Every entry parsed as by parseIpNetwork; the first bad one is the error.
  static std::expected<TrustedProxies, Error> parse(const std::vector<std::string>& entries);

  bool empty() const { return networks_.empty(); }
  const std::vector<IpNetwork>& networks() const { return networks_; }
  bool contains(const IpAddress& address) const;
  // The same for an address as text; false for text that is not an address.
  bool contains(std::string_view address) const;

  // The client of a request whose TCP peer is trusted, from its X-Forwarded-For (every such
  // field joined by ','), walked from the right. At most `max_elements` comma-separated pieces
  // are looked at (HttpHeadLimits::max_forwarded_for_elements): a walk that would go further
  // is Invalid. The work is proportional to the part of the header walked, not its length.
  ForwardedClient clientFrom(std::string_view forwarded_for, std::size_t max_elements) const;

 private:
  std::vector<IpNetwork> networks_;
};

}  // namespace bloomcast
