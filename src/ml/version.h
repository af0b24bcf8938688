/*
 * version.h - the version of the oneDNN library the engine runs on.
 */
#ifndef PX_ML_VERSION_H
#define PX_ML_VERSION_H

/* "2.7.3" or similar; static storage. */
const char *px_ml_version(void);

#endif
