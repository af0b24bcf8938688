/*
 * crypto.c - SHA-256, HMAC-SHA256, randomness and UUIDv7 over libcrypto.
 */
#include "core/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <math.h>
#include <pthread.h>
#include <time.h>

struct px_sha256 {
	EVP_MD_CTX *md;
};

static void to_hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/*
 * SHA-256 fetched from the provider once: EVP_sha256() makes OpenSSL 3
 * look the algorithm up (under a lock) on every use, which cost more
 * than hashing the short strings of a delivery request.
 */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_fetched;

static void sha256_fetch(void)
{
	sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256_md(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_fetched ? sha256_fetched : EVP_sha256();
}

struct px_sha256 *px_sha256_new(void)
{
	struct px_sha256 *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->md = EVP_MD_CTX_new();
	if (!h->md || EVP_DigestInit_ex(h->md, sha256_md(), NULL) != 1) {
		px_sha256_free(h);
		return NULL;
	}
	return h;
}

void px_sha256_update(struct px_sha256 *h, const void *p, size_t n)
{
	EVP_DigestUpdate(h->md, p, n);
}

void px_sha256_final_hex(struct px_sha256 *h, char hex[PX_SHA256_HEX_LEN + 1])
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_DigestFinal_ex(h->md, md, &n);
	to_hex(md, 32, hex);
	px_sha256_free(h);
}

void px_sha256_free(struct px_sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->md);
	free(h);
}

int px_sha256_hex(const void *p, size_t n, char hex[PX_SHA256_HEX_LEN + 1])
{
	unsigned char md[32];

	if (EVP_Digest(p, n, md, NULL, sha256_md(), NULL) != 1)
		return PX_EINTERNAL;
	to_hex(md, 32, hex);
	return 0;
}

int px_hmac_sha256_hex(const void *key, size_t nkey, const void *msg,
		       size_t nmsg, char hex[PX_SHA256_HEX_LEN + 1])
{
	unsigned char md[32];
	unsigned int n = sizeof(md);

	if (!HMAC(EVP_sha256(), key, (int)nkey, msg, nmsg, md, &n))
		return PX_EINTERNAL;
	to_hex(md, 32, hex);
	return 0;
}

int px_hmac_sha256(const void *key, size_t nkey, const void *msg, size_t nmsg,
		   unsigned char out[32])
{
	unsigned int n = 32;

	if (!HMAC(EVP_sha256(), key, (int)nkey, msg, nmsg, out, &n))
		return PX_EINTERNAL;
	return 0;
}

bool px_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

bool px_ct_streq(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	/* Compare over a's length either way so the time does not reveal
	 * the position of the first difference. */
	if (na != nb) {
		(void)CRYPTO_memcmp(a, a, na);
		return false;
	}
	return CRYPTO_memcmp(a, b, na) == 0;
}

int px_random(void *p, size_t n)
{
	return RAND_bytes(p, (int)n) == 1 ? 0 : PX_EINTERNAL;
}

int px_random_hex(char *out, size_t n)
{
	unsigned char tmp[64];

	if (n > sizeof(tmp))
		PX_BUG("px_random_hex asked for too many bytes");
	if (px_random(tmp, n))
		return PX_EINTERNAL;
	to_hex(tmp, n, out);
	return 0;
}

int px_uuid7(char out[37])
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static uint64_t last_ms, seq;
	unsigned char b[16];
	struct timespec ts;
	uint64_t ms, s;
	char hex[33];

	if (px_random(b, sizeof(b)))
		return PX_EINTERNAL;
	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	/* A 12-bit counter in rand_a keeps ids ordered within a millisecond. */
	pthread_mutex_lock(&lock);
	if (ms <= last_ms) {
		ms = last_ms;
		if (++seq > 0xfff) {
			ms = ++last_ms;
			seq = 0;
		}
	} else {
		last_ms = ms;
		seq = 0;
	}
	s = seq;
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	b[6] = (unsigned char)(0x70 | ((s >> 8) & 0x0f));
	b[7] = (unsigned char)(s & 0xff);
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
	to_hex(b, 16, hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
		 hex + 16, hex + 20);
	return 0;
}

const char *px_crypto_version(void)
{
	return OpenSSL_version(OPENSSL_VERSION);
}

double px_secret_bits(const char *s)
{
	unsigned count[256] = {0}, most = 0, distinct = 0;
	bool lower = false, upper = false, digit = false, other = false,
	     high = false;
	double alphabet = 0;
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!count[c]++)
			distinct++;
		most = PX_MAX(most, count[c]);
		if (c >= 'a' && c <= 'z')
			lower = true;
		else if (c >= 'A' && c <= 'Z')
			upper = true;
		else if (c >= '0' && c <= '9')
			digit = true;
		else if (c >= 0x21 && c < 0x7f)
			other = true;
		else
			high = true;
	}
	if (!n)
		return 0;
	alphabet = 26.0 * lower + 26.0 * upper + 10.0 * digit + 33.0 * other +
		   128.0 * high;
	if (distinct < 8 || most * 4 > n)
		return distinct * log2(PX_MAX(alphabet, 2.0));
	return (double)n * log2(alphabet);
}
