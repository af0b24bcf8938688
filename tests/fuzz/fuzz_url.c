/*
 * fuzz_url.c - libFuzzer target for the upload-from-URL parser and the
 * address parsers behind it. Oracles: the canonical URL handed to libcurl
 * parses back to the same host, address and port (so what was checked is
 * what is connected to), an address classifies the same in every form,
 * and a CIDR contains its own base address.
 */
#include "core/netaddr.h"
#include "ingest/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char s[PX_URL_MAX + 2];
	static struct px_url u, v;
	struct px_errbuf eb = {0};
	struct px_cidr c;
	struct px_ip ip, mapped;
	const char *k1, *k2;

	if (size > PX_URL_MAX + 1)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (px_url_parse(s, &u, &eb) == 0) {
		if (px_url_parse(u.canonical, &v, &eb))
			__builtin_trap();
		if (strcmp(u.host, v.host) || u.port != v.port ||
		    u.host_is_ip != v.host_is_ip || u.https != v.https ||
		    strcmp(u.canonical, v.canonical))
			__builtin_trap();
		if (u.host_is_ip &&
		    (u.ip.family != v.ip.family || memcmp(u.ip.b, v.ip.b, 16)))
			__builtin_trap();
	}
	if (px_ip4_parse_loose(s, size, &ip) == 0) {
		/* ::ffff:a.b.c.d is classified as a.b.c.d */
		memset(&mapped, 0, sizeof(mapped));
		mapped.family = 6;
		mapped.b[10] = mapped.b[11] = 0xff;
		memcpy(mapped.b + 12, ip.b, 4);
		k1 = px_ip_classify(&ip);
		k2 = px_ip_classify(&mapped);
		if ((k1 == NULL) != (k2 == NULL) || (k1 && strcmp(k1, k2)))
			__builtin_trap();
	}
	if (px_cidr_parse(s, size, &c) == 0 && !px_cidr_contains(&c, &c.ip))
		__builtin_trap();
	return 0;
}
