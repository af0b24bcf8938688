/*
 * faces.c - faces on the API side: detection on the upload path, and
 * the record's boxes handed to delivery (gravity=face, redact=faces)
 * with their share of the cache key.
 */
#include "api/app.h"
#include "core/crypto.h"
#include "core/log.h"
#include "moderation/faces.h"

void px_api_faces_upload(struct px_app *a, const void *data, size_t n,
			 struct px_image_rec *rec)
{
	struct px_errbuf eb = {0};

	if (!a->faces)
		return;
	if (px_faces_detect(a->faces, data, n, &rec->faces, &eb))
		px_logf(PX_LOG_WARN, "face detection on \"%s\" failed: %s",
			rec->id, eb.msg);
}

static bool uses_faces(const struct px_xform *x)
{
	return x->gravity == PX_GRAVITY_FACE || x->redact != PX_REDACT_NONE;
}

void px_api_faces_xform(const struct px_rec_faces *f, struct px_xform *x)
{
	x->faces_known = f->known;
	x->nfaces = 0;
	if (!uses_faces(x))
		return;
	for (int i = 0; i < f->n && i < PX_FACES_MAX &&
			i < PX_IMAGE_FACES_MAX; i++) {
		const struct px_rec_face *b = &f->a[i];

		x->faces[x->nfaces++] = (struct px_image_box){b->x, b->y, b->w,
							      b->h};
	}
}

void px_api_faces_key(const struct px_rec_faces *f, const struct px_xform *x,
		      struct px_buf *key)
{
	struct px_buf b;
	char hex[PX_SHA256_HEX_LEN + 1];

	if (!uses_faces(x))
		return;
	if (!f->known) {
		px_buf_adds(key, "|faces=unknown");
		return;
	}
	/* The boxes as the record keeps them (whole pixels). */
	px_buf_init(&b, 4096);
	for (int i = 0; i < f->n; i++)
		px_buf_addf(&b, "%.0f,%.0f,%.0f,%.0f;", (double)f->a[i].x,
			    (double)f->a[i].y, (double)f->a[i].w,
			    (double)f->a[i].h);
	if (px_sha256_hex(b.data ? (const char *)b.data : "", b.len, hex) == 0)
		px_buf_addf(key, "|faces=%.16s", hex);
	px_buf_release(&b);
}
