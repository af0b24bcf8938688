/*
 * pdq.c - PDQ hashing (see pdq.h and docs/PDQ.md).
 *
 * Written from Meta's description of the algorithm (hashing.pdf in
 * facebook/ThreatExchange): luminance, a two-pass box blur whose window
 * is about 1/128 of each side, a 64x64 sample, the 16x16 low-frequency
 * corner of the DCT-II, median threshold. Arithmetic is in float with
 * the same order of operations as the reference, so given the same
 * luminance the hash is the same; differences on real files come from
 * the decoder and the prescale to 512 px (docs/PDQ.md gives the bound
 * the tests hold).
 *
 * Decoding is the image module's job; this file sees only pixels.
 */
#include "hash/pdq.h"
#include "image/image.h"

#include <math.h>
#include <pthread.h>

#define GRID 64
#define KEEP 16

/* Rows 1..16 of the orthonormal 64-point DCT-II basis (row 0, the DC
 * term, carries no structure and is skipped). */
static float dct[KEEP][GRID];
static pthread_once_t dct_once = PTHREAD_ONCE_INIT;

static void dct_init(void)
{
	const double pi = 3.14159265358979323846;
	const float scale = (float)sqrt(2.0 / GRID);

	for (int i = 0; i < KEEP; i++)
		for (int j = 0; j < GRID; j++)
			dct[i][j] = scale * (float)cos(pi / 2.0 / GRID *
						       (i + 1) * (2 * j + 1));
}

/*
 * One box-filter pass over a vector of len values spaced stride apart.
 * The window is centred (for even sizes one more on the right) and
 * shrinks at the ends instead of padding, so edges are not darkened.
 */
static void box1d(const float *in, float *out, int len, int stride, int win)
{
	int half = (win + 2) / 2;
	int lead = half - 1, grow = win - half + 1, full = len - win;
	float sum = 0;
	int n = 0, l = 0, r = 0, o = 0;

	for (int i = 0; i < lead; i++, r += stride, n++)
		sum += in[r];
	for (int i = 0; i < grow; i++, r += stride, o += stride) {
		sum += in[r];
		n++;
		out[o] = sum / n;
	}
	for (int i = 0; i < full; i++, l += stride, r += stride, o += stride) {
		sum += in[r];
		sum -= in[l];
		out[o] = sum / n;
	}
	for (int i = 0; i < lead; i++, l += stride, o += stride) {
		sum -= in[l];
		n--;
		out[o] = sum / n;
	}
}

/* Window for reducing old samples to new: about old / (2 new), >= 1. */
static int window(int old, int new_)
{
	return (old + 2 * new_ - 1) / (2 * new_);
}

/* Two passes of rows-then-columns box filter; the result is back in a. */
static void tent(float *a, float *b, int rows, int cols)
{
	int wr = window(cols, GRID), wc = window(rows, GRID);

	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < rows; i++)
			box1d(a + (size_t)i * cols, b + (size_t)i * cols, cols,
			      1, wr);
		for (int j = 0; j < cols; j++)
			box1d(b + j, a + j, rows, cols, wc);
	}
}

/* Sample the centre of each of 64x64 cells. */
static void decimate(const float *in, int rows, int cols, float g[GRID][GRID])
{
	for (int i = 0; i < GRID; i++) {
		int si = (int)(((i + 0.5) * rows) / GRID);

		for (int j = 0; j < GRID; j++) {
			int sj = (int)(((j + 0.5) * cols) / GRID);

			g[i][j] = in[(size_t)si * cols + sj];
		}
	}
}

/* Count of significant steps between neighbours, scaled to 0-100. */
static int quality(float g[GRID][GRID])
{
	int sum = 0;

	for (int i = 0; i < GRID - 1; i++)
		for (int j = 0; j < GRID; j++) {
			int d = (int)(((g[i][j] - g[i + 1][j]) * 100) / 255);

			sum += abs(d);
		}
	for (int i = 0; i < GRID; i++)
		for (int j = 0; j < GRID - 1; j++) {
			int d = (int)(((g[i][j] - g[i][j + 1]) * 100) / 255);

			sum += abs(d);
		}
	sum /= 90;
	return sum > 100 ? 100 : sum;
}

/* c = D g D^T, keeping the 16x16 low-frequency corner. */
static void dct16(float g[GRID][GRID], float c[KEEP][KEEP])
{
	float t[KEEP][GRID];

	for (int i = 0; i < KEEP; i++)
		for (int j = 0; j < GRID; j++) {
			float s = 0;

			for (int k = 0; k < GRID; k++)
				s += dct[i][k] * g[k][j];
			t[i][j] = s;
		}
	for (int i = 0; i < KEEP; i++)
		for (int j = 0; j < KEEP; j++) {
			float s = 0;

			for (int k = 0; k < GRID; k++)
				s += t[i][k] * dct[j][k];
			c[i][j] = s;
		}
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

float px_pdq_median(const float *v, int n)
{
	float s[KEEP * KEEP];

	PX_ASSERT(n > 0 && n <= KEEP * KEEP);
	memcpy(s, v, sizeof(float) * (size_t)n);
	qsort(s, (size_t)n, sizeof(float), cmp_float);
	/* The lower median: for 256 values, 128 of them are at most it. */
	return s[(n + 1) / 2 - 1];
}

static void to_bits(float c[KEEP][KEEP], struct px_pdq *h)
{
	float med = px_pdq_median(&c[0][0], KEEP * KEEP);

	memset(h, 0, sizeof(*h));
	for (int i = 0; i < KEEP; i++)
		for (int j = 0; j < KEEP; j++)
			if (c[i][j] > med)
				h->w[i] |= (uint16_t)(1u << j);
}

/*
 * Orientation in the DCT domain. Mirroring an axis negates the odd-index
 * basis functions along it (our rows start at frequency 1, so index 0 is
 * odd and flips sign); a quarter turn is a transpose plus one mirror.
 */
static float dih_coef(float c[KEEP][KEEP], int d, int i, int j)
{
	/* (i, j) indexes the transformed image's coefficients. */
	switch (d) {
	case PX_PDQ_ROTATE90:
		return (i & 1) ? c[j][i] : -c[j][i];
	case PX_PDQ_ROTATE180:
		return ((i + j) & 1) ? -c[i][j] : c[i][j];
	case PX_PDQ_ROTATE270:
		return (j & 1) ? c[j][i] : -c[j][i];
	case PX_PDQ_FLIPX:
		return (i & 1) ? c[i][j] : -c[i][j];
	case PX_PDQ_FLIPY:
		return (j & 1) ? c[i][j] : -c[i][j];
	case PX_PDQ_FLIPPLUS1:
		return c[j][i];
	case PX_PDQ_FLIPMINUS1:
		return ((i + j) & 1) ? -c[j][i] : c[j][i];
	default:
		return c[i][j];
	}
}

void px_pdq_luma(float *luma, float *tmp, int rows, int cols,
		 struct px_pdq_result *r)
{
	float g[GRID][GRID], c[KEEP][KEEP], v[KEEP][KEEP];

	memset(r, 0, sizeof(*r));
	if (rows < 5 || cols < 5)
		return;
	pthread_once(&dct_once, dct_init);
	if (rows == GRID && cols == GRID) {
		memcpy(g, luma, sizeof(g));
	} else {
		tent(luma, tmp, rows, cols);
		decimate(luma, rows, cols, g);
	}
	r->quality = quality(g);
	dct16(g, c);
	for (int d = 0; d < PX_PDQ_NDIH; d++) {
		for (int i = 0; i < KEEP; i++)
			for (int j = 0; j < KEEP; j++)
				v[i][j] = dih_coef(c, d, i, j);
		to_bits(v, &r->dih[d]);
	}
}

int px_pdq_rgb(const uint8_t *rgb, int w, int h, struct px_pdq_result *r)
{
	size_t n = (size_t)w * (size_t)h;
	float *a = NULL, *b = NULL;
	int rc = PX_ENOMEM;

	memset(r, 0, sizeof(*r));
	if (w < 5 || h < 5)
		return 0;
	if (!(a = malloc(n * sizeof(float))) || !(b = malloc(n * sizeof(float))))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = rgb + 3 * i;

		/* ITU-R BT.601 luma, the reference's coefficients. */
		a[i] = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
	}
	px_pdq_luma(a, b, h, w, r);
	rc = 0;
out:
	free(a);
	free(b);
	return rc;
}

int px_pdq_image(const void *data, size_t n, struct px_pdq_result *r,
		 struct px_errbuf *eb)
{
	/* Uploads are limit-checked before they get here; the prescale
	 * streams, and the full decode happens only at <= 512 px. */
	static const struct px_image_limits any = {UINT64_MAX, INT32_MAX,
						   INT32_MAX};
	struct px_image_info info;
	struct px_buf px;
	int w, h, rc;

	memset(r, 0, sizeof(*r));
	px_buf_init(&px, 0);
	if ((rc = px_image_probe(data, n, &any, &info, eb)))
		goto out;
	if (info.width > PX_PDQ_PRESCALE || info.height > PX_PDQ_PRESCALE) {
		/* Aspect kept, long side 512 (as Pillow's thumbnail() in the
		 * Python reference; the C++ one squashes to 512x512 with
		 * nearest-neighbour sampling, which aliases). */
		double s = (double)PX_PDQ_PRESCALE /
			   PX_MAX(info.width, info.height);

		w = PX_MAX(1, (int)(info.width * s + 0.5));
		h = PX_MAX(1, (int)(info.height * s + 0.5));
		rc = px_image_rgb_resize(data, n, w, h, &px, eb);
	} else {
		rc = px_image_rgb_full(data, n, &any, &px, &w, &h, eb);
	}
	if (rc)
		goto out;
	if (px.len != (size_t)w * h * 3) {
		rc = px_errc(eb, PX_EINTERNAL, "hash_failed",
			     "decoded %zu bytes for %dx%d", px.len, w, h);
		goto out;
	}
	rc = px_pdq_rgb(px.data, w, h, r);
out:
	px_buf_release(&px);
	return rc;
}

int px_pdq_distance(const struct px_pdq *a, const struct px_pdq *b)
{
	int d = 0;

	for (int i = 0; i < PX_PDQ_WORDS; i++)
		d += __builtin_popcount((unsigned)(a->w[i] ^ b->w[i]));
	return d;
}

void px_pdq_hex(const struct px_pdq *h, char out[PX_PDQ_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < PX_PDQ_WORDS; i++) {
		unsigned v = h->w[PX_PDQ_WORDS - 1 - i];

		for (int k = 0; k < 4; k++)
			out[4 * i + k] = digits[(v >> (12 - 4 * k)) & 15];
	}
	out[PX_PDQ_HEX_LEN] = '\0';
}

int px_pdq_parse(const char *hex, size_t n, struct px_pdq *out)
{
	if (n != PX_PDQ_HEX_LEN)
		return PX_EINVAL;
	for (int i = 0; i < PX_PDQ_WORDS; i++) {
		unsigned v = 0;

		for (int k = 0; k < 4; k++) {
			int x = px_hexval((unsigned char)hex[4 * i + k]);

			if (x < 0)
				return PX_EINVAL;
			v = v << 4 | (unsigned)x;
		}
		out->w[PX_PDQ_WORDS - 1 - i] = (uint16_t)v;
	}
	return 0;
}

void px_pdq_bytes(const struct px_pdq *h, uint8_t out[32])
{
	for (int i = 0; i < PX_PDQ_WORDS; i++) {
		out[2 * i] = (uint8_t)(h->w[PX_PDQ_WORDS - 1 - i] >> 8);
		out[2 * i + 1] = (uint8_t)h->w[PX_PDQ_WORDS - 1 - i];
	}
}

void px_pdq_from_bytes(const uint8_t in[32], struct px_pdq *h)
{
	for (int i = 0; i < PX_PDQ_WORDS; i++)
		h->w[PX_PDQ_WORDS - 1 - i] =
			(uint16_t)(in[2 * i] << 8 | in[2 * i + 1]);
}

/* Flip each choice of r more bits above position `from`. */
static int probe_rec(uint16_t v, int from, int r,
		     int (*fn)(void *, uint16_t), void *ctx)
{
	int rc;

	for (int b = from; b < 16; b++) {
		uint16_t x = (uint16_t)(v ^ (1u << b));

		if ((rc = fn(ctx, x)))
			return rc;
		if (r > 1 && (rc = probe_rec(x, b + 1, r - 1, fn, ctx)))
			return rc;
	}
	return 0;
}

int px_pdq_probe(uint16_t v, int r, int (*fn)(void *ctx, uint16_t value),
		 void *ctx)
{
	int rc;

	PX_ASSERT(r >= 0 && r <= PX_PDQ_MAX_RADIUS);
	if ((rc = fn(ctx, v)))
		return rc;
	return r > 0 ? probe_rec(v, 0, r, fn, ctx) : 0;
}
