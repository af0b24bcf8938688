/*
 * faces.h - face detection at upload and for older images.
 *
 * Owns the face model (src/ml/face.h, shared and read-only) and a pool of
 * execution contexts, one per concurrent caller, as the moderation module
 * does for the classifier. Faces are detected once per image: on the
 * upload path where classification runs (sync mode, or any upload stored
 * with a final status), by the async job runner for pending uploads, and
 * by reclassify jobs (the "faces" filter picks images never looked at).
 * The boxes go into the record (catalog.h, struct px_rec_faces) and
 * delivery reads them from there: gravity=face and redact=faces cost no
 * inference.
 */
#ifndef PX_MOD_FACES_H
#define PX_MOD_FACES_H

#include "catalog/catalog.h"
#include "image/image.h"

/* Detections under this score are not faces. */
#define PX_FACES_MIN_SCORE 0.75f
/* The detector sees the upright image shrunk to this longest side; the
 * boxes are scaled back to the original's pixels. */
#define PX_FACES_INPUT_MAX 512

struct px_faces;

/*
 * Load the face model from models_dir (the models root or the model's
 * own directory) with contexts execution contexts. No face model there
 * (or a build without the detector): *out is NULL, returns 0 and says
 * so in the log once: uploads work and records carry no "faces". A
 * model that is there but does not load fails.
 */
int px_faces_new(const char *models_dir, int contexts,
		 const struct px_image_limits *lim, struct px_faces **out,
		 struct px_errbuf *eb);
void px_faces_free(struct px_faces *f); /* accepts NULL */

/*
 * Detect the faces of encoded image bytes (the first frame, EXIF
 * orientation applied) into out: known, at most PX_FACES_MAX boxes in
 * the original's upright pixels, best score first. f NULL: out is
 * unknown and 0 is returned. Errors of decoding or of the engine are
 * returned with out unknown.
 */
int px_faces_detect(struct px_faces *f, const void *data, size_t n,
		    struct px_rec_faces *out, struct px_errbuf *eb);

#endif
