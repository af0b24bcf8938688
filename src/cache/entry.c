/*
 * entry.c - format, parse and verify disk cache entries (see entry.h).
 */
#include "cache/entry.h"
#include "core/crypto.h"

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int checksum(const uint8_t *strs, size_t nstrs, const void *body,
		    size_t n, char hex[PX_SHA256_HEX_LEN + 1])
{
	struct px_sha256 *h = px_sha256_new();

	if (!h)
		return PX_ENOMEM;
	px_sha256_update(h, strs, nstrs);
	px_sha256_update(h, body, n);
	px_sha256_final_hex(h, hex);
	return 0;
}

int px_cache_entry_format(const char *key, const char *ctype,
			  const void *body, size_t n, struct px_buf *out)
{
	size_t nk = strlen(key), nc = strlen(ctype), h;
	uint8_t fixed[PX_CACHE_ENTRY_FIXED], strs[PX_CACHE_ENTRY_HMAX];
	char sum[PX_SHA256_HEX_LEN + 1];
	int rc;

	if (nk >= PX_CACHE_KEY_MAX || nc >= 64)
		return PX_ETOOBIG;
	strs[0] = (uint8_t)(nk & 0xff);
	strs[1] = (uint8_t)(nk >> 8);
	memcpy(strs + 2, key, nk);
	strs[2 + nk] = (uint8_t)nc;
	memcpy(strs + 3 + nk, ctype, nc);
	h = PX_CACHE_ENTRY_FIXED + 3 + nk + nc;
	if ((rc = checksum(strs, h - PX_CACHE_ENTRY_FIXED, body, n, sum)))
		return rc;
	memcpy(fixed, "PXCACHE1", 8);
	put32(fixed + 8, (uint32_t)h);
	put32(fixed + 12, 200);
	put64(fixed + 16, n);
	memcpy(fixed + 24, sum, 64);
	if ((rc = px_buf_add(out, fixed, sizeof(fixed))) ||
	    (rc = px_buf_add(out, strs, h - PX_CACHE_ENTRY_FIXED)))
		return rc;
	return 0;
}

int px_cache_entry_parse(const uint8_t *buf, size_t n, uint64_t fsize,
			 struct px_cache_entry *e)
{
	size_t nk, nc, pos;

	memset(e, 0, sizeof(*e));
	if (n < PX_CACHE_ENTRY_FIXED || memcmp(buf, "PXCACHE1", 8))
		return PX_ECORRUPT;
	e->hlen = get32(buf + 8);
	e->status = get32(buf + 12);
	e->blen = get64(buf + 16);
	if (e->hlen < PX_CACHE_ENTRY_FIXED + 3 || e->hlen > PX_CACHE_ENTRY_HMAX ||
	    e->hlen > n || e->status != 200 || e->blen > fsize ||
	    fsize - e->blen != e->hlen)
		return PX_ECORRUPT;
	for (int i = 0; i < 64; i++)
		if (px_hexval(buf[24 + i]) < 0)
			return PX_ECORRUPT;
	memcpy(e->sum, buf + 24, 64);
	pos = PX_CACHE_ENTRY_FIXED;
	nk = (size_t)buf[pos] | (size_t)buf[pos + 1] << 8;
	pos += 2;
	if (nk >= PX_CACHE_KEY_MAX || pos + nk + 1 > e->hlen)
		return PX_ECORRUPT;
	memcpy(e->key, buf + pos, nk);
	pos += nk;
	nc = buf[pos++];
	if (nc >= sizeof(e->ctype) || pos + nc != e->hlen)
		return PX_ECORRUPT;
	memcpy(e->ctype, buf + pos, nc);
	if (memchr(e->key, '\0', nk) || memchr(e->ctype, '\0', nc))
		return PX_ECORRUPT;
	return 0;
}

bool px_cache_entry_verify(const uint8_t *file, size_t n,
			   const struct px_cache_entry *e)
{
	char sum[PX_SHA256_HEX_LEN + 1];

	if (n != (uint64_t)e->hlen + e->blen)
		return false;
	if (checksum(file + PX_CACHE_ENTRY_FIXED, e->hlen - PX_CACHE_ENTRY_FIXED,
		     file + e->hlen, (size_t)e->blen, sum))
		return false;
	return !memcmp(sum, e->sum, 64);
}
