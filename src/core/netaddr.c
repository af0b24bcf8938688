/*
 * netaddr.c - IP address and CIDR values; the address classifier behind
 * upload-from-URL's deny list and tokens' client ranges.
 *
 * Everything here is a pure function of its input bytes, so the unit
 * tests and the fuzz target reach every branch without a network.
 */
#include "core/netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>

int px_ip_parse(const char *s, struct px_ip *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->b) == 1) {
		out->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->b) == 1) {
		out->family = 6;
		return 0;
	}
	return PX_EINVAL;
}

/* One part of a lenient IPv4 number; PX_EINVAL if not a number,
 * PX_ETOOBIG past 2^32 - 1. */
static int loose_part(const char *s, size_t n, uint64_t *v)
{
	unsigned base = 10;
	size_t i = 0;

	*v = 0;
	if (!n)
		return PX_EINVAL;
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2; /* "0x" alone is zero, as inet_aton reads it */
	} else if (n >= 2 && s[0] == '0') {
		base = 8;
		i = 1;
	}
	for (; i < n; i++) {
		int d = px_hexval((unsigned char)s[i]);

		if (d < 0 || (unsigned)d >= base)
			return PX_EINVAL;
		*v = *v * base + (unsigned)d;
		if (*v > 0xffffffffu)
			return PX_ETOOBIG;
	}
	return 0;
}

int px_ip4_parse_loose(const char *s, size_t n, struct px_ip *out)
{
	uint64_t part[4], v;
	size_t start = 0;
	int np = 0, rc;

	memset(out, 0, sizeof(*out));
	if (n && s[n - 1] == '.')
		n--; /* "127.0.0.1." is the same host */
	if (!n)
		return PX_EINVAL;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (np == 4)
			return PX_EINVAL;
		if ((rc = loose_part(s + start, i - start, &part[np])))
			return rc;
		np++;
		start = i + 1;
	}
	/* Every part but the last is one byte; the last fills the rest. */
	for (int i = 0; i < np - 1; i++)
		if (part[i] > 255)
			return PX_ETOOBIG;
	if (part[np - 1] > (0xffffffffu >> (8 * (np - 1))))
		return PX_ETOOBIG;
	v = part[np - 1];
	for (int i = 0; i < np - 1; i++)
		v |= part[i] << (8 * (3 - i));
	out->family = 4;
	out->b[0] = (uint8_t)(v >> 24);
	out->b[1] = (uint8_t)(v >> 16);
	out->b[2] = (uint8_t)(v >> 8);
	out->b[3] = (uint8_t)v;
	return 0;
}

void px_ip_format(const struct px_ip *ip, char *out, size_t n)
{
	if (!inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->b, out,
		       (socklen_t)n) &&
	    n)
		out[0] = '\0';
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

void px_ip_unmap(struct px_ip *ip)
{
	bool mapped, compat;

	if (ip->family != 6 || !all_zero(ip->b, 10))
		return;
	mapped = ip->b[10] == 0xff && ip->b[11] == 0xff;
	/* ::a.b.c.d, but not :: and ::1, which are IPv6's own. */
	compat = !ip->b[10] && !ip->b[11] &&
		 !(all_zero(ip->b + 12, 3) && ip->b[15] <= 1);
	if (!mapped && !compat)
		return;
	memmove(ip->b, ip->b + 12, 4);
	memset(ip->b + 4, 0, 12);
	ip->family = 4;
}

int px_cidr_parse(const char *s, size_t n, struct px_cidr *out)
{
	char text[64];
	const char *slash = memchr(s, '/', n);
	size_t na = slash ? (size_t)(slash - s) : n;
	long bits;
	int max;

	memset(out, 0, sizeof(*out));
	if (na >= sizeof(text))
		return PX_EINVAL;
	memcpy(text, s, na);
	text[na] = '\0';
	if (px_ip_parse(text, &out->ip))
		return PX_EINVAL;
	max = out->ip.family == 4 ? 32 : 128;
	bits = max;
	if (slash) {
		size_t nb = n - na - 1;

		if (!nb || nb > 3)
			return PX_EINVAL;
		bits = 0;
		for (size_t i = 0; i < nb; i++) {
			if (!isdigit((unsigned char)slash[1 + i]))
				return PX_EINVAL;
			bits = bits * 10 + (slash[1 + i] - '0');
		}
		if (bits > max || (nb > 1 && slash[1] == '0'))
			return PX_EINVAL;
	}
	out->bits = (int)bits;
	for (int i = (int)bits; i < max; i++)
		if (out->ip.b[i / 8] & (0x80 >> (i % 8)))
			return PX_EINVAL; /* host bits set */
	/* ::ffff:a.b.c.d/n (n >= 96) is the IPv4 range it spells. */
	if (out->ip.family == 6 && bits >= 96 && all_zero(out->ip.b, 10) &&
	    out->ip.b[10] == 0xff && out->ip.b[11] == 0xff) {
		memmove(out->ip.b, out->ip.b + 12, 4);
		memset(out->ip.b + 4, 0, 12);
		out->ip.family = 4;
		out->bits = (int)bits - 96;
	}
	return 0;
}

int px_cidr_list_parse(const char *csv, struct px_cidr *a, int max,
		       int *count, struct px_errbuf *eb)
{
	const char *p = csv ? csv : "";

	*count = 0;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *q = p;

		while (n && isspace((unsigned char)*q)) {
			q++;
			n--;
		}
		while (n && isspace((unsigned char)q[n - 1]))
			n--;
		if (n) {
			if (*count == max)
				return px_errf(eb, PX_ETOOBIG,
					       "more than %d address ranges", max);
			if (px_cidr_parse(q, n, &a[*count]))
				return px_errf(eb, PX_EINVAL,
					       "\"%.*s\" is not an address range such as 10.0.0.0/8",
					       (int)PX_MIN(n, 64), q);
			(*count)++;
		}
		p = end ? end + 1 : p + strlen(p);
	}
	return 0;
}

static bool prefix_match(const struct px_cidr *c, const struct px_ip *ip)
{
	int full = c->bits / 8, rest = c->bits % 8;

	if (ip->family != c->ip.family || memcmp(ip->b, c->ip.b, (size_t)full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((ip->b[full] & mask) != (c->ip.b[full] & mask))
			return false;
	}
	return true;
}

bool px_cidr_contains(const struct px_cidr *c, const struct px_ip *ip0)
{
	struct px_ip ip = *ip0;

	if (prefix_match(c, &ip))
		return true;
	px_ip_unmap(&ip);
	return prefix_match(c, &ip);
}

bool px_cidr_list_contains(const struct px_cidr *a, int n,
			   const struct px_ip *ip)
{
	for (int i = 0; i < n; i++)
		if (px_cidr_contains(&a[i], ip))
			return true;
	return false;
}

struct range {
	const char *cidr;
	const char *reason;
};

/* Ranges a fetch must not reach. Order matters only for the reason
 * reported: more specific ranges come first. */
static const struct range denied[] = {
	{"0.0.0.0/8", "unspecified"},
	{"10.0.0.0/8", "private"},
	{"100.64.0.0/10", "cgnat"},
	{"127.0.0.0/8", "loopback"},
	{"169.254.0.0/16", "link_local"},
	{"172.16.0.0/12", "private"},
	{"192.0.0.0/24", "reserved"},
	{"192.0.2.0/24", "reserved"},
	{"192.88.99.0/24", "reserved"},
	{"192.168.0.0/16", "private"},
	{"198.18.0.0/15", "reserved"},
	{"198.51.100.0/24", "reserved"},
	{"203.0.113.0/24", "reserved"},
	{"224.0.0.0/4", "multicast"},
	{"255.255.255.255/32", "broadcast"},
	{"240.0.0.0/4", "reserved"},
	{"::/128", "unspecified"},
	{"::1/128", "loopback"},
	{"64:ff9b::/96", "nat64"},
	{"64:ff9b:1::/48", "nat64"},
	{"100::/64", "reserved"},
	{"2001::/23", "reserved"},
	{"2001:db8::/32", "reserved"},
	{"2002::/16", "reserved"},
	{"fc00::/7", "unique_local"},
	{"fe80::/10", "link_local"},
	{"fec0::/10", "site_local"},
	{"ff00::/8", "multicast"},
};

static struct px_cidr table[PX_ARRAY_LEN(denied)];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void)
{
	for (size_t i = 0; i < PX_ARRAY_LEN(denied); i++)
		if (px_cidr_parse(denied[i].cidr, strlen(denied[i].cidr),
				  &table[i]))
			PX_BUG("bad range in the deny table");
}

const char *px_ip_classify(const struct px_ip *ip0)
{
	struct px_ip ip = *ip0;

	pthread_once(&table_once, build_table);
	px_ip_unmap(&ip);
	for (size_t i = 0; i < PX_ARRAY_LEN(denied); i++)
		if (px_cidr_contains(&table[i], &ip))
			return denied[i].reason;
	return NULL;
}
