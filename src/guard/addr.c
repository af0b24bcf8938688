/*
 * addr.c - forwarded chains and client keys (see addr.h).
 *
 * The forwarded headers are untrusted bytes of any length; parsing walks
 * them from the right without copying more than one hop at a time.
 */
#include "guard/addr.h"

#include <ctype.h>
#include <strings.h>

static bool all_digits(const char *s, size_t n)
{
	if (!n || n > 5)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

int px_hop_parse(const char *s, size_t n, struct px_ip *out)
{
	char text[64];
	const char *colon;

	if (!n || n >= sizeof(text) || memchr(s, '\0', n))
		return PX_EINVAL;
	if (s[0] == '[') {
		/* "[v6]" or "[v6]:port" */
		const char *close = memchr(s, ']', n);

		if (!close || close == s + 1)
			return PX_EINVAL;
		if ((size_t)(close - s) + 1 != n &&
		    (close[1] != ':' ||
		     !all_digits(close + 2, n - (size_t)(close - s) - 2)))
			return PX_EINVAL;
		memcpy(text, s + 1, (size_t)(close - s - 1));
		text[close - s - 1] = '\0';
		if (!strchr(text, ':') || px_ip_parse(text, out))
			return PX_EINVAL;
		px_ip_unmap(out);
		return 0;
	}
	memcpy(text, s, n);
	text[n] = '\0';
	colon = strchr(text, ':');
	if (colon && !strchr(colon + 1, ':')) {
		/* one colon: IPv4 with a port */
		if (!all_digits(colon + 1, strlen(colon + 1)))
			return PX_EINVAL;
		text[colon - text] = '\0';
		if (px_ip_parse(text, out) || out->family != 4)
			return PX_EINVAL;
		return 0;
	}
	if (px_ip_parse(text, out))
		return PX_EINVAL;
	px_ip_unmap(out);
	return 0;
}

void px_client_key(const struct px_ip *ip, struct px_ip *key)
{
	*key = *ip;
	px_ip_unmap(key);
	if (key->family == 6)
		memset(key->b + 8, 0, 8);
}

void px_client_network(const struct px_ip *key, struct px_ip *net)
{
	px_client_key(key, net);
	if (net->family == 4)
		net->b[3] = 0;
	else
		memset(net->b + 6, 0, 10);
}

void px_client_key_format(const struct px_ip *key, char *out, size_t n)
{
	px_ip_format(key, out, n);
	if (key->family == 6 && strlen(out) + 4 < n)
		strcat(out, "/64");
}

void px_client_key_bytes(const struct px_ip *key, uint8_t out[16])
{
	static const uint8_t v4map[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (key->family == 4) {
		memcpy(out, v4map, 12);
		memcpy(out + 12, key->b, 4);
	} else {
		memcpy(out, key->b, 16);
	}
}

static const char *trim(const char *p, const char *end, const char **tend)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*tend = end;
	return p;
}

/*
 * The address in one Forwarded element (";"-separated pairs, one of them
 * for=VALUE, VALUE a token or a quoted string). PX_EINVAL when there is
 * no usable for= (missing, "unknown", obfuscated, malformed).
 */
static int forwarded_for(const char *p, const char *end, struct px_ip *ip)
{
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p)), *tend;
		const char *pe = semi ? semi : end;
		const char *s = trim(p, pe, &tend);

		if (tend - s > 4 && !strncasecmp(s, "for=", 4)) {
			s += 4;
			if (*s == '"') {
				if (tend - s < 2 || tend[-1] != '"')
					return PX_EINVAL;
				s++;
				tend--;
			}
			return px_hop_parse(s, (size_t)(tend - s), ip);
		}
		p = semi ? semi + 1 : end;
	}
	return PX_EINVAL;
}

/* The hop ending at end (exclusive), whose element starts after the
 * previous comma; *start receives that start. Forwarded allows commas
 * only between elements outside quotes; a quoted comma is not valid in
 * an address, so a plain scan is enough to find the address or fail. */
static const char *hop_start(const char *begin, const char *end)
{
	const char *p = end;

	while (p > begin && p[-1] != ',')
		p--;
	return p;
}

static int walk(const char *hdr, bool rfc7239, const struct px_cidr *trusted,
		int ntrusted, struct px_ip *client)
{
	const char *end = hdr + strlen(hdr);
	int skipped = 0;

	while (end > hdr) {
		const char *start = hop_start(hdr, end), *tend;
		const char *s = trim(start, end, &tend);
		struct px_ip ip;
		int rc;

		if (tend == s) {
			/* an empty hop (", ,"): malformed */
			break;
		}
		rc = rfc7239 ? forwarded_for(s, tend, &ip)
			     : px_hop_parse(s, (size_t)(tend - s), &ip);
		if (rc)
			break;
		*client = ip;
		skipped++;
		if (!px_cidr_list_contains(trusted, ntrusted, &ip))
			break;
		end = start > hdr ? start - 1 : hdr;
	}
	return skipped;
}

int px_client_resolve(const struct px_ip *peer, const char *forwarded,
		      const char *xff, const struct px_cidr *trusted,
		      int ntrusted, struct px_ip *client)
{
	*client = *peer;
	if (!px_cidr_list_contains(trusted, ntrusted, peer))
		return 0;
	if (forwarded && *forwarded)
		return walk(forwarded, true, trusted, ntrusted, client);
	if (xff && *xff)
		return walk(xff, false, trusted, ntrusted, client);
	return 0;
}
