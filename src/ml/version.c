/*
 * version.c - oneDNN's run-time version as text.
 */
#include "core/common.h"
#include "ml/ml.h"

#include <dnnl.h>
#include <pthread.h>

static char text[32];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void format(void)
{
	const dnnl_version_t *v = dnnl_version();

	snprintf(text, sizeof(text), "%d.%d.%d", v->major, v->minor, v->patch);
}

const char *px_ml_version(void)
{
	pthread_once(&once, format);
	return text;
}
