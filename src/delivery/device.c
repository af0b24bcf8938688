/*
 * device.c - device classes from Sec-CH-UA-Mobile or the User-Agent.
 *
 * The User-Agent rules are an ordered table of substrings, first match
 * wins: tablets that call themselves "Mobile" (iPad, Kindle) come before
 * the "Mobi" rule, Android without "Mobi" is a tablet (Google's advice to
 * Android makers), other phone platforms follow. memmem over a header of
 * a few hundred bytes per rule: a few microseconds, no allocation, no
 * regex state.
 */
#include "delivery/device.h"

static const char *names[PX_DEVICE_COUNT] = {"desktop", "mobile", "tablet"};

struct ua_rule {
	const char *needle;
	enum px_device cls;
};

static const struct ua_rule rules[] = {
	/* tablets whose User-Agent also says "Mobile" */
	{"iPad", PX_DEVICE_TABLET},
	{"Kindle", PX_DEVICE_TABLET},
	{"Silk/", PX_DEVICE_TABLET},
	{"PlayBook", PX_DEVICE_TABLET},
	{"Tablet;", PX_DEVICE_TABLET}, /* Firefox; not Windows' "Tablet PC" */
	{"SM-T", PX_DEVICE_TABLET},    /* Samsung Galaxy Tab models */
	/* MDN's advice: "Mobi" anywhere means a phone */
	{"Mobi", PX_DEVICE_MOBILE},
	{"iPhone", PX_DEVICE_MOBILE},
	{"iPod", PX_DEVICE_MOBILE},
	{"Windows Phone", PX_DEVICE_MOBILE},
	{"BlackBerry", PX_DEVICE_MOBILE},
	{"BB10", PX_DEVICE_MOBILE},
	{"Opera Mini", PX_DEVICE_MOBILE},
	{"Symbian", PX_DEVICE_MOBILE},
	{"Nokia", PX_DEVICE_MOBILE},
	{"MIDP", PX_DEVICE_MOBILE},
	{"Phone", PX_DEVICE_MOBILE},
	/* Android without "Mobi": a tablet */
	{"Android", PX_DEVICE_TABLET},
	{"android", PX_DEVICE_TABLET},
};

const char *px_device_name(enum px_device d)
{
	return (unsigned)d < PX_DEVICE_COUNT ? names[d] : "";
}

int px_device_parse(const char *name)
{
	for (int i = 0; i < PX_DEVICE_COUNT; i++)
		if (name && !strcmp(name, names[i]))
			return i;
	return -1;
}

enum px_device px_device_from_ua(const char *ua)
{
	size_t n = ua ? strlen(ua) : 0;

	for (size_t i = 0; i < PX_ARRAY_LEN(rules); i++)
		if (memmem(ua ? ua : "", n, rules[i].needle,
			   strlen(rules[i].needle)))
			return rules[i].cls;
	return PX_DEVICE_DESKTOP;
}

enum px_device px_device_classify(const char *ch_mobile, const char *ua,
				  bool *used_ua)
{
	*used_ua = false;
	if (ch_mobile) {
		/* a structured-field boolean, optionally padded */
		while (*ch_mobile == ' ' || *ch_mobile == '\t')
			ch_mobile++;
		if (ch_mobile[0] == '?' &&
		    (ch_mobile[1] == '0' || ch_mobile[1] == '1') &&
		    strspn(ch_mobile + 2, " \t") == strlen(ch_mobile + 2))
			return ch_mobile[1] == '1' ? PX_DEVICE_MOBILE
						   : PX_DEVICE_DESKTOP;
	}
	*used_ua = true;
	return px_device_from_ua(ua);
}

int px_device_auto_width(enum px_device d)
{
	switch (d) {
	case PX_DEVICE_MOBILE: return 320;
	case PX_DEVICE_TABLET: return 768;
	default: return 960;
	}
}
