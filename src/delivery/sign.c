/*
 * sign.c - HMAC-SHA256 URL signatures compatible with Cloudflare Images.
 */
#include "delivery/sign.h"
#include "core/crypto.h"

static int mac(const char *key, const char *path, const char *exp,
	       char hex[PX_SHA256_HEX_LEN + 1])
{
	char msg[4096];
	int n = snprintf(msg, sizeof(msg), "%s?exp=%s", path, exp);

	if (n < 0 || (size_t)n >= sizeof(msg))
		return PX_ETOOBIG;
	return px_hmac_sha256_hex(key, strlen(key), msg, (size_t)n, hex);
}

int px_sign_url(const char *key, const char *path, int64_t exp, char *out,
		size_t nout)
{
	char hex[PX_SHA256_HEX_LEN + 1], e[32];
	int rc, n;

	snprintf(e, sizeof(e), "%lld", (long long)exp);
	if ((rc = mac(key, path, e, hex)))
		return rc;
	n = snprintf(out, nout, "%s?exp=%s&sig=%s", path, e, hex);
	return n < 0 || (size_t)n >= nout ? PX_ETOOBIG : 0;
}

int px_sign_verify(char *const *keys, int nkeys, const char *path,
		   const char *exp, const char *sig, int64_t now,
		   int64_t *exp_out, struct px_errbuf *eb)
{
	char hex[PX_SHA256_HEX_LEN + 1];
	bool ok = false;
	long long e;
	char *end;

	if (!exp && !sig)
		return px_errc(eb, PX_EINVAL, "signature_required",
			       "this image needs a signed URL");
	if (!exp || !sig || !*exp || strlen(sig) != PX_SHA256_HEX_LEN)
		return px_errc(eb, PX_EINVAL, "invalid_signature",
			       "the URL signature is not valid");
	errno = 0;
	e = strtoll(exp, &end, 10);
	if (errno || *end || e < 0)
		return px_errc(eb, PX_EINVAL, "invalid_signature",
			       "the URL signature is not valid");
	/* Try every key, without stopping at the first match, so timing
	 * does not reveal which key signed. */
	for (int i = 0; i < nkeys; i++)
		if (mac(keys[i], path, exp, hex) == 0 &&
		    px_ct_equal(hex, sig, PX_SHA256_HEX_LEN))
			ok = true;
	if (!ok)
		return px_errc(eb, PX_EINVAL, "invalid_signature",
			       "the URL signature is not valid");
	if (e <= now)
		return px_errc(eb, PX_EINVAL, "expired",
			       "the signed URL has expired");
	*exp_out = e;
	return 0;
}
