/*
 * netaddr.h - IP addresses and CIDR ranges as values: strict and lenient
 * parsing, range membership, and the classification of an address into
 * the ranges a server must never be made to connect to.
 *
 * Pure functions over bytes (no resolver, no sockets), shared by the
 * token module (a token's allowed client ranges) and the URL fetcher
 * (where an upload-from-URL may connect). IPv4 addresses are kept as
 * such; IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d)
 * IPv6 addresses are unwrapped by px_ip_unmap() so one IPv4 rule covers
 * every spelling.
 */
#ifndef PX_NETADDR_H
#define PX_NETADDR_H

#include "core/common.h"

struct px_ip {
	int family;     /* 4 or 6 */
	uint8_t b[16]; /* network order; IPv4 in b[0..3] */
};

struct px_cidr {
	struct px_ip ip; /* host bits cleared */
	int bits;
};

#define PX_IP_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

/* Strict: dotted-quad IPv4 ("127.0.0.1") or RFC 4291 IPv6 text, as
 * inet_pton() accepts them ("[...]" not allowed). PX_EINVAL otherwise. */
int px_ip_parse(const char *s, struct px_ip *out);

/*
 * Lenient IPv4, as inet_aton() and URL parsers read a host: one to four
 * parts, each decimal, octal (leading 0) or hex (0x), the last part
 * filling the remaining bytes ("127.1", "2130706433", "0x7f.1",
 * "0177.0.0.1"); one trailing dot is allowed. PX_EINVAL when s is not
 * such a number, PX_ETOOBIG when a part overflows its bytes.
 */
int px_ip4_parse_loose(const char *s, size_t n, struct px_ip *out);

/* "a.b.c.d" or canonical IPv6 text into out (at least PX_IP_TEXT_MAX). */
void px_ip_format(const struct px_ip *ip, char *out, size_t n);

/* Turn IPv4-mapped and IPv4-compatible IPv6 into IPv4 (in place);
 * "::" and "::1" stay IPv6. */
void px_ip_unmap(struct px_ip *ip);

/* "10.0.0.0/8", "fe80::/10", or a bare address (a /32 or /128). Host bits
 * set under the prefix are refused (PX_EINVAL), so "10.1.2.3/8" is a
 * mistake, not a silent widening. An IPv4-mapped range
 * (::ffff:10.0.0.0/104) becomes the IPv4 range it spells. */
int px_cidr_parse(const char *s, size_t n, struct px_cidr *out);

/* A comma-separated list (spaces around items allowed, empty list fine)
 * into a[0..max); *count set. PX_ETOOBIG past max; PX_EINVAL with the
 * bad item in eb. */
int px_cidr_list_parse(const char *csv, struct px_cidr *a, int max,
		       int *count, struct px_errbuf *eb);

/* True if ip lies in c, as written or (IPv4-mapped and -compatible
 * forms) as the IPv4 address it carries. */
bool px_cidr_contains(const struct px_cidr *c, const struct px_ip *ip);

/* True if ip lies in any of a[0..n). */
bool px_cidr_list_contains(const struct px_cidr *a, int n,
			   const struct px_ip *ip);

/*
 * The reason an address is not a public unicast one, or NULL: "loopback",
 * "private", "link_local" (169.254/16 with the cloud metadata address,
 * fe80::/10), "cgnat", "unspecified" (0/8, ::), "multicast", "broadcast",
 * "reserved" (240/4, documentation and benchmark ranges, 6to4 relay,
 * discard-only and similar IPv6), "unique_local" (fc00::/7),
 * "site_local" (fec0::/10), "nat64" (64:ff9b::/96 and /48: an IPv4
 * address wrapped for a translator). IPv4-mapped and -compatible forms
 * are classified as the IPv4 address they carry.
 */
const char *px_ip_classify(const struct px_ip *ip);

#endif
