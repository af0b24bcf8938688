/*
 * facecrop.c - the geometry of gravity=face, zoom and redact=faces:
 * pure arithmetic on face boxes (image.h), no pixels. image.c turns the
 * window into a crop of the upright original before the resize.
 */
#include "image/image.h"

#include <math.h>

static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Clip b to the w x h image; false when nothing is left. */
static bool clip(int w, int h, const struct px_image_box *b, double r[4])
{
	double x0, y0, x1, y1;

	if (!isfinite(b->x) || !isfinite(b->y) || !isfinite(b->w) ||
	    !isfinite(b->h) || b->w <= 0 || b->h <= 0)
		return false;
	x0 = clampd(b->x, 0, w);
	y0 = clampd(b->y, 0, h);
	x1 = clampd((double)b->x + b->w, 0, w);
	y1 = clampd((double)b->y + b->h, 0, h);
	if (x1 - x0 <= 0 || y1 - y0 <= 0)
		return false;
	r[0] = x0;
	r[1] = y0;
	r[2] = x1;
	r[3] = y1;
	return true;
}

bool px_face_crop(int w, int h, double aspect, double zoom,
		  const struct px_image_box *boxes, int n, int minw, int minh,
		  int out[4])
{
	double u[4] = {0}, r[4], maxw, fitw, cw, ch, cx, cy, left, top;
	bool any = false;
	long iw, ih, il, it;

	if (w < 1 || h < 1 || !boxes)
		return false;
	for (int i = 0; i < n; i++) {
		if (!clip(w, h, &boxes[i], r))
			continue;
		if (!any) {
			memcpy(u, r, sizeof(u));
			any = true;
			continue;
		}
		u[0] = PX_MIN(u[0], r[0]);
		u[1] = PX_MIN(u[1], r[1]);
		u[2] = PX_MAX(u[2], r[2]);
		u[3] = PX_MAX(u[3], r[3]);
	}
	if (!any)
		return false;
	if (!isfinite(aspect) || aspect <= 0)
		aspect = (double)w / h;
	zoom = isfinite(zoom) ? clampd(zoom, 0, 1) : 0;

	/* The largest window of the aspect inside the image... */
	maxw = (double)w / h > aspect ? h * aspect : w;
	/* ...the smallest that holds the union (and the floor)... */
	fitw = PX_MAX(u[2] - u[0], (u[3] - u[1]) * aspect);
	fitw = PX_MAX(fitw, (double)minw);
	fitw = PX_MAX(fitw, minh * aspect);
	fitw = PX_MIN(fitw, maxw);
	/* ...and zoom between the two. */
	cw = maxw - zoom * (maxw - fitw);
	ch = cw / aspect;
	cx = (u[0] + u[2]) / 2;
	cy = (u[1] + u[3]) / 2;
	left = clampd(cx - cw / 2, 0, w - cw);
	top = clampd(cy - ch / 2, 0, h - ch);

	iw = lround(cw);
	ih = lround(ch);
	iw = iw < 1 ? 1 : iw > w ? w : iw;
	ih = ih < 1 ? 1 : ih > h ? h : ih;
	il = lround(left);
	it = lround(top);
	il = il < 0 ? 0 : il > w - iw ? w - iw : il;
	it = it < 0 ? 0 : it > h - ih ? h - ih : it;
	out[0] = (int)il;
	out[1] = (int)it;
	out[2] = (int)iw;
	out[3] = (int)ih;
	return true;
}

bool px_redact_rect(int w, int h, const struct px_image_box *b, int out[4])
{
	struct px_image_box p;
	double r[4];

	if (!b || !isfinite(b->w) || !isfinite(b->h))
		return false;
	p.x = (float)(b->x - b->w * PX_REDACT_MARGIN);
	p.y = (float)(b->y - b->h * PX_REDACT_MARGIN);
	p.w = (float)(b->w * (1 + 2 * PX_REDACT_MARGIN));
	p.h = (float)(b->h * (1 + 2 * PX_REDACT_MARGIN));
	if (!clip(w, h, &p, r))
		return false;
	out[0] = (int)floor(r[0]);
	out[1] = (int)floor(r[1]);
	out[2] = (int)ceil(r[2]) - out[0];
	out[3] = (int)ceil(r[3]) - out[1];
	return out[2] > 0 && out[3] > 0;
}
