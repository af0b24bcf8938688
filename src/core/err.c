/*
 * err.c - names and formatting for enum px_err.
 */
#include "core/common.h"

#include <stdarg.h>

const char *px_err_name(int rc)
{
	switch (rc) {
	case PX_OK: return "OK";
	case PX_ENOMEM: return "ENOMEM";
	case PX_EIO: return "EIO";
	case PX_ENOTFOUND: return "ENOTFOUND";
	case PX_EEXIST: return "EEXIST";
	case PX_EINVAL: return "EINVAL";
	case PX_ETOOBIG: return "ETOOBIG";
	case PX_EUNSUPPORTED: return "EUNSUPPORTED";
	case PX_ECORRUPT: return "ECORRUPT";
	case PX_ELIMIT: return "ELIMIT";
	case PX_EBUSY: return "EBUSY";
	case PX_EINTERNAL: return "EINTERNAL";
	}
	return "EUNKNOWN";
}

int px_errf(struct px_errbuf *eb, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!eb)
		return rc;
	va_start(ap, fmt);
	vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
	va_end(ap);
	return rc;
}

int px_errc(struct px_errbuf *eb, int rc, const char *code, const char *fmt,
	    ...)
{
	va_list ap;

	if (!eb)
		return rc;
	eb->code = code;
	va_start(ap, fmt);
	vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
	va_end(ap);
	return rc;
}
