/*
 * faces.c - the face model, its context pool, and detection on encoded
 * bytes (faces.h), on the detector in src/ml/face.h.
 */
#include "moderation/faces.h"
#include "core/log.h"

#include <math.h>
#include <unistd.h>

#include "ml/face.h"

struct px_faces {
	struct px_ml_model *model;
	struct px_image_limits lim;
	struct px_ml_ctxpool *ctxs;
};

static bool has_face_model(const char *models_dir, char *dir, size_t n)
{
	const char *base = strrchr(models_dir, '/');
	char path[4200];

	base = base ? base + 1 : models_dir;
	if (!strcmp(base, PX_FACE_MODEL)) {
		snprintf(dir, n, "%s", models_dir);
	} else {
		snprintf(path, sizeof(path), "%s/%s/model.json", models_dir,
			 PX_FACE_MODEL);
		if (access(path, F_OK))
			return false;
		snprintf(dir, n, "%s/%s", models_dir, PX_FACE_MODEL);
	}
	return true;
}

int px_faces_new(const char *models_dir, int contexts,
		 const struct px_image_limits *lim, struct px_faces **out,
		 struct px_errbuf *eb)
{
	struct px_faces *f;
	char dir[4200];
	int rc;

	*out = NULL;
	/* --models may name the classifier's own directory: only a
	 * directory that is, or holds, the face model's counts. */
	if (!models_dir || !has_face_model(models_dir, dir, sizeof(dir))) {
		px_logf(PX_LOG_INFO,
			"no face model in \"%s\": faces are not detected "
			"(run \"make models\" to have them)",
			models_dir ? models_dir : "");
		return 0;
	}
	if (!(f = calloc(1, sizeof(*f))))
		return PX_ENOMEM;
	f->lim = *lim;
	if ((rc = px_face_open(dir, &f->model, eb)))
		goto fail;
	if ((rc = px_ml_ctxpool_new(f->model, contexts, &f->ctxs, eb)))
		goto fail;
	*out = f;
	return 0;
fail:
	px_faces_free(f);
	return rc;
}

void px_faces_free(struct px_faces *f)
{
	if (!f)
		return;
	px_ml_ctxpool_free(f->ctxs);
	px_ml_model_free(f->model);
	free(f);
}

int px_faces_detect(struct px_faces *f, const void *data, size_t n,
		    struct px_rec_faces *out, struct px_errbuf *eb)
{
	struct px_face found[PX_FACE_MAX];
	struct px_image_info info;
	struct px_ml_ctx *ctx;
	struct px_buf rgb;
	double sx, sy, s;
	int rc, w, h, nfound = 0;

	memset(out, 0, sizeof(*out));
	if (!f)
		return 0;
	px_buf_init(&rgb, 0);
	if ((rc = px_image_probe(data, n, &f->lim, &info, eb)))
		goto out;
	/* The detector works at a low resolution: a shrunk decode is as
	 * good and bounds the memory. */
	s = PX_MIN(1.0, (double)PX_FACES_INPUT_MAX /
				PX_MAX(info.width, info.height));
	w = PX_MAX(1, (int)lround(info.width * s));
	h = PX_MAX(1, (int)lround(info.height * s));
	if ((rc = px_image_rgb_resize(data, n, w, h, &rgb, eb)))
		goto out;
	ctx = px_ml_ctxpool_take(f->ctxs);
	rc = px_face_detect(ctx, rgb.data, w, h, PX_FACES_MIN_SCORE, found,
			    PX_FACE_MAX, &nfound, eb);
	px_ml_ctxpool_give(f->ctxs, ctx);
	if (rc)
		goto out;
	sx = (double)info.width / w;
	sy = (double)info.height / h;
	out->known = true;
	for (int i = 0; i < nfound && out->n < PX_FACES_MAX; i++) {
		struct px_rec_face *b = &out->a[out->n];

		if (!(found[i].w > 0) || !(found[i].h > 0))
			continue;
		b->x = (float)(found[i].x * sx);
		b->y = (float)(found[i].y * sy);
		b->w = (float)(found[i].w * sx);
		b->h = (float)(found[i].h * sy);
		b->score = found[i].score;
		out->n++;
	}
out:
	if (rc)
		memset(out, 0, sizeof(*out));
	px_buf_release(&rgb);
	return rc;
}
