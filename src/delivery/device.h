/*
 * device.h - device classes (mobile, tablet, desktop) for per-device
 * variants and width=auto without width hints.
 *
 * The class comes from Sec-CH-UA-Mobile when the request carries a
 * well-formed one, else from the User-Agent by a fixed table of substring
 * rules (no regular expressions, nothing compiled per request).
 * docs/RESPONSIVE.md gives the rules, their source and their measured
 * accuracy.
 */
#ifndef PX_DEVICE_H
#define PX_DEVICE_H

#include "core/common.h"

enum px_device {
	PX_DEVICE_DESKTOP = 0,
	PX_DEVICE_MOBILE,
	PX_DEVICE_TABLET,
	PX_DEVICE_COUNT,
};

/* "desktop", "mobile", "tablet". */
const char *px_device_name(enum px_device d);

/* The class named name; -1 for an unknown name. */
int px_device_parse(const char *name);

/* Classify a User-Agent string (NULL or "" is desktop). */
enum px_device px_device_from_ua(const char *ua);

/*
 * The class of a request: ch_mobile is its Sec-CH-UA-Mobile value ("?1"
 * mobile, "?0" desktop; anything else counts as absent), ua its
 * User-Agent; either may be NULL. *used_ua is set when the User-Agent
 * decided (the answer then varies on it).
 */
enum px_device px_device_classify(const char *ch_mobile, const char *ua,
				  bool *used_ua);

/* Cloudflare's width=auto size for a class without width hints:
 * 320 mobile, 768 tablet, 960 desktop. */
int px_device_auto_width(enum px_device d);

#endif
