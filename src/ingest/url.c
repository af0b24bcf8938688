/*
 * url.c - the strict URL parser of upload-from-URL (see url.h).
 */
#include "ingest/url.h"

#include <ctype.h>
#include <strings.h>

static int refuse(struct px_errbuf *eb, const char *reason, const char *why)
{
	return px_errc(eb, PX_EINVAL, "url_not_allowed", "url not allowed (%s): %s",
		       reason, why);
}

/* True if the host's last label reads as a number ("1", "0x7f", "08"):
 * then the host must be an IPv4 address, as URL parsers treat it. */
static bool ends_in_number(const char *h, size_t n)
{
	size_t start;

	if (n && h[n - 1] == '.')
		n--;
	start = n;
	while (start && h[start - 1] != '.')
		start--;
	if (start == n || !isdigit((unsigned char)h[start]))
		return false;
	for (size_t i = start; i < n; i++)
		if (!isxdigit((unsigned char)h[i]) && h[i] != 'x' && h[i] != 'X')
			return false;
	return true;
}

static bool host_char(int c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_';
}

int px_url_parse(const char *url, struct px_url *u, struct px_errbuf *eb)
{
	const char *p, *auth, *aend, *hend, *rest;
	size_t n = strlen(url), nh;
	char ipbuf[64], text[PX_IP_TEXT_MAX];
	const char *slash;

	memset(u, 0, sizeof(*u));
	if (!n || n > PX_URL_MAX)
		return refuse(eb, "malformed", "empty or longer than 4096 bytes");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
			return refuse(eb, "malformed",
				      "spaces, control bytes and non-ASCII must be percent-encoded");
	if (!strncasecmp(url, "http://", 7)) {
		auth = url + 7;
	} else if (!strncasecmp(url, "https://", 8)) {
		u->https = true;
		auth = url + 8;
	} else {
		return refuse(eb, "scheme", "only http and https URLs are fetched");
	}
	aend = auth + strcspn(auth, "/?#");
	for (p = auth; p < aend; p++) {
		if (*p == '@')
			return refuse(eb, "credentials",
				      "user names and passwords in URLs are not sent");
		if (*p == '\\' || *p == '%')
			return refuse(eb, "malformed", "the host may not hold \"\\\" or \"%\"");
	}
	if (*auth == '[') {
		const char *close = memchr(auth, ']', (size_t)(aend - auth));

		if (!close || (size_t)(close - auth - 1) >= sizeof(ipbuf))
			return refuse(eb, "malformed", "unterminated IPv6 address");
		memcpy(ipbuf, auth + 1, (size_t)(close - auth - 1));
		ipbuf[close - auth - 1] = '\0';
		if (px_ip_parse(ipbuf, &u->ip) || u->ip.family != 6)
			return refuse(eb, "invalid_address", "not an IPv6 address");
		u->host_is_ip = true;
		hend = close + 1;
		if (hend < aend && *hend != ':')
			return refuse(eb, "malformed", "junk after the IPv6 address");
	} else {
		hend = memchr(auth, ':', (size_t)(aend - auth));
		if (!hend)
			hend = aend;
		nh = (size_t)(hend - auth);
		if (!nh || nh >= sizeof(u->host))
			return refuse(eb, "malformed", "no host, or a host over 255 bytes");
		for (size_t i = 0; i < nh; i++) {
			if (!host_char((unsigned char)auth[i]))
				return refuse(eb, "malformed", "the host has characters a host name cannot have");
			u->host[i] = (char)tolower((unsigned char)auth[i]);
		}
		u->host[nh] = '\0';
		/* "localhost." is "localhost": the resolver must see one name */
		if (nh > 1 && u->host[nh - 1] == '.')
			u->host[--nh] = '\0';
		if (u->host[0] == '.' || u->host[nh - 1] == '.' ||
		    strstr(u->host, ".."))
			return refuse(eb, "malformed", "empty label in the host");
		if (ends_in_number(u->host, nh)) {
			int rc = px_ip4_parse_loose(u->host, nh, &u->ip);

			if (rc)
				return refuse(eb, "invalid_address",
					      "the host ends in a number but is not an IPv4 address");
			u->host_is_ip = true;
		}
	}
	u->port = u->https ? 443 : 80;
	if (hend < aend) {
		long port = 0;

		/* hend is ':'; an empty port means the default */
		if (aend - hend - 1 > 5)
			return refuse(eb, "malformed", "bad port");
		for (p = hend + 1; p < aend; p++) {
			if (!isdigit((unsigned char)*p))
				return refuse(eb, "malformed", "bad port");
			port = port * 10 + (*p - '0');
		}
		if (aend > hend + 1) {
			if (port < 1 || port > 65535)
				return refuse(eb, "malformed", "port out of range");
			u->port = (int)port;
		}
	}
	if (u->host_is_ip) {
		px_ip_format(&u->ip, text, sizeof(text));
		snprintf(u->host, sizeof(u->host), "%s", text);
	}
	/* The path and query as sent, without the fragment. */
	rest = aend;
	n = strcspn(rest, "#");
	snprintf(u->canonical, sizeof(u->canonical), "%s://%s%s%s:%d%s%.*s",
		 u->https ? "https" : "http",
		 u->host_is_ip && u->ip.family == 6 ? "[" : "", u->host,
		 u->host_is_ip && u->ip.family == 6 ? "]" : "", u->port,
		 *rest == '/' ? "" : "/", (int)n, rest);
	/* The last path segment names the file. */
	n = strcspn(rest, "?#");
	slash = NULL;
	for (p = rest; p < rest + n; p++)
		if (*p == '/')
			slash = p;
	if (slash && slash + 1 < rest + n)
		snprintf(u->filename, sizeof(u->filename), "%.*s",
			 (int)(rest + n - slash - 1), slash + 1);
	return 0;
}
