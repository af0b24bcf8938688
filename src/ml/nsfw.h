/*
 * nsfw.h - the nsfwjs MobileNetV2Mid classifier on the ml engine.
 *
 * The model (nsfwjs 4.4.0, installed by `make models` into
 * MODELS_DIR/nsfwjs-mobilenet-v2-mid) takes a 224x224 RGB image, NHWC
 * float, each channel divided by 255 (the graph maps [0,1] to [-1,1]), and
 * gives five probabilities in the order of px_nsfw_class_name(): Drawing,
 * Hentai, Neutral, Porn, Sexy. See docs/MODELS.md.
 *
 * Open the model once (px_nsfw_open) and share it; each worker makes its
 * own px_ml_ctx with px_ml_ctx_new() and passes it to px_nsfw_scores().
 */
#ifndef PX_NSFW_H
#define PX_NSFW_H

#include "ml/ml.h"

#define PX_NSFW_CLASSES 5
#define PX_NSFW_SIZE 224
#define PX_NSFW_MODEL "nsfwjs-mobilenet-v2-mid"

/* The model's directory for models_dir, which is either the models root
 * (holding nsfwjs-mobilenet-v2-mid/) or the model's own directory (holding
 * model.json), into dir. False when neither holds a model.json. */
bool px_nsfw_locate(const char *models_dir, char *dir, size_t n);

/*
 * Load the model px_nsfw_locate finds and check its input is
 * [1,224,224,3] and its output [1,5]. *out receives a model reference
 * (free with px_ml_model_free). Errors as px_ml_model_load; PX_ENOTFOUND
 * naming both places looked at when there is no model.
 */
int px_nsfw_open(const char *models_dir, struct px_ml_model **out,
		 struct px_errbuf *eb);

/*
 * Classify a 224x224 packed RGB image (224*224*3 bytes, rows top to
 * bottom). scores receives the five probabilities. ctx must come from the
 * model px_nsfw_open returned. PX_EINTERNAL if the engine fails.
 */
int px_nsfw_scores(struct px_ml_ctx *ctx, const uint8_t *rgb224,
		   float scores[PX_NSFW_CLASSES], struct px_errbuf *eb);

/* As px_nsfw_scores for an image already in model input form: 224*224*3
 * floats in [0,1] (e.g. from px_nsfw_resize_bilinear_aligned). */
int px_nsfw_scores_f32(struct px_ml_ctx *ctx, const float *in224,
		       float scores[PX_NSFW_CLASSES], struct px_errbuf *eb);

/* "Drawing", "Hentai", "Neutral", "Porn", "Sexy"; "?" out of range. */
const char *px_nsfw_class_name(int i);

/*
 * nsfwjs compatibility preprocessing: packed RGB w x h to 224x224x3 floats
 * in [0,1], exactly as nsfwjs 4.4.0 does it with TF.js:
 * tf.image.resizeBilinear(img / 255, [224, 224], alignCorners = true),
 * no antialiasing, aspect ratio not kept. out224 receives 224*224*3
 * floats. PX_EINVAL for w or h below 1 or above 65535.
 */
int px_nsfw_resize_bilinear_aligned(const uint8_t *rgb, int w, int h,
				    float *out224);

#endif
