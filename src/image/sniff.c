/*
 * sniff.c - recognise image formats from their first bytes, and the
 * names, MIME types and upload policy that go with them.
 *
 * Nothing here touches libvips: px_image_probe() sniffs first and only
 * hands bytes to a decoder whose format is allowed, so this file is the
 * first gate every untrusted upload passes.
 */
#include "image/image.h"

static const struct {
	enum px_fmt fmt;
	const char *zName;
	const char *zMime;
} fmts[] = {
	{PX_FMT_UNKNOWN, "unknown", "application/octet-stream"},
	{PX_FMT_JPEG, "jpeg", "image/jpeg"},
	{PX_FMT_PNG, "png", "image/png"},
	{PX_FMT_WEBP, "webp", "image/webp"},
	{PX_FMT_GIF, "gif", "image/gif"},
	{PX_FMT_AVIF, "avif", "image/avif"},
	{PX_FMT_HEIC, "heic", "image/heic"},
	{PX_FMT_TIFF, "tiff", "image/tiff"},
	{PX_FMT_SVG, "svg", "image/svg+xml"},
	{PX_FMT_PDF, "pdf", "application/pdf"},
};

const char *px_fmt_name(enum px_fmt f)
{
	for (size_t i = 0; i < PX_ARRAY_LEN(fmts); i++)
		if (fmts[i].fmt == f)
			return fmts[i].zName;
	return "unknown";
}

const char *px_fmt_mime(enum px_fmt f)
{
	for (size_t i = 0; i < PX_ARRAY_LEN(fmts); i++)
		if (fmts[i].fmt == f)
			return fmts[i].zMime;
	return "application/octet-stream";
}

enum px_fmt px_fmt_parse(const char *name)
{
	if (!name)
		return PX_FMT_UNKNOWN;
	if (strcmp(name, "jpg") == 0)
		return PX_FMT_JPEG;
	/* "unknown" parses to UNKNOWN, which is also the "no match" answer */
	for (size_t i = 0; i < PX_ARRAY_LEN(fmts); i++)
		if (strcmp(name, fmts[i].zName) == 0)
			return fmts[i].fmt;
	return PX_FMT_UNKNOWN;
}

bool px_image_format_allowed(enum px_fmt f)
{
	switch (f) {
	case PX_FMT_JPEG:
	case PX_FMT_PNG:
	case PX_FMT_WEBP:
	case PX_FMT_GIF:
	case PX_FMT_AVIF:
	case PX_FMT_HEIC:
	case PX_FMT_TIFF:
		return true;
	default:
		return false;
	}
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/*
 * ISO-BMFF: the first box must be "ftyp"; its major brand and every
 * compatible brand are looked at, and an AVIF brand anywhere wins over
 * the HEIF ones (AVIF files list "mif1" too).
 */
static enum px_fmt sniff_ftyp(const unsigned char *p, size_t n)
{
	static const char *aHeic[] = {"heic", "heix", "hevc", "hevx",
				      "heim", "heis", "mif1", "msf1"};
	size_t end, off;
	bool heic = false;

	if (n < 16 || memcmp(p + 4, "ftyp", 4) != 0)
		return PX_FMT_UNKNOWN;
	end = be32(p);
	/* 0 means "to the end of the file", 1 a 64-bit size: scan what we have */
	if (end < 16 || end > n)
		end = n;
	if (end > 4096)
		end = 4096;
	for (off = 8; off + 4 <= end; off += 4) {
		const unsigned char *b = p + off;

		if (off == 12)
			continue; /* minor version, not a brand */
		if (memcmp(b, "avif", 4) == 0 || memcmp(b, "avis", 4) == 0)
			return PX_FMT_AVIF;
		for (size_t i = 0; i < PX_ARRAY_LEN(aHeic); i++)
			if (memcmp(b, aHeic[i], 4) == 0)
				heic = true;
	}
	return heic ? PX_FMT_HEIC : PX_FMT_UNKNOWN;
}

/* Text that starts, after an optional UTF-8 BOM and whitespace, like XML
 * or an <svg> element. */
static bool sniff_svg(const unsigned char *p, size_t n)
{
	size_t i = 0;

	if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
		i = 3;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
			 p[i] == '\n'))
		i++;
	if (n - i >= 5 && memcmp(p + i, "<?xml", 5) == 0)
		return true;
	if (n - i >= 4 && memcmp(p + i, "<svg", 4) == 0)
		return true;
	return false;
}

enum px_fmt px_image_sniff(const void *data, size_t n)
{
	const unsigned char *p = data;

	if (!p || n == 0)
		return PX_FMT_UNKNOWN;
	if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
		return PX_FMT_JPEG;
	if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
		return PX_FMT_PNG;
	if (n >= 6 &&
	    (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
		return PX_FMT_GIF;
	if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
		return PX_FMT_WEBP;
	if (n >= 4 && (memcmp(p, "II*\0", 4) == 0 || memcmp(p, "MM\0*", 4) == 0))
		return PX_FMT_TIFF;
	if (n >= 5 && memcmp(p, "%PDF-", 5) == 0)
		return PX_FMT_PDF;
	if (n >= 16) {
		enum px_fmt f = sniff_ftyp(p, n);

		if (f != PX_FMT_UNKNOWN)
			return f;
	}
	if (sniff_svg(p, n))
		return PX_FMT_SVG;
	return PX_FMT_UNKNOWN;
}
