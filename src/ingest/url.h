/*
 * url.h - the URL parser of upload-from-URL: what host a URL names, as a
 * strict subset of what browsers and libcurl accept.
 *
 * Pure and independent of libcurl, so it is unit-tested and fuzzed on its
 * own. It refuses anything two parsers might read differently: userinfo,
 * backslashes, percent signs, spaces and control bytes, non-ASCII, IPv6
 * zone ids, and hosts that end in a number but are not an IPv4 address.
 * Hosts that are IPv4 in any spelling (decimal, octal, hex, short dotted)
 * or IPv6 literals are reduced to the address they mean, and the URL
 * handed to libcurl (px_url.canonical) spells that address plainly, so
 * what was checked is what is connected to.
 */
#ifndef PX_URL_H
#define PX_URL_H

#include "core/netaddr.h"

#define PX_URL_MAX 4096

struct px_url {
	bool https;
	char host[256];   /* lower case; IPv6 without brackets */
	bool host_is_ip;  /* a literal in any spelling: ip holds it */
	struct px_ip ip;
	int port;         /* explicit or the scheme's default */
	char canonical[PX_URL_MAX + 64]; /* scheme://host:port/path?query */
	char filename[128]; /* last path segment, for the record */
};

/*
 * Parse url. On failure PX_EINVAL with eb->code "url_not_allowed" and a
 * message naming the reason ("scheme", "credentials", "malformed",
 * "invalid_address").
 */
int px_url_parse(const char *url, struct px_url *out, struct px_errbuf *eb);

#endif
