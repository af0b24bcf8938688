/*
 * faces.c - the record's "faces" array: encoding and decoding of the
 * face boxes a detector found (catalog.h, struct px_rec_faces).
 *
 * Boxes are kept in whole pixels, rounded outwards so that the stored
 * box still covers the detected one, and scores to four places: the
 * record stays small and its bytes (hence its ETag and the delivery
 * cache key of face-dependent variants) do not move with float noise.
 */
#include "catalog/catalog.h"

#include <jansson.h>
#include <math.h>

static double round_to(double v, double unit)
{
	return isfinite(v) ? round(v / unit) * unit : 0;
}

json_t *px_rec_faces_json(const struct px_rec_faces *f)
{
	json_t *arr;

	if (!f->known)
		return NULL;
	arr = json_array();
	for (int i = 0; arr && i < f->n && i < PX_FACES_MAX; i++) {
		const struct px_rec_face *b = &f->a[i];
		double x0 = floor(round_to(b->x, 0.001));
		double y0 = floor(round_to(b->y, 0.001));
		double x1 = ceil(round_to(b->x + b->w, 0.001));
		double y1 = ceil(round_to(b->y + b->h, 0.001));

		json_array_append_new(
			arr, json_pack("{s:I,s:I,s:I,s:I,s:f}", "x", (json_int_t)x0,
				       "y", (json_int_t)y0, "w",
				       (json_int_t)PX_MAX(x1 - x0, 1.0), "h",
				       (json_int_t)PX_MAX(y1 - y0, 1.0), "score",
				       round_to(b->score, 0.0001)));
	}
	return arr;
}

static bool num(const json_t *o, const char *k, float *out)
{
	const json_t *v = json_object_get(o, k);
	double d;

	if (!json_is_number(v))
		return false;
	d = json_number_value(v);
	if (!isfinite(d) || fabs(d) > 1e7)
		return false;
	*out = (float)d;
	return true;
}

void px_rec_faces_parse(const json_t *v, struct px_rec_faces *f)
{
	size_t i;
	const json_t *e;

	memset(f, 0, sizeof(*f));
	if (!json_is_array(v))
		return;
	f->known = true;
	json_array_foreach(v, i, e) {
		struct px_rec_face b;

		if (f->n >= PX_FACES_MAX)
			break;
		if (!num(e, "x", &b.x) || !num(e, "y", &b.y) ||
		    !num(e, "w", &b.w) || !num(e, "h", &b.h) || b.w <= 0 ||
		    b.h <= 0)
			continue;
		if (!num(e, "score", &b.score))
			b.score = 0;
		f->a[f->n++] = b;
	}
}
