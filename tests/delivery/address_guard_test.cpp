#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/address_guard.hpp"

namespace webhookd {
namespace {

namespace ip = boost::asio::ip;

struct range_case {
    std::string_view host;   // as a URL host, parsed with parse_ip_literal
    std::string_view range;  // expected blocked_range name; empty for a public address
};

// Every range, its edges, and the spellings used to sneak past SSRF filters.
constexpr range_case range_cases[] = {
    // IPv4: this network, unspecified
    {"0.0.0.0", "unspecified"},
    {"0", "unspecified"},
    {"0.1.2.3", "this-network"},
    {"0.255.255.255", "this-network"},
    {"1.0.0.0", ""},
    // private 10/8
    {"9.255.255.255", ""},
    {"10.0.0.0", "private"},
    {"10.0.0.1", "private"},
    {"10.1", "private"},
    {"10.255.255.255", "private"},
    {"11.0.0.0", ""},
    // CGNAT 100.64/10
    {"100.63.255.255", ""},
    {"100.64.0.0", "cgnat"},
    {"100.64.0.1", "cgnat"},
    {"100.127.255.255", "cgnat"},
    {"100.128.0.1", ""},
    // loopback 127/8 in every spelling
    {"126.255.255.255", ""},
    {"127.0.0.1", "loopback"},
    {"127.0.0.1.", "loopback"},
    {"127.1", "loopback"},
    {"127.0.1", "loopback"},
    {"2130706433", "loopback"},
    {"0x7f000001", "loopback"},
    {"0X7F000001", "loopback"},
    {"0177.0.0.1", "loopback"},
    {"017700000001", "loopback"},
    {"0x7f.1", "loopback"},
    {"0x7f.0.0.0x1", "loopback"},
    {"127.255.255.254", "loopback"},
    {"128.0.0.0", ""},
    // link-local 169.254/16, cloud metadata
    {"169.253.255.255", ""},
    {"169.254.0.0", "link-local"},
    {"169.254.169.254", "link-local"},
    {"0xa9fea9fe", "link-local"},
    {"0251.0376.0251.0376", "link-local"},
    {"169.255.0.0", ""},
    // private 172.16/12
    {"172.15.255.255", ""},
    {"172.16.0.0", "private"},
    {"172.31.255.255", "private"},
    {"172.32.0.0", ""},
    // 192.0.0/24, 192.0.2/24, 192.88.99/24, 192.168/16
    {"191.255.255.255", ""},
    {"192.0.0.1", "ietf-protocol"},
    {"192.0.0.170", "ietf-protocol"},
    {"192.0.1.1", ""},
    {"192.0.2.1", "documentation"},
    {"192.0.3.0", ""},
    {"192.88.98.255", ""},
    {"192.88.99.1", "6to4"},
    {"192.88.100.0", ""},
    {"192.167.255.255", ""},
    {"192.168.0.1", "private"},
    {"192.168.255.255", "private"},
    {"192.169.0.0", ""},
    // benchmarking 198.18/15, documentation 198.51.100/24 and 203.0.113/24
    {"198.17.255.255", ""},
    {"198.18.0.0", "benchmarking"},
    {"198.19.255.255", "benchmarking"},
    {"198.20.0.0", ""},
    {"198.51.100.7", "documentation"},
    {"203.0.113.9", "documentation"},
    {"203.0.114.0", ""},
    // multicast, reserved, broadcast
    {"223.255.255.255", ""},
    {"224.0.0.1", "multicast"},
    {"239.255.255.250", "multicast"},
    {"240.0.0.1", "reserved"},
    {"255.255.255.254", "reserved"},
    {"255.255.255.255", "broadcast"},
    {"4294967295", "broadcast"},
    // public IPv4
    {"8.8.8.8", ""},
    {"134744072", ""},
    {"0x08080808", ""},
    {"1.1.1.1", ""},
    {"93.184.216.34", ""},

    // IPv6: unspecified, loopback
    {"::", "unspecified"},
    {"[::]", "unspecified"},
    {"::1", "loopback"},
    {"[::1]", "loopback"},
    {"[0:0:0:0:0:0:0:1]", "loopback"},
    // IPv4-mapped: judged by the embedded IPv4 address
    {"::ffff:127.0.0.1", "loopback"},
    {"[::ffff:7f00:1]", "loopback"},
    {"::ffff:10.0.0.1", "private"},
    {"::ffff:169.254.169.254", "link-local"},
    {"::ffff:0.0.0.0", "unspecified"},
    {"::ffff:100.64.0.1", "cgnat"},
    {"::ffff:8.8.8.8", ""},
    // IPv4-compatible, IPv4-translated, NAT64: all can reach IPv4, all blocked
    {"::127.0.0.1", "ipv4-compatible"},
    {"::8.8.8.8", "ipv4-compatible"},
    {"::2", "ipv4-compatible"},
    {"::ffff:0:7f00:1", "ipv4-translated"},
    {"64:ff9b::7f00:1", "nat64"},
    {"64:ff9b::808:808", "nat64"},
    {"64:ff9b:1::a00:1", "nat64"},
    {"64:ff9b:2::1", "reserved"},
    // discard, Teredo, IETF protocol assignments, ORCHID
    {"100::1", "discard"},
    {"100:0:0:1::1", "reserved"},
    {"2001::1", "teredo"},
    {"2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"},
    {"2001:1::1", "ietf-protocol"},
    {"2001:2::1", "benchmarking"},
    {"2001:10::1", "orchid"},
    {"2001:1f::1", "orchid"},
    {"2001:20::1", "orchid"},
    {"2001:1ff:ffff::1", "ietf-protocol"},
    {"2001:200::1", ""},
    // documentation, 6to4
    {"2001:db8::1", "documentation"},
    {"2001:db9::1", ""},
    {"2002:7f00:1::", "6to4"},
    {"2002::", "6to4"},
    {"2003::1", ""},
    {"3fff::1", "documentation"},
    {"3fff:fff:ffff::1", "documentation"},
    {"3fff:1000::1", ""},
    // ULA, link-local, site-local, multicast
    {"fbff:ffff::1", "reserved"},
    {"fc00::1", "ula"},
    {"fd00::1", "ula"},
    {"fd00:ec2::254", "ula"},
    {"fe80::1", "link-local"},
    {"febf:ffff::1", "link-local"},
    {"fec0::1", "site-local"},
    {"feff::1", "site-local"},
    {"ff02::1", "multicast"},
    {"ff05::1:3", "multicast"},
    // outside 2000::/3
    {"fe00::1", "reserved"},
    {"1fff:ffff::1", "reserved"},
    {"4000::1", "reserved"},
    {"5f00::1", "reserved"},
    // public IPv6
    {"2606:4700:4700::1111", ""},
    {"[2001:4860:4860::8888]", ""},
    {"2a00:1450:4001:81c::200e", ""},
    {"3ffe:ffff::1", ""},
};

TEST(blocked_range, names_the_range_of_every_table_entry) {
    EXPECT_GE(std::size(range_cases), 60u);
    for (const auto& c : range_cases) {
        SCOPED_TRACE(std::string(c.host));
        const auto a = parse_ip_literal(c.host);
        ASSERT_TRUE(a.has_value());
        const auto range = blocked_range(*a);
        if (c.range.empty()) {
            EXPECT_FALSE(range.has_value()) << range.value_or("");
        } else {
            EXPECT_EQ(range.value_or("public"), c.range);
        }
    }
}

TEST(check_address, allows_exactly_the_public_table_entries_when_nothing_is_allowed) {
    for (const auto& c : range_cases) {
        SCOPED_TRACE(std::string(c.host));
        const auto a = parse_ip_literal(c.host);
        ASSERT_TRUE(a.has_value());
        const address_verdict v = check_address(*a, {});
        EXPECT_EQ(v.allowed, c.range.empty());
        EXPECT_EQ(v.reason.empty(), c.range.empty()) << v.reason;
    }
}

TEST(blocked_range, ignores_the_ipv6_zone) {
    const ip::address_v6 a = ip::make_address_v6("fe80::1%1");
    EXPECT_EQ(a.scope_id(), 1u);
    EXPECT_EQ(blocked_range(a), "link-local");
}

TEST(check_address, reason_names_the_address_the_range_and_the_way_out) {
    const address_verdict v = check_address(ip::make_address("127.0.0.1"), {});
    EXPECT_FALSE(v.allowed);
    EXPECT_EQ(v.reason, "127.0.0.1 is in a blocked range (loopback); allow it with delivery.allowed_cidrs");

    const address_verdict mapped = check_address(ip::make_address("::ffff:169.254.169.254"), {});
    EXPECT_FALSE(mapped.allowed);
    EXPECT_EQ(mapped.reason,
              "::ffff:169.254.169.254 is in a blocked range (link-local); allow it with delivery.allowed_cidrs");
}

TEST(check_address, allowed_cidrs_let_their_ranges_through_and_nothing_else) {
    const std::vector<cidr> allowed{*parse_cidr("127.0.0.0/8"), *parse_cidr("fd00::/8")};
    const auto check = [&](const char* text) { return check_address(ip::make_address(text), allowed); };

    EXPECT_TRUE(check("127.0.0.1").allowed);
    EXPECT_TRUE(check("127.255.255.255").allowed);
    EXPECT_TRUE(check("::ffff:127.0.0.1").allowed);
    EXPECT_TRUE(check("fd00:ec2::254").allowed);
    EXPECT_EQ(check("127.0.0.1").reason,
              "127.0.0.1 is in a blocked range (loopback), allowed by delivery.allowed_cidrs entry 127.0.0.0/8");

    EXPECT_FALSE(check("10.0.0.1").allowed);
    EXPECT_FALSE(check("::ffff:10.0.0.1").allowed);
    EXPECT_FALSE(check("0.0.0.0").allowed);
    EXPECT_FALSE(check("::1").allowed);
    EXPECT_FALSE(check("::127.0.0.1").allowed);      // IPv4-compatible is not the mapped form
    EXPECT_FALSE(check("64:ff9b::7f00:1").allowed);  // nor is NAT64
    EXPECT_FALSE(check("fc00::1").allowed);
    EXPECT_FALSE(check("169.254.169.254").allowed);

    EXPECT_TRUE(check("8.8.8.8").allowed);
    EXPECT_TRUE(check("8.8.8.8").reason.empty());
}

TEST(check_address, a_nat64_network_can_allow_the_nat64_prefix) {
    const std::vector<cidr> allowed{*parse_cidr("64:ff9b::/96")};
    EXPECT_TRUE(check_address(ip::make_address("64:ff9b::808:808"), allowed).allowed);
    EXPECT_FALSE(check_address(ip::make_address("64:ff9b:1::808:808"), allowed).allowed);
}

TEST(parse_cidr, parses_networks_and_bare_addresses) {
    const auto check = [](const char* text, const char* expected) {
        SCOPED_TRACE(text);
        const auto c = parse_cidr(text);
        ASSERT_TRUE(c.has_value());
        EXPECT_EQ(to_string(*c), expected);
    };
    check("10.0.0.0/8", "10.0.0.0/8");
    check("127.0.0.0/8", "127.0.0.0/8");
    check("0.0.0.0/0", "0.0.0.0/0");
    check("192.168.1.1/32", "192.168.1.1/32");
    check("192.168.1.1", "192.168.1.1/32");
    check("fd00::/8", "fd00::/8");
    check("::/0", "::/0");
    check("::1", "::1/128");
    check("2001:db8::1/128", "2001:db8::1/128");
    check("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104");
    check("10.0.0.0/08", "10.0.0.0/8");
}

TEST(parse_cidr, clears_host_bits) {
    EXPECT_EQ(to_string(*parse_cidr("10.1.2.3/8")), "10.0.0.0/8");
    EXPECT_EQ(to_string(*parse_cidr("172.31.255.255/12")), "172.16.0.0/12");
    EXPECT_EQ(to_string(*parse_cidr("1.2.3.4/0")), "0.0.0.0/0");
    EXPECT_EQ(to_string(*parse_cidr("fdff:1:2::3/8")), "fd00::/8");
    EXPECT_EQ(to_string(*parse_cidr("fe80::1/10")), "fe80::/10");
    EXPECT_EQ(*parse_cidr("10.1.2.3/8"), *parse_cidr("10.0.0.0/8"));
}

TEST(parse_cidr, rejects_malformed_text) {
    for (const char* text : {"",
                             "/8",
                             "10.0.0.0/",
                             "10.0.0.0/33",
                             "10.0.0.0/999",
                             "10.0.0.0/0032",
                             "::/129",
                             "fd00::/200",
                             "10.0.0.0/-1",
                             "10.0.0.0/+8",
                             "10.0.0.0/8/8",
                             "10.0.0.0/ 8",
                             " 10.0.0.0/8",
                             "10.0.0.0/8 ",
                             "10.0.0.0/8x",
                             "10.0.0.0/0x8",
                             "10.0.0/8",
                             "127.1/8",
                             "0x7f000001/32",
                             "2130706433",
                             "010.0.0.0/8",
                             "256.0.0.0/8",
                             "garbage",
                             "garbage/8",
                             "localhost/32",
                             "fe80::1%eth0/64",
                             "[::1]/128",
                             "::1::/64",
                             "10.0.0.0\\8"}) {
        EXPECT_FALSE(parse_cidr(text).has_value()) << text;
    }
}

TEST(cidr_contains, checks_the_prefix_bits_at_the_edges) {
    const cidr c = *parse_cidr("172.16.0.0/12");
    EXPECT_FALSE(cidr_contains(c, ip::make_address("172.15.255.255")));
    EXPECT_TRUE(cidr_contains(c, ip::make_address("172.16.0.0")));
    EXPECT_TRUE(cidr_contains(c, ip::make_address("172.31.255.255")));
    EXPECT_FALSE(cidr_contains(c, ip::make_address("172.32.0.0")));

    const cidr host = *parse_cidr("10.0.0.5");
    EXPECT_TRUE(cidr_contains(host, ip::make_address("10.0.0.5")));
    EXPECT_FALSE(cidr_contains(host, ip::make_address("10.0.0.4")));

    const cidr v6 = *parse_cidr("fe80::/10");
    EXPECT_TRUE(cidr_contains(v6, ip::make_address("febf:ffff::1")));
    EXPECT_FALSE(cidr_contains(v6, ip::make_address("fec0::")));
    EXPECT_TRUE(cidr_contains(v6, ip::make_address_v6("fe80::1%3")));
}

TEST(cidr_contains, treats_ipv4_and_ipv4_mapped_ipv6_as_one_space) {
    const cidr v4 = *parse_cidr("10.0.0.0/8");
    EXPECT_TRUE(cidr_contains(v4, ip::make_address("::ffff:10.0.0.1")));
    EXPECT_FALSE(cidr_contains(v4, ip::make_address("::ffff:11.0.0.1")));
    EXPECT_FALSE(cidr_contains(v4, ip::make_address("::10.0.0.1")));  // IPv4-compatible is not mapped
    EXPECT_FALSE(cidr_contains(v4, ip::make_address("64:ff9b::a00:1")));
    EXPECT_FALSE(cidr_contains(v4, ip::make_address("a00:1::")));

    const cidr mapped = *parse_cidr("::ffff:10.0.0.0/104");
    EXPECT_TRUE(cidr_contains(mapped, ip::make_address("10.0.0.1")));
    EXPECT_TRUE(cidr_contains(mapped, ip::make_address("::ffff:10.0.0.1")));
    EXPECT_FALSE(cidr_contains(mapped, ip::make_address("11.0.0.1")));

    const cidr all_v6 = *parse_cidr("::/0");
    EXPECT_TRUE(cidr_contains(all_v6, ip::make_address("127.0.0.1")));
    EXPECT_TRUE(cidr_contains(all_v6, ip::make_address("::1")));
    const cidr all_v4 = *parse_cidr("0.0.0.0/0");
    EXPECT_TRUE(cidr_contains(all_v4, ip::make_address("127.0.0.1")));
    EXPECT_TRUE(cidr_contains(all_v4, ip::make_address("::ffff:127.0.0.1")));
    EXPECT_FALSE(cidr_contains(all_v4, ip::make_address("::1")));
    const cidr ula = *parse_cidr("fd00::/8");
    EXPECT_FALSE(cidr_contains(ula, ip::make_address("127.0.0.1")));
}

TEST(parse_ip_literal, decodes_inet_aton_spellings_to_the_same_address) {
    const auto loopback = ip::make_address("127.0.0.1");
    for (const char* host : {"127.0.0.1", "127.1", "127.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "0x7f.1",
                             "0x7F.0x0.0.01", "00000177.0.0.1", "0x00007f.1", "127.0.0.1."}) {
        EXPECT_EQ(parse_ip_literal(host), loopback) << host;
    }
    EXPECT_EQ(parse_ip_literal("1.16777215"), ip::make_address("1.255.255.255"));
    EXPECT_EQ(parse_ip_literal("1.2.65535"), ip::make_address("1.2.255.255"));
    EXPECT_EQ(parse_ip_literal("1.2.3.255"), ip::make_address("1.2.3.255"));
    EXPECT_EQ(parse_ip_literal("4294967295"), ip::make_address("255.255.255.255"));
    EXPECT_EQ(parse_ip_literal("0xffffffff"), ip::make_address("255.255.255.255"));
    EXPECT_EQ(parse_ip_literal("037777777777"), ip::make_address("255.255.255.255"));
    EXPECT_EQ(parse_ip_literal("0x"), ip::make_address("0.0.0.0"));
    EXPECT_EQ(parse_ip_literal("0.0x.0"), ip::make_address("0.0.0.0"));
}

TEST(parse_ip_literal, parses_ipv6_with_or_without_brackets) {
    EXPECT_EQ(parse_ip_literal("[::1]"), ip::make_address("::1"));
    EXPECT_EQ(parse_ip_literal("::1"), ip::make_address("::1"));
    EXPECT_EQ(parse_ip_literal("[::ffff:127.0.0.1]"), ip::make_address("::ffff:7f00:1"));
    EXPECT_EQ(parse_ip_literal("[FD00:EC2::254]"), ip::make_address("fd00:ec2::254"));
}

TEST(parse_ip_literal, returns_nullopt_for_host_names_and_malformed_literals) {
    for (const char* host :
         {"", "example.com", "localhost", "1.2.3.a", "a.1.2.3", "0xdeadbeef.com", "127.0.0.1.example.com",
          // malformed numbers: looks_numeric is true for these, so the client refuses them
          "1.2.3.4.5", "256.1.1.1", "1.256.1.1", "1.2.256.1", "1.2.3.256", "1.16777216", "1.2.65536", "4294967296",
          "0x100000000", "99999999999999999999999", "08", "09.1.1.1", "0x7g.1", "1..1", ".1.1.1", "1.2.3.4..", ".",
          "-1", "+1", "1e3", "1.2.3.4 ", " 1.2.3.4",
          // bad IPv6
          "[", "[]", "[::1", "::1]", "[127.0.0.1]", "[fe80::1%25eth0]", "fe80::1%eth0", "[::1]:80", "1::2::3", "[::g]",
          "::ffff:127.1"}) {
        EXPECT_FALSE(parse_ip_literal(host).has_value()) << host;
    }
    EXPECT_FALSE(parse_ip_literal(std::string_view("::1\0junk", 8)).has_value());
    EXPECT_FALSE(parse_ip_literal(std::string_view("127.0.0.1\0", 10)).has_value());
    EXPECT_FALSE(parse_ip_literal("\xef\xbc\x91\xef\xbc\x92\xef\xbc\x97.0.0.1").has_value());  // fullwidth "127"
}

TEST(looks_numeric, is_true_for_hosts_meant_as_ip_addresses) {
    for (const char* host :
         {"127.0.0.1", "127.1", "2130706433", "0x7f000001", "1.2.3.4.5", "256.1.1.1", "1..1", "1.2.3.4..", "foo.123",
          "foo.0x10", "foo.0x", "example.com.1.", "[::1]", "[", "::1", "fe80::1%eth0"}) {
        EXPECT_TRUE(looks_numeric(host)) << host;
    }
}

TEST(looks_numeric, is_false_for_dns_names) {
    for (const char* host : {"", "example.com", "localhost", "1.2.3.a", "0xdeadbeef.com", "123.example", "a1", "1a",
                             "0x7g", "foo.0x1g", "xn--bcher-kva.example", "example.com."}) {
        EXPECT_FALSE(looks_numeric(host)) << host;
    }
}

TEST(looks_numeric, holds_for_every_address_parse_ip_literal_accepts) {
    for (const auto& c : range_cases) EXPECT_TRUE(looks_numeric(c.host)) << c.host;
}

}  // namespace
}  // namespace webhookd
