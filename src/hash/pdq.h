/*
 * pdq.h - Meta's PDQ perceptual hash: 256 bits and a quality score.
 *
 * PDQ (docs/PDQ.md) turns an image into luminance, blurs it with two
 * passes of a box ("Jarosz tent") filter sized to the image, samples a
 * 64x64 grid, keeps the 16x16 lowest non-DC coefficients of its 2-D DCT
 * and sets one bit per coefficient that is above their median. Images
 * that look alike have hashes a few bits apart; Meta's reference match
 * threshold is a Hamming distance of 31. The quality (0-100) counts
 * strong gradients in the 64x64 grid: under 50 the hash of a flat or
 * featureless image is not worth matching.
 *
 * The eight "dihedral" hashes (the image rotated and mirrored) come from
 * the same DCT by sign changes and a transpose, so matching an upload
 * against a list in every orientation costs one hash.
 *
 * Bit layout follows the reference: bit k (k = 16 * row + column of the
 * DCT coefficient) is bit k % 16 of word k / 16, and the hex form prints
 * word 15 first, four lower-case hex digits a word.
 */
#ifndef PX_PDQ_H
#define PX_PDQ_H

#include "core/common.h"

#define PX_PDQ_WORDS 16
#define PX_PDQ_HEX_LEN 64
/* Meta's recommended match threshold and lowest quality worth matching. */
#define PX_PDQ_MATCH_DISTANCE 31
#define PX_PDQ_MIN_QUALITY 50
/* Images larger than this on either side are first resized so that
 * their long side is this, as the reference's photo hashers do. */
#define PX_PDQ_PRESCALE 512

struct px_pdq {
	uint16_t w[PX_PDQ_WORDS];
};

/* The eight orientations, in the reference's order. */
enum px_pdq_dih {
	PX_PDQ_ORIGINAL = 0,
	PX_PDQ_ROTATE90,
	PX_PDQ_ROTATE180,
	PX_PDQ_ROTATE270,
	PX_PDQ_FLIPX,      /* mirrored top to bottom */
	PX_PDQ_FLIPY,      /* mirrored left to right */
	PX_PDQ_FLIPPLUS1,  /* transposed (main diagonal) */
	PX_PDQ_FLIPMINUS1, /* transposed across the other diagonal */
	PX_PDQ_NDIH,
};

struct px_pdq_result {
	struct px_pdq dih[PX_PDQ_NDIH]; /* dih[PX_PDQ_ORIGINAL] is the hash */
	int quality;                    /* 0-100 */
};

/*
 * Hash a rows x cols luminance image (row-major floats, 0-255). luma is
 * overwritten (it is filtered in place); tmp is scratch of the same size.
 * Images under 5 px on a side hash to all zeros with quality 0, as in the
 * reference. Never fails.
 */
void px_pdq_luma(float *luma, float *tmp, int rows, int cols,
		 struct px_pdq_result *r);

/* Hash packed 8-bit RGB (w x h x 3). PX_ENOMEM. */
int px_pdq_rgb(const uint8_t *rgb, int w, int h, struct px_pdq_result *r);

/*
 * Decode an encoded image (any upload format; orientation applied, alpha
 * flattened on white, first frame) and hash it. Images over
 * PX_PDQ_PRESCALE on a side are first resized (aspect kept, antialiased)
 * to PX_PDQ_PRESCALE on the long side. Errors are those of the image module
 * ("corrupt_image", "unsupported_format").
 */
int px_pdq_image(const void *data, size_t n, struct px_pdq_result *r,
		 struct px_errbuf *eb);

/* Hamming distance, 0-256. */
int px_pdq_distance(const struct px_pdq *a, const struct px_pdq *b);

/* The 64 hex digits and a NUL into out. */
void px_pdq_hex(const struct px_pdq *h, char out[PX_PDQ_HEX_LEN + 1]);

/* Parse exactly n == 64 hex digits (either case). PX_EINVAL otherwise. */
int px_pdq_parse(const char *hex, size_t n, struct px_pdq *out);

/* The 32 bytes of the hash in hex order (word 15 first, big-endian), the
 * form kept in the metadata store's keys. */
void px_pdq_bytes(const struct px_pdq *h, uint8_t out[32]);
void px_pdq_from_bytes(const uint8_t in[32], struct px_pdq *h);

/*
 * Multi-index hashing: the hash as 16 chunks of 16 bits (chunk k is word
 * k). Two hashes within distance d agree to within floor(d / 16) bits on
 * at least one chunk, so probing every chunk value within that radius
 * finds every match. px_pdq_probe calls fn(ctx, value) for each 16-bit
 * value within radius r (0-4) of v, v itself first; fn returns nonzero to
 * stop, and that value is returned.
 */
#define PX_PDQ_CHUNKS 16
#define PX_PDQ_MAX_RADIUS 4
int px_pdq_probe(uint16_t v, int r, int (*fn)(void *ctx, uint16_t value),
		 void *ctx);

/* The lower median of n <= 256 floats. */
float px_pdq_median(const float *v, int n);

#endif
