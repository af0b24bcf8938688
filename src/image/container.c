/*
 * container.c - byte-level work on encoded files (see container.h).
 *
 * Everything here reads untrusted or freshly encoded bytes with explicit
 * bounds on every step: lengths are checked against what is left before
 * they are used, and a walk that does not reach a proper end reports the
 * file as not well formed rather than guessing.
 */
#include "image/container.h"

static unsigned rd16(const unsigned char *p, bool le)
{
	return le ? (unsigned)(p[0] | p[1] << 8) : (unsigned)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const unsigned char *p, bool le)
{
	return le ? ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
		     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24)
		  : ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		     (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}

static void wr32be(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* ------------------------------------------------------------------ */
/* EXIF orientation                                                    */

/*
 * libvips rebuilds EXIF on save and always writes Orientation (1 once the
 * field is gone). The pixels are upright, so the tag is dropped from the
 * encoded IFD0 in place: the entries after it move up one slot, the
 * count drops by one, and 12 dead bytes are left behind, which TIFF
 * allows. Offsets are from the TIFF header, so nothing else moves.
 */
static bool tiff_drop_orientation(unsigned char *t, size_t n)
{
	bool le;
	uint32_t off;
	unsigned cnt;

	if (n < 8 || !(memcmp(t, "II*\0", 4) == 0 || memcmp(t, "MM\0*", 4) == 0))
		return false;
	le = t[0] == 'I';
	off = rd32(t + 4, le);
	if (off < 8 || off > n || n - off < 2)
		return false;
	cnt = rd16(t + off, le);
	if ((size_t)cnt * 12 + 6 > n - off)
		return false;
	for (unsigned i = 0; i < cnt; i++) {
		unsigned char *e = t + off + 2 + 12 * i;

		if (rd16(e, le) != 0x0112)
			continue;
		/* the later entries and the next-IFD offset move up */
		memmove(e, e + 12, (size_t)(cnt - i - 1) * 12 + 4);
		cnt--;
		t[off] = le ? cnt & 0xFF : cnt >> 8;
		t[off + 1] = le ? cnt >> 8 : cnt & 0xFF;
		memset(t + off + 2 + 12 * cnt + 4, 0, 12);
		return true;
	}
	return false;
}

static uint32_t crc32_png(const unsigned char *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
	}
	return c ^ 0xFFFFFFFFu;
}

void px_image_exif_drop_orientation(unsigned char *p, size_t n, enum px_fmt f)
{
	size_t i;

	switch (f) {
	case PX_FMT_JPEG:
		for (i = 2; i + 4 <= n && p[i] == 0xFF;) {
			size_t l = (size_t)p[i + 2] << 8 | p[i + 3];

			if (p[i + 1] == 0xDA || l < 2 || l > n - i - 2)
				return;
			if (p[i + 1] == 0xE1 && l >= 16 &&
			    memcmp(p + i + 4, "Exif\0\0", 6) == 0)
				tiff_drop_orientation(p + i + 10, l - 8);
			i += 2 + l;
		}
		return;
	case PX_FMT_PNG:
		for (i = 8; i + 12 <= n;) {
			uint32_t l = rd32(p + i, false);

			if (l > n - i - 12)
				return;
			if (memcmp(p + i + 4, "eXIf", 4) == 0 &&
			    tiff_drop_orientation(p + i + 8, l))
				wr32be(p + i + 8 + l, crc32_png(p + i + 4, l + 4));
			i += 12 + (size_t)l;
		}
		return;
	case PX_FMT_WEBP:
		for (i = 12; i + 8 <= n;) {
			uint32_t l = rd32(p + i + 4, true);

			if (l > n - i - 8)
				return;
			if (memcmp(p + i, "EXIF", 4) == 0) {
				unsigned char *t = p + i + 8;
				size_t tn = l;

				if (tn >= 6 && memcmp(t, "Exif\0\0", 6) == 0) {
					t += 6;
					tn -= 6;
				}
				tiff_drop_orientation(t, tn);
			}
			i += 8 + (size_t)l + (l & 1);
		}
		return;
	case PX_FMT_AVIF:
		/* The Exif item sits uncompressed in mdat behind libheif's
		 * 4-byte header offset; ten bytes of signature cannot turn
		 * up by chance, and the IFD is checked before any change. */
		for (i = 0; i + 14 <= n; i++)
			if (p[i] == 'E' && memcmp(p + i, "Exif\0\0", 6) == 0 &&
			    tiff_drop_orientation(p + i + 6, n - i - 6))
				return;
		return;
	default:
		return;
	}
}

/*
 * libvips 8.14.1's webpsave ignores "strip" and always writes a freshly
 * made EXIF block (orientation, resolution); a stripped image must carry
 * none. The chunks are copied whole, the RIFF size is fixed and the VP8X
 * flags for ICC, EXIF and XMP are cleared.
 */
int px_image_webp_strip(const unsigned char *p, size_t n, struct px_buf *out)
{
	size_t start = out->len, i;
	unsigned char *d;
	int rc;

	if (n < 12 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WEBP", 4))
		return px_buf_add(out, p, n);
	if ((rc = px_buf_add(out, p, 12)))
		return rc;
	for (i = 12; i + 8 <= n;) {
		uint32_t l = rd32(p + i + 4, true);
		size_t whole = 8 + (size_t)l + (l & 1);

		if (whole > n - i)
			whole = n - i; /* libvips wrote it: trust, but clamp */
		if (memcmp(p + i, "EXIF", 4) != 0 &&
		    memcmp(p + i, "XMP ", 4) != 0 &&
		    memcmp(p + i, "ICCP", 4) != 0 &&
		    (rc = px_buf_add(out, p + i, whole))) {
			out->len = start; /* nothing partial */
			if (out->data)
				out->data[start] = '\0';
			return rc;
		}
		i += whole;
	}
	d = out->data + start;
	if (out->len - start >= 21 && memcmp(d + 12, "VP8X", 4) == 0)
		d[20] &= (unsigned char)~(0x20 | 0x08 | 0x04);
	i = out->len - start - 8;
	d[4] = i & 0xFF;
	d[5] = (i >> 8) & 0xFF;
	d[6] = (i >> 16) & 0xFF;
	d[7] = (i >> 24) & 0xFF;
	return 0;
}

/* ------------------------------------------------------------------ */
/* What an original carries                                            */

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* The segment starting with marker m at p (payload of length l - 2). */
static void jpeg_segment(unsigned m, const unsigned char *p, size_t l,
			 struct px_container *c)
{
	if (m == 0xE0 && l >= 7 && memcmp(p, "JFIF\0", 5) == 0)
		return; /* JFIF header: density only */
	if (m == 0xEE && l >= 7 && memcmp(p, "Adobe", 5) == 0)
		return; /* colour transform flag, read by the decoder */
	if (m == 0xE2 && l >= 14 && memcmp(p, "ICC_PROFILE\0", 12) == 0) {
		c->colour = true;
		return;
	}
	if ((m >= 0xE0 && m <= 0xEF) || m == 0xFE) {
		c->meta = true; /* EXIF, XMP, IPTC, MPF, JFXX, comments */
		return;
	}
}

static void scan_jpeg(const unsigned char *p, size_t n, struct px_container *c)
{
	size_t i = 2;

	if (n < 4 || p[0] != 0xFF || p[1] != 0xD8)
		return;
	while (i + 2 <= n) {
		unsigned m;
		size_t l;

		if (p[i] != 0xFF)
			return;
		m = p[i + 1];
		if (m == 0xFF) { /* fill byte */
			i++;
			continue;
		}
		if (m == 0xD9) { /* EOI */
			i += 2;
			c->extra = c->extra || !all_zero(p + i, n - i);
			c->ok = true;
			return;
		}
		if ((m >= 0xD0 && m <= 0xD7) || m == 0x01) {
			i += 2;
			continue;
		}
		if (i + 4 > n)
			return;
		l = (size_t)p[i + 2] << 8 | p[i + 3];
		if (l < 2 || l > n - i - 2)
			return;
		jpeg_segment(m, p + i + 4, l, c);
		i += 2 + l;
		if (m != 0xDA)
			continue;
		/* Entropy-coded data: up to the next marker that is not a
		 * stuffed byte or a restart. Progressive files have several
		 * scans with tables in between, walked as above. */
		while (i + 1 < n) {
			if (p[i] == 0xFF && p[i + 1] != 0 && p[i + 1] != 0xFF &&
			    !(p[i + 1] >= 0xD0 && p[i + 1] <= 0xD7))
				break;
			i++;
		}
		if (i + 1 >= n)
			return; /* no EOI: truncated */
	}
}

static void scan_png(const unsigned char *p, size_t n, struct px_container *c)
{
	/* Chunks that carry nothing but pixels and how to show them. */
	static const char *aPlain[] = {"IHDR", "PLTE", "IDAT", "tRNS",
				       "pHYs", "bKGD", "sBIT", "sRGB"};
	static const char *aColour[] = {"iCCP", "gAMA", "cHRM", "cICP",
					"mDCv", "cLLi"};
	size_t i = 8;

	if (n < 8 || memcmp(p, "\x89PNG\r\n\x1a\n", 8) != 0)
		return;
	while (i + 12 <= n) {
		uint32_t l = rd32(p + i, false);
		const unsigned char *t = p + i + 4;
		bool known = false;

		if (l > n - i - 12)
			return;
		if (memcmp(t, "IEND", 4) == 0) {
			i += 12 + (size_t)l;
			c->extra = c->extra || !all_zero(p + i, n - i);
			c->ok = true;
			return;
		}
		for (size_t k = 0; !known && k < PX_ARRAY_LEN(aPlain); k++)
			known = memcmp(t, aPlain[k], 4) == 0;
		for (size_t k = 0; !known && k < PX_ARRAY_LEN(aColour); k++)
			if (memcmp(t, aColour[k], 4) == 0)
				known = c->colour = true;
		if (!known && (memcmp(t, "acTL", 4) == 0 ||
			       memcmp(t, "fcTL", 4) == 0 ||
			       memcmp(t, "fdAT", 4) == 0))
			known = c->extra = true; /* APNG: frames we never read */
		if (!known)
			c->meta = true; /* text, eXIf, tIME, private chunks */
		i += 12 + (size_t)l;
	}
}

static void scan_webp(const unsigned char *p, size_t n, struct px_container *c)
{
	static const char *aPlain[] = {"VP8 ", "VP8L", "VP8X", "ALPH",
				       "ANIM", "ANMF"};
	size_t i = 12, end;

	if (n < 12 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WEBP", 4))
		return;
	end = (size_t)rd32(p + 4, true) + 8;
	if (end > n || end < 12)
		return;
	while (i + 8 <= end) {
		uint32_t l = rd32(p + i + 4, true);
		bool known = false;

		if (l > end - i - 8)
			return;
		for (size_t k = 0; !known && k < PX_ARRAY_LEN(aPlain); k++)
			known = memcmp(p + i, aPlain[k], 4) == 0;
		if (!known && memcmp(p + i, "ICCP", 4) == 0)
			known = c->colour = true;
		if (!known)
			c->meta = true; /* EXIF, XMP, unknown chunks */
		i += 8 + (size_t)l + (l & 1);
	}
	if (i != end && !(i == end + 1 && end == n))
		return;
	c->extra = c->extra || !all_zero(p + end, n - end);
	c->ok = true;
}

/* Skip GIF data sub-blocks from *i; false when they run off the end. */
static bool gif_skip_blocks(const unsigned char *p, size_t n, size_t *i)
{
	while (*i < n) {
		size_t l = p[*i];

		(*i)++;
		if (l == 0)
			return true;
		if (l > n - *i)
			return false;
		*i += l;
	}
	return false;
}

static void scan_gif(const unsigned char *p, size_t n, struct px_container *c)
{
	size_t i = 13;

	if (n < 13 || (memcmp(p, "GIF87a", 6) && memcmp(p, "GIF89a", 6)))
		return;
	if (p[10] & 0x80)
		i += (size_t)3 << ((p[10] & 7) + 1);
	while (i < n) {
		unsigned b = p[i++];

		if (b == 0x3B) {
			c->extra = c->extra || !all_zero(p + i, n - i);
			c->ok = true;
			return;
		}
		if (b == 0x2C) {
			if (n - i < 10)
				return;
			if (p[i + 8] & 0x80)
				i += (size_t)3 << ((p[i + 8] & 7) + 1);
			i += 10; /* descriptor and LZW code size */
			if (i > n || !gif_skip_blocks(p, n, &i))
				return;
			continue;
		}
		if (b != 0x21 || i >= n)
			return;
		b = p[i++];
		if (b == 0xFF) {
			bool anim = i + 12 <= n && p[i] == 11 &&
				    (memcmp(p + i + 1, "NETSCAPE2.0", 11) == 0 ||
				     memcmp(p + i + 1, "ANIMEXTS1.0", 11) == 0);

			if (!anim)
				c->meta = true; /* XMP, ICC, anything else */
		} else if (b == 0xFE) {
			c->meta = true;
		} else if (b == 0x01) {
			c->extra = true; /* plain text: drawn by nobody */
		} else if (b != 0xF9) {
			c->meta = true;
		}
		if (!gif_skip_blocks(p, n, &i))
			return;
	}
}

/*
 * ISOBMFF (AVIF): boxes nest; the ones that matter are meta/iinf/infe
 * (Exif and XMP items), meta/iprp/ipco/colr (an ICC profile) and moov
 * (an image sequence the decoder does not read). The walk descends only
 * into the containers on that path and never deeper than four levels.
 */
static bool scan_boxes(const unsigned char *p, size_t n, int depth,
		       struct px_container *c)
{
	size_t i = 0;

	while (i < n) {
		uint64_t l;
		size_t hdr = 8, body;
		const unsigned char *t;

		if (n - i < 8)
			return false;
		l = rd32(p + i, false);
		t = p + i + 4;
		if (l == 1) {
			if (n - i < 16)
				return false;
			l = (uint64_t)rd32(p + i + 8, false) << 32 |
			    rd32(p + i + 12, false);
			hdr = 16;
		} else if (l == 0) {
			l = n - i;
		}
		if (l < hdr || l > n - i)
			return false;
		body = (size_t)l - hdr;
		if (memcmp(t, "moov", 4) == 0)
			c->extra = true;
		if (depth < 4 && memcmp(t, "meta", 4) == 0) {
			if (body < 4 || !scan_boxes(p + i + hdr + 4, body - 4,
						    depth + 1, c))
				return false;
		} else if (depth < 4 && (memcmp(t, "iprp", 4) == 0 ||
					 memcmp(t, "ipco", 4) == 0)) {
			if (!scan_boxes(p + i + hdr, body, depth + 1, c))
				return false;
		} else if (depth < 4 && memcmp(t, "iinf", 4) == 0) {
			size_t skip = body >= 1 && p[i + hdr] == 0 ? 6 : 8;

			if (body < skip ||
			    !scan_boxes(p + i + hdr + skip, body - skip,
					depth + 1, c))
				return false;
		} else if (memcmp(t, "infe", 4) == 0) {
			const unsigned char *b = p + i + hdr;
			size_t at = body >= 1 && b[0] >= 3 ? 10 : 8;

			/* versions 2 and 3 name the item type; older ones
			 * are not used by AVIF */
			if (body >= 1 && b[0] >= 2 && body >= at + 4 &&
			    (memcmp(b + at, "Exif", 4) == 0 ||
			     memcmp(b + at, "mime", 4) == 0))
				c->meta = true;
		} else if (memcmp(t, "colr", 4) == 0) {
			if (body >= 4 && (memcmp(p + i + hdr, "prof", 4) == 0 ||
					  memcmp(p + i + hdr, "rICC", 4) == 0))
				c->colour = true;
		}
		i += (size_t)l;
	}
	return true;
}

void px_image_container_scan(const void *data, size_t n, enum px_fmt f,
			     struct px_container *c)
{
	const unsigned char *p = data;

	memset(c, 0, sizeof(*c));
	if (!p)
		return;
	switch (f) {
	case PX_FMT_JPEG: scan_jpeg(p, n, c); break;
	case PX_FMT_PNG: scan_png(p, n, c); break;
	case PX_FMT_WEBP: scan_webp(p, n, c); break;
	case PX_FMT_GIF: scan_gif(p, n, c); break;
	case PX_FMT_AVIF: c->ok = scan_boxes(p, n, 0, c); break;
	default: break;
	}
}
