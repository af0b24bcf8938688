/*
 * fetch.h - upload from a URL without server-side request forgery.
 *
 * The only file that includes <curl/curl.h> for fetching (webhook.c has
 * its own sender). A fetch:
 *   1. parses the URL strictly (url.h): http and https only, no
 *      credentials, odd IPv4 spellings reduced to their address;
 *   2. resolves the host once and checks every address: --fetch-deny
 *      first, then --fetch-allow, then the built-in deny list
 *      (px_ip_classify); one denied address refuses the whole host;
 *   3. pins libcurl to the checked address (CURLOPT_RESOLVE, and literal
 *      addresses spelled plainly), and checks again in the socket-open
 *      callback, so no connection is ever made to an address that was not
 *      checked, whatever libcurl or DNS would do;
 *   4. follows at most 3 redirects itself, each checked as above;
 *   5. streams the body into a buffer with a hard limit, under one
 *      deadline for the whole chain, without cookies, proxies or
 *      credentials.
 */
#ifndef PX_FETCH_H
#define PX_FETCH_H

#include "core/buf.h"
#include "core/netaddr.h"

#define PX_FETCH_REDIRECTS 3
#define PX_FETCH_RANGES_MAX 64

struct px_fetcher;

struct px_fetch_opts {
	const char *allow_csv; /* CIDRs let through although denied by default */
	const char *deny_csv;  /* CIDRs always refused */
	long timeout_s;        /* the whole fetch, redirects included */
	size_t max_bytes;      /* body limit */
};

/* Parse the ranges once; PX_EINVAL with the bad one named in eb. */
int px_fetcher_new(const struct px_fetch_opts *o, struct px_fetcher **out,
		   struct px_errbuf *eb);
void px_fetcher_free(struct px_fetcher *f); /* accepts NULL */

/* NULL if ip may be fetched from, else the reason ("loopback", "denied",
 * ...). IPv4-mapped forms count as the IPv4 address. */
const char *px_fetcher_check(const struct px_fetcher *f, const struct px_ip *ip);

/*
 * Fetch url into body (appended; the caller owns body). The file name of
 * the last URL lands in filename (may be empty). Failures carry eb->code:
 * "url_not_allowed" (PX_EINVAL; the message names the reason),
 * "fetch_failed" (PX_EIO; the upstream status or the transport error),
 * "payload_too_large" (PX_ETOOBIG).
 */
int px_fetch(struct px_fetcher *f, const char *url, struct px_buf *body,
	     char filename[128], struct px_errbuf *eb);

#endif
