// TrustedProxies: addresses and CIDR blocks as the trusted_proxies setting gives them, and the
// X-Forwarded-For walk that finds a request's client behind them (infra/TrustedProxies.h).
#include "infra/TrustedProxies.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace bloomcast {
namespace {

TrustedProxies trusting(const std::vector<std::string>& entries) {
  auto set = TrustedProxies::parse(entries);
  EXPECT_TRUE(set.has_value()) << set.error().message;
  return set.value_or(TrustedProxies{});
}

// `set` trusts every address in `in` and none in `out`.
void expectTrusts(const TrustedProxies& set, std::initializer_list<const char*> in,
                  std::initializer_list<const char*> out) {
  for (const char* address : in) EXPECT_TRUE(set.contains(address)) << address;
  for (const char* address : out) EXPECT_FALSE(set.contains(address)) << address;
}

// The client the walk finds, as text; "peer" when the request keeps its peer's address and
// "invalid" when the header could not be read.
std::string clientOf(const TrustedProxies& trusted, std::string_view header, std::size_t max_elements = 32) {
  auto found = trusted.clientFrom(header, max_elements);
  switch (found.kind) {
    case ForwardedClient::Kind::Absent: return "peer";
    case ForwardedClient::Kind::Invalid: return "invalid";
    case ForwardedClient::Kind::Found: return formatIpAddress(found.address);
  }
  return "?";
}

TEST(IpAddress, ParsesBareIpv4AndIpv6AndWritesThemCanonically) {
  EXPECT_EQ(formatIpAddress(*parseIpAddress("203.0.113.9")), "203.0.113.9");
  EXPECT_EQ(formatIpAddress(*parseIpAddress("2001:DB8:0:0::1")), "2001:db8::1");
  EXPECT_EQ(formatIpAddress(*parseIpAddress("::1")), "::1");
  for (const char* bad : {"", " 1.2.3.4", "1.2.3.4 ", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4",
                          "1.2.3.4/32", "[::1]", "::1%eth0", "2001:db8::g", "localhost", "1.2.3.4:80"})
    EXPECT_FALSE(parseIpAddress(bad).has_value()) << bad;
}

// One client, one key: an IPv4 client written as IPv4-mapped IPv6 is the same address.
TEST(IpAddress, Ipv4MappedIpv6IsTheIpv4Address) {
  auto mapped = parseIpAddress("::ffff:203.0.113.9");
  ASSERT_TRUE(mapped.has_value());
  EXPECT_TRUE(mapped->isV4());
  EXPECT_EQ(*mapped, *parseIpAddress("203.0.113.9"));
  EXPECT_EQ(formatIpAddress(*mapped), "203.0.113.9");
  EXPECT_FALSE(parseIpAddress("::203.0.113.9")->isV4()) << "IPv4-compatible is not IPv4-mapped";
}

// Per-address limits count an IPv6 client by its /64, however the address is written.
TEST(IpAddress, TheKeyOfAClientIsItsIpv4AddressOrItsIpv6Slash64) {
  EXPECT_EQ(addressKey("203.0.113.9"), "203.0.113.9");
  EXPECT_EQ(addressKey("::ffff:203.0.113.9"), "203.0.113.9");
  EXPECT_EQ(addressKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(addressKey("2001:DB8:1:2::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(addressKey("2001:db8:1:3::1"), "2001:db8:1:3::/64");
  EXPECT_EQ(addressKey("::1"), "::/64");
  EXPECT_EQ(addressKey("fe80::1:2:3:4"), "fe80::/64");
  EXPECT_EQ(addressKey(""), "");
  EXPECT_EQ(addressKey("not:an:address"), "not:an:address");
}

TEST(IpNetwork, HostsAndBlocksOfBothFamilies) {
  auto set = trusting({"10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8", "192.168.1.0/24"});
  expectTrusts(set, {"10.0.0.0", "10.255.255.255", "127.0.0.1", "192.168.1.255", "::1", "fd12:3456::1",
                     "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:10.1.2.3" /* a mapped IPv4 peer */},
               {"11.0.0.0", "9.255.255.255", "127.0.0.2", "192.168.2.0", "::2", "fe00::1", "not an address"});
}

TEST(IpNetwork, PrefixEdges) {
  // /32 and /128: exactly one host.
  expectTrusts(trusting({"198.51.100.7/32"}), {"198.51.100.7"}, {"198.51.100.6", "198.51.100.8"});
  expectTrusts(trusting({"2001:db8::7/128"}), {"2001:db8::7"}, {"2001:db8::6", "2001:db8::8"});
  // /0: every address of its own family, none of the other.
  expectTrusts(trusting({"0.0.0.0/0"}), {"0.0.0.0", "255.255.255.255"}, {"::1", "::"});
  expectTrusts(trusting({"::/0"}), {"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, {"10.0.0.1", "::ffff:10.0.0.1"});
  // Prefixes that end inside a byte.
  expectTrusts(trusting({"172.16.0.0/12", "2001:db8:8000::/33"}), {"172.31.255.255", "2001:db8:ffff::1"},
               {"172.32.0.0", "172.15.255.255", "2001:db8:7fff::1"});
  // An IPv4 block written as IPv4-mapped IPv6 is that IPv4 block.
  auto mapped_block = trusting({"::ffff:10.0.0.0/104"});
  EXPECT_TRUE(mapped_block.networks()[0].isV4());
  expectTrusts(mapped_block, {"10.9.8.7"}, {"11.0.0.0"});
}

TEST(IpNetwork, ABadEntryIsRefusedNamingIt) {
  for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/8",
                          "10.0.0.0/ 8", "/8", "10.0.0", "example.com", "10.1.2.3/8", "fd00::1/8",
                          "1.2.3.4:80", "[::1]", "*", "0.0.0.0/0000"}) {
    auto r = parseIpNetwork(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, "bad_address");
    EXPECT_NE(r.error().message.find("'" + std::string(bad) + "'"), std::string::npos) << r.error().message;
  }
  auto list = TrustedProxies::parse({"10.0.0.0/8", "10.0.0.256", "::1"});
  ASSERT_FALSE(list.has_value());
  EXPECT_NE(list.error().message.find("'10.0.0.256'"), std::string::npos) << list.error().message;
  EXPECT_TRUE(TrustedProxies::parse({})->empty());
}

TEST(ForwardedElement, AcceptsTheFormsProxiesWrite) {
  EXPECT_EQ(formatIpAddress(*parseForwardedElement("203.0.113.9")), "203.0.113.9");
  EXPECT_EQ(formatIpAddress(*parseForwardedElement("203.0.113.9:51234")), "203.0.113.9");
  EXPECT_EQ(formatIpAddress(*parseForwardedElement("2001:db8::9")), "2001:db8::9");
  EXPECT_EQ(formatIpAddress(*parseForwardedElement("[2001:db8::9]")), "2001:db8::9");
  EXPECT_EQ(formatIpAddress(*parseForwardedElement("[2001:db8::9]:443")), "2001:db8::9");
  EXPECT_EQ(formatIpAddress(*parseForwardedElement("::ffff:203.0.113.9")), "203.0.113.9");
  for (const char* bad : {"unknown", "_hidden", "203.0.113.9:", "203.0.113.9:65536", "203.0.113.9:-1",
                          "203.0.113.9:123456", "[2001:db8::9", "[2001:db8::9]:", "[2001:db8::9]x",
                          "[203.0.113.9]", "2001:db8::9:", "[]", "1.2.3.4 5.6.7.8", "1.2.3.4;", "\"1.2.3.4\""})
    EXPECT_FALSE(parseForwardedElement(bad).has_value()) << bad;
}

// The walk, from the right: trusted proxies are skipped, the first untrusted address is the
// client, whatever the client wrote to its left.
TEST(ForwardedFor, TheRightmostUntrustedAddressIsTheClient) {
  auto proxies = trusting({"10.0.0.0/8", "fd00::/8"});
  EXPECT_EQ(clientOf(proxies, "203.0.113.9"), "203.0.113.9");
  EXPECT_EQ(clientOf(proxies, "203.0.113.9, 10.0.0.2"), "203.0.113.9");
  EXPECT_EQ(clientOf(proxies, "203.0.113.9,10.0.0.2,10.0.0.3"), "203.0.113.9");
  EXPECT_EQ(clientOf(proxies, "198.51.100.1, 203.0.113.9, 10.0.0.2"), "203.0.113.9")
      << "what the client wrote to the left proves nothing";
  EXPECT_EQ(clientOf(proxies, "1.1.1.1, 10.0.0.1, 203.0.113.9"), "203.0.113.9")
      << "a trusted address the client wrote to the left of itself is not skipped over";
  EXPECT_EQ(clientOf(proxies, "[2001:db8::9]:443, fd00::2"), "2001:db8::9");
  EXPECT_EQ(clientOf(proxies, "::ffff:203.0.113.9, ::ffff:10.0.0.2"), "203.0.113.9");
  EXPECT_EQ(clientOf(proxies, "\t203.0.113.9:1234 ,  10.0.0.2  "), "203.0.113.9");
}

TEST(ForwardedFor, EveryElementTrustedGivesTheLeftmost) {
  auto proxies = trusting({"10.0.0.0/8"});
  EXPECT_EQ(clientOf(proxies, "10.0.0.7, 10.0.0.2, 10.0.0.3"), "10.0.0.7");
  EXPECT_EQ(clientOf(proxies, "10.0.0.7"), "10.0.0.7");
}

TEST(ForwardedFor, AnEmptyHeaderOrEmptyElementsLeaveThePeer) {
  auto proxies = trusting({"10.0.0.0/8"});
  EXPECT_EQ(clientOf(proxies, ""), "peer");
  EXPECT_EQ(clientOf(proxies, "  "), "peer");
  EXPECT_EQ(clientOf(proxies, " , ,"), "peer");
  EXPECT_EQ(clientOf(proxies, "203.0.113.9,, 10.0.0.2,"), "203.0.113.9") << "empty elements are passed over";
}

// A list that cannot be read is not guessed at: the request keeps its peer's address.
TEST(ForwardedFor, AMalformedElementStopsTheWalk) {
  auto proxies = trusting({"10.0.0.0/8"});
  EXPECT_EQ(clientOf(proxies, "garbage"), "invalid");
  EXPECT_EQ(clientOf(proxies, "203.0.113.9, unknown"), "invalid");
  EXPECT_EQ(clientOf(proxies, "203.0.113.9, garbage, 10.0.0.2"), "invalid");
  EXPECT_EQ(clientOf(proxies, "203.0.113.9 10.0.0.2"), "invalid");
  // Left of the client the walk never looks, so junk there costs nothing and changes nothing.
  EXPECT_EQ(clientOf(proxies, "garbage, 203.0.113.9, 10.0.0.2"), "203.0.113.9");
}

TEST(ForwardedFor, TheWalkStopsAtItsElementLimit) {
  auto proxies = trusting({"10.0.0.0/8"});
  std::string trusted_chain;
  for (int i = 1; i <= 32; ++i) trusted_chain += (i > 1 ? "," : "") + std::string("10.0.0.") + std::to_string(i);
  EXPECT_EQ(clientOf(proxies, trusted_chain), "10.0.0.1") << "32 elements: all read";
  EXPECT_EQ(clientOf(proxies, "203.0.113.9," + trusted_chain), "invalid") << "the 33rd is not read";
  EXPECT_EQ(clientOf(proxies, "203.0.113.9, 10.0.0.2", 1), "invalid");
  EXPECT_EQ(clientOf(proxies, "203.0.113.9, 10.0.0.2", 2), "203.0.113.9");
  // Elements beyond the client do not count: only what the walk looks at.
  std::string long_tail;
  for (int i = 0; i < 1000; ++i) long_tail += "198.51.100.1, ";
  EXPECT_EQ(clientOf(proxies, long_tail + "203.0.113.9, 10.0.0.2"), "203.0.113.9");
}

}  // namespace
}  // namespace bloomcast
