/*
 * test_netaddr.c - address parsing, CIDR ranges and the classifier that
 * keeps upload-from-URL away from internal addresses: every denied range,
 * each odd spelling of an IPv4 address, IPv6 forms that carry IPv4.
 */
#include "core/netaddr.c"
#include "t.h"

/* Classify a host spelled any way a URL may spell an address. */
static const char *klass(const char *s)
{
	struct px_ip a;

	if (px_ip_parse(s, &a) && px_ip4_parse_loose(s, strlen(s), &a))
		return "unparsed";
	return px_ip_classify(&a) ? px_ip_classify(&a) : "public";
}

static void classifier(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		/* IPv4 ranges, edges included */
		{"0.0.0.0", "unspecified"},
		{"0.255.255.255", "unspecified"},
		{"1.0.0.0", "public"},
		{"9.255.255.255", "public"},
		{"10.0.0.0", "private"},
		{"10.255.255.255", "private"},
		{"11.0.0.0", "public"},
		{"100.63.255.255", "public"},
		{"100.64.0.0", "cgnat"},
		{"100.127.255.255", "cgnat"},
		{"100.128.0.0", "public"},
		{"126.255.255.255", "public"},
		{"127.0.0.1", "loopback"},
		{"127.0.0.6", "loopback"},
		{"127.255.255.255", "loopback"},
		{"128.0.0.0", "public"},
		{"169.254.169.254", "link_local"},
		{"169.254.0.1", "link_local"},
		{"169.255.0.1", "public"},
		{"172.15.255.255", "public"},
		{"172.16.0.0", "private"},
		{"172.31.255.255", "private"},
		{"172.32.0.0", "public"},
		{"192.0.0.8", "reserved"},
		{"192.0.2.1", "reserved"},
		{"192.88.99.1", "reserved"},
		{"192.167.255.255", "public"},
		{"192.168.0.1", "private"},
		{"192.168.255.255", "private"},
		{"192.169.0.0", "public"},
		{"198.18.0.1", "reserved"},
		{"198.19.255.255", "reserved"},
		{"198.51.100.7", "reserved"},
		{"203.0.113.9", "reserved"},
		{"8.8.8.8", "public"},
		{"93.184.215.14", "public"},
		{"223.255.255.255", "public"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.254", "reserved"},
		{"255.255.255.255", "broadcast"},
		/* odd spellings of loopback, metadata and private addresses */
		{"2130706433", "loopback"},
		{"017700000001", "loopback"},
		{"0x7f000001", "loopback"},
		{"0x7F.1", "loopback"},
		{"127.1", "loopback"},
		{"127.0.1", "loopback"},
		{"0177.0.0.1", "loopback"},
		{"0177.00.00.01", "loopback"},
		{"0x7f.0x0.0x0.0x1", "loopback"},
		{"127.0.0.1.", "loopback"},
		{"0", "unspecified"},
		{"0x0", "unspecified"},
		{"2852039166", "link_local"},
		{"0xa9fea9fe", "link_local"},
		{"0251.0376.0251.0376", "link_local"},
		{"169.254.43518", "link_local"},
		{"0xa.1", "private"},
		{"167772161", "private"},
		{"3232235521", "private"},
		{"192.11010049", "private"},
		{"134744072", "public"},
		/* not numbers: left to the resolver (then classified) */
		{"127.0.0.1.2", "unparsed"},
		{"256.0.0.1", "unparsed"},
		{"1.2.3.256", "unparsed"},
		{"4294967296", "unparsed"},
		{"0x100000000", "unparsed"},
		{"08.0.0.1", "unparsed"},
		{"1..1", "unparsed"},
		{".1", "unparsed"},
		{"localhost", "unparsed"},
		{"0x", "unspecified"},
		{"", "unparsed"},
		/* IPv6 */
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"0:0:0:0:0:0:0:1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:7f00:1", "loopback"},
		{"::ffff:169.254.169.254", "link_local"},
		{"::ffff:10.0.0.1", "private"},
		{"::ffff:8.8.8.8", "public"},
		{"::127.0.0.1", "loopback"},
		{"::7f00:1", "loopback"},
		{"::10.1.2.3", "private"},
		{"::0.0.0.2", "unspecified"},
		{"64:ff9b::7f00:1", "nat64"},
		{"64:ff9b::808:808", "nat64"},
		{"2002:7f00:1::", "reserved"},
		{"2001::1", "reserved"},
		{"2001:db8::1", "reserved"},
		{"100::1", "reserved"},
		{"fc00::1", "unique_local"},
		{"fd12:3456::1", "unique_local"},
		{"fe80::1", "link_local"},
		{"febf::1", "link_local"},
		{"fec0::1", "site_local"},
		{"ff02::1", "multicast"},
		{"ff05::2", "multicast"},
		{"2606:4700::1111", "public"},
		{"2a00:1450:4001::200e", "public"},
		{"[::1]", "unparsed"},
		{"::1%lo", "unparsed"},
		{":::1", "unparsed"},
	};

	T_CASE("classifier table") {
		for (size_t i = 0; i < PX_ARRAY_LEN(cases); i++) {
			const char *got = klass(cases[i].in);

			if (strcmp(got, cases[i].want))
				fprintf(stderr, "  \"%s\": %s, want %s\n", cases[i].in,
					got, cases[i].want);
			T_STREQ(got, cases[i].want);
		}
		T_OK(PX_ARRAY_LEN(cases) >= 60);
	}
}

static void cidrs(void)
{
	struct px_cidr c, list[4];
	struct px_errbuf eb = {0};
	struct px_ip a;
	char text[PX_IP_TEXT_MAX];
	int n;

	T_CASE("cidr parse") {
		T_EQ(px_cidr_parse("10.0.0.0/8", 10, &c), 0);
		T_EQ(c.bits, 8);
		T_EQ(px_cidr_parse("127.0.0.2", 9, &c), 0);
		T_EQ(c.bits, 32);
		T_EQ(px_cidr_parse("::1", 3, &c), 0);
		T_EQ(c.bits, 128);
		T_EQ(px_cidr_parse("fe80::/10", 9, &c), 0);
		T_EQ(px_cidr_parse("0.0.0.0/0", 9, &c), 0);
		T_EQ(px_cidr_parse("10.0.0.1/8", 10, &c), PX_EINVAL);
		T_EQ(px_cidr_parse("10.0.0.0/33", 11, &c), PX_EINVAL);
		T_EQ(px_cidr_parse("10.0.0.0/", 9, &c), PX_EINVAL);
		T_EQ(px_cidr_parse("10.0.0.0/08", 11, &c), PX_EINVAL);
		T_EQ(px_cidr_parse("10.0.0.0/-1", 11, &c), PX_EINVAL);
		T_EQ(px_cidr_parse("10/8", 4, &c), PX_EINVAL);
		T_EQ(px_cidr_parse("::/129", 6, &c), PX_EINVAL);
	}
	T_CASE("cidr contains") {
		px_cidr_parse("127.0.0.0/30", 12, &c);
		px_ip_parse("127.0.0.3", &a);
		T_OK(px_cidr_contains(&c, &a));
		px_ip_parse("127.0.0.4", &a);
		T_OK(!px_cidr_contains(&c, &a));
		px_ip_parse("::ffff:127.0.0.1", &a);
		T_OK(px_cidr_contains(&c, &a));
		px_cidr_parse("0.0.0.0/0", 9, &c);
		px_ip_parse("::1", &a);
		T_OK(!px_cidr_contains(&c, &a));
		px_cidr_parse("::/0", 4, &c);
		T_OK(px_cidr_contains(&c, &a));
		T_EQ(px_cidr_parse("::ffff:10.0.0.0/104", 19, &c), 0);
		T_EQ(c.ip.family, 4);
		T_EQ(c.bits, 8);
		px_ip_parse("10.9.8.7", &a);
		T_OK(px_cidr_contains(&c, &a));
		T_EQ(px_cidr_parse("::f1", 4, &c), 0);
		T_OK(px_cidr_contains(&c, &c.ip));
	}
	T_CASE("cidr lists") {
		T_EQ(px_cidr_list_parse(" 127.0.0.5/32 , ::1 ,", list, 4, &n, &eb), 0);
		T_EQ(n, 2);
		T_EQ(px_cidr_list_parse("", list, 4, &n, &eb), 0);
		T_EQ(n, 0);
		T_EQ(px_cidr_list_parse(NULL, list, 4, &n, &eb), 0);
		T_EQ(px_cidr_list_parse("1.0.0.0/8,2.0.0.0/8,3.0.0.0/8,4.0.0.0/8,5.0.0.0/8",
					list, 4, &n, &eb), PX_ETOOBIG);
		T_EQ(px_cidr_list_parse("10.0.0.0/8,bogus", list, 4, &n, &eb), PX_EINVAL);
		T_OK(strstr(eb.msg, "bogus") != NULL);
	}
	T_CASE("format and unmap") {
		px_ip_parse("::ffff:10.1.2.3", &a);
		px_ip_unmap(&a);
		T_EQ(a.family, 4);
		px_ip_format(&a, text, sizeof(text));
		T_STREQ(text, "10.1.2.3");
		px_ip_parse("::1", &a);
		px_ip_unmap(&a);
		T_EQ(a.family, 6);
		px_ip_parse("::", &a);
		px_ip_unmap(&a);
		T_EQ(a.family, 6);
		px_ip_parse("2001:db8::1", &a);
		px_ip_format(&a, text, sizeof(text));
		T_STREQ(text, "2001:db8::1");
		T_EQ(px_ip4_parse_loose("4294967295", 10, &a), 0);
		px_ip_format(&a, text, sizeof(text));
		T_STREQ(text, "255.255.255.255");
		T_EQ(px_ip4_parse_loose("1.2.3.4.5", 9, &a), PX_EINVAL);
		T_EQ(px_ip4_parse_loose("1.16777216", 10, &a), PX_ETOOBIG);
		T_EQ(px_ip4_parse_loose("1.16777215", 10, &a), 0);
	}
}

static void run(void)
{
	classifier();
	cidrs();
}
