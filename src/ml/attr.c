/*
 * attr.c - node attributes as the TF.js converter writes them.
 *
 * model.json stores a TensorFlow AttrValue in proto3 JSON: strings are
 * base64 ("s"), int64 are decimal strings ("i"), floats may be the strings
 * "NaN" or "Infinity", lists hold one array per kind. Everything here is
 * untrusted: a wrong JSON type is PX_EINVAL, never a crash.
 */
#include "ml/graph.h"

#include <math.h>

int px_ml_json_int(const json_t *j, int64_t *out)
{
	const char *s;
	char *end;
	long long v;

	if (json_is_integer(j)) {
		*out = json_integer_value(j);
		return 0;
	}
	if (json_is_real(j)) {
		double d = json_real_value(j);

		/* only integral doubles within int64 */
		if (!(d >= -9.2e18 && d <= 9.2e18) || d != floor(d))
			return PX_EINVAL;
		*out = (int64_t)d;
		return 0;
	}
	if (!json_is_string(j))
		return PX_EINVAL;
	s = json_string_value(j);
	if (!*s || json_string_length(j) != strlen(s))
		return PX_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || end == s)
		return PX_EINVAL;
	*out = v;
	return 0;
}

int px_ml_json_num(const json_t *j, double *out)
{
	const char *s;

	if (json_is_number(j)) {
		*out = json_number_value(j);
		return 0;
	}
	if (!json_is_string(j))
		return PX_EINVAL;
	s = json_string_value(j);
	if (!strcmp(s, "NaN"))
		*out = NAN;
	else if (!strcmp(s, "Infinity"))
		*out = INFINITY;
	else if (!strcmp(s, "-Infinity"))
		*out = -INFINITY;
	else
		return PX_EINVAL;
	return 0;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int px_ml_base64(const char *in, size_t n, unsigned char *out, size_t cap,
		 size_t *len)
{
	uint32_t acc = 0;
	size_t o = 0, i;
	int bits = 0;

	while (n && in[n - 1] == '=')
		n--;
	for (i = 0; i < n; i++) {
		int v = b64val((unsigned char)in[i]);

		if (v < 0)
			return PX_EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return PX_EINVAL;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* a single dangling symbol cannot encode a byte */
	if (bits >= 6)
		return PX_EINVAL;
	*len = o;
	return 0;
}

/* attr[name][kind], or NULL; PX_EINVAL if attr[name] is not an object. */
static int field(const json_t *attr, const char *name, const char *kind,
		 const json_t **out)
{
	const json_t *a;

	*out = NULL;
	if (!attr)
		return 0;
	a = json_object_get(attr, name);
	if (!a)
		return 0;
	if (!json_is_object(a))
		return PX_EINVAL;
	*out = json_object_get(a, kind);
	return 0;
}

static int decode_str(const json_t *j, char *out, size_t cap)
{
	size_t len;
	int rc;

	if (!json_is_string(j) || cap == 0)
		return PX_EINVAL;
	rc = px_ml_base64(json_string_value(j), json_string_length(j),
			  (unsigned char *)out, cap - 1, &len);
	if (rc)
		return rc;
	out[len] = '\0';
	if (strlen(out) != len)
		return PX_EINVAL; /* embedded NUL */
	return 0;
}

int px_ml_attr_str(const json_t *attr, const char *name, char *out,
		   size_t cap)
{
	const json_t *j;
	int rc = field(attr, name, "s", &j);

	if (rc)
		return rc;
	if (!j)
		return PX_ENOTFOUND;
	return decode_str(j, out, cap);
}

int px_ml_attr_int(const json_t *attr, const char *name, int64_t def,
		   int64_t *out)
{
	const json_t *j;
	int rc = field(attr, name, "i", &j);

	if (rc)
		return rc;
	if (!j) {
		*out = def;
		return 0;
	}
	return px_ml_json_int(j, out);
}

int px_ml_attr_float(const json_t *attr, const char *name, double def,
		     double *out)
{
	const json_t *j;
	int rc = field(attr, name, "f", &j);

	if (rc)
		return rc;
	if (!j) {
		*out = def;
		return 0;
	}
	return px_ml_json_num(j, out);
}

int px_ml_attr_bool(const json_t *attr, const char *name, bool def, bool *out)
{
	const json_t *j;
	int rc = field(attr, name, "b", &j);

	if (rc)
		return rc;
	if (!j) {
		*out = def;
		return 0;
	}
	if (!json_is_boolean(j))
		return PX_EINVAL;
	*out = json_is_true(j);
	return 0;
}

/* attr[name].list[kind] as an array, or NULL when absent. */
static int list(const json_t *attr, const char *name, const char *kind,
		const json_t **out)
{
	const json_t *l;
	int rc = field(attr, name, "list", &l);

	*out = NULL;
	if (rc || !l)
		return rc;
	if (!json_is_object(l))
		return PX_EINVAL;
	*out = json_object_get(l, kind);
	if (*out && !json_is_array(*out))
		return PX_EINVAL;
	return 0;
}

int px_ml_attr_ints(const json_t *attr, const char *name, int64_t *out,
		    int max, int *n)
{
	const json_t *a;
	size_t i;
	int rc = list(attr, name, "i", &a);

	*n = 0;
	if (rc || !a)
		return rc;
	if (json_array_size(a) > (size_t)max)
		return PX_EINVAL;
	for (i = 0; i < json_array_size(a); i++) {
		rc = px_ml_json_int(json_array_get(a, i), &out[i]);
		if (rc)
			return rc;
	}
	*n = (int)i;
	return 0;
}

int px_ml_attr_strs(const json_t *attr, const char *name, char (*out)[32],
		    int max, int *n)
{
	const json_t *a;
	size_t i;
	int rc = list(attr, name, "s", &a);

	*n = 0;
	if (rc || !a)
		return rc;
	if (json_array_size(a) > (size_t)max)
		return PX_EINVAL;
	for (i = 0; i < json_array_size(a); i++) {
		rc = decode_str(json_array_get(a, i), out[i], sizeof(out[i]));
		if (rc)
			return rc;
	}
	*n = (int)i;
	return 0;
}

int px_ml_attr_shape(const json_t *attr, const char *name, int *rank,
		     int64_t *dims)
{
	const json_t *s, *d, *u;
	size_t i;
	int rc = field(attr, name, "shape", &s);

	if (rc)
		return rc;
	if (!s)
		return PX_ENOTFOUND;
	if (!json_is_object(s))
		return PX_EINVAL;
	u = json_object_get(s, "unknownRank");
	if (u && json_is_true(u)) {
		*rank = -1;
		return 0;
	}
	d = json_object_get(s, "dim");
	if (!d) {
		*rank = 0;
		return 0;
	}
	if (!json_is_array(d) || json_array_size(d) > PX_ML_MAX_RANK)
		return PX_EINVAL;
	for (i = 0; i < json_array_size(d); i++) {
		const json_t *e = json_array_get(d, i), *sz;

		if (!json_is_object(e))
			return PX_EINVAL;
		sz = json_object_get(e, "size");
		if (!sz) {
			dims[i] = 0; /* proto3 omits zero */
			continue;
		}
		rc = px_ml_json_int(sz, &dims[i]);
		if (rc)
			return rc;
		if (dims[i] < -1 || dims[i] > INT32_MAX)
			return PX_EINVAL;
	}
	*rank = (int)i;
	return 0;
}

int px_ml_attr_type(const json_t *attr, const char *name,
		    enum px_ml_dtype *out)
{
	const json_t *t;
	const char *s;
	int rc = field(attr, name, "type", &t);

	if (rc)
		return rc;
	if (!t)
		return PX_ENOTFOUND;
	if (json_is_integer(t)) {
		/* tensorflow DataType enum values */
		switch (json_integer_value(t)) {
		case 1: *out = PX_ML_F32; return 0;
		case 3: *out = PX_ML_I32; return 0;
		case 10: *out = PX_ML_BOOL; return 0;
		}
		return PX_EUNSUPPORTED;
	}
	if (!json_is_string(t))
		return PX_EINVAL;
	s = json_string_value(t);
	if (!strcmp(s, "DT_FLOAT"))
		*out = PX_ML_F32;
	else if (!strcmp(s, "DT_INT32"))
		*out = PX_ML_I32;
	else if (!strcmp(s, "DT_BOOL"))
		*out = PX_ML_BOOL;
	else
		return PX_EUNSUPPORTED;
	return 0;
}

float px_ml_half(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31;
	uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
	float f;

	if (exp == 0x1f) {
		bits = sign | 0x7f800000u | (man << 13); /* inf, NaN */
	} else if (exp) {
		bits = sign | ((exp + 112) << 23) | (man << 13);
	} else if (man) {
		/* subnormal half: normalise into a float */
		int e = -1;

		do {
			man <<= 1;
			e++;
		} while (!(man & 0x400));
		bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
	} else {
		bits = sign;
	}
	memcpy(&f, &bits, sizeof(f));
	return f;
}
