/*
 * paths.h - where Pictor finds the files it ships with, relative to the
 * running binary, so it works from any directory: installed
 * (PREFIX/bin/pictor with PREFIX/share/pictor/models) or from a checkout
 * (./pictor with ./models, build-clang/pictor with ../models).
 */
#ifndef PX_PATHS_H
#define PX_PATHS_H

#include "core/common.h"

/* The directory holding the running executable (/proc/self/exe), into
 * out. PX_EIO when it cannot be read, PX_ETOOBIG when it does not fit. */
int px_exe_dir(char *out, size_t n);

/*
 * The default model directory: the first of <exe dir>/models,
 * <exe dir>/../share/pictor/models and <exe dir>/../models that exists,
 * else the installed location. Used when neither --models nor
 * PICTOR_MODELS is given.
 */
int px_default_models(char *out, size_t n);

#endif
