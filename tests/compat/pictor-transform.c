/*
 * pictor-transform.c - run one px_image_transform() from the command line,
 * for the compatibility suite (transforms.test.mjs), which compares the
 * result with sharp's. Independent of the HTTP layer and its option
 * parser: settings go straight into struct px_xform.
 *
 * usage: pictor-transform [--describe] FILE [key=value ...]
 *
 * Writes the encoded output to stdout and one line to stderr:
 *   info {"width":W,"height":H,"frames":N,"format":"webp","alpha":true}
 * With --describe, writes px_image_describe()'s answer to stdout as
 * {"in":{...},"out":{...}} instead and encodes nothing. On failure:
 * "error CODE: MESSAGE" on stderr and exit status 1.
 *
 * Keys (values as struct px_xform takes them, see image.h):
 *   w h fit gravity q f metadata bg anim max zoom
 *   trim=T;R;B;L trim.border=1 trim.color=RRGGBB trim.tolerance trim.keep
 *   flip=h|v|hv rotate brightness contrast gamma saturation sharpen blur
 *   border=T;R;B;L border.color=RRGGBBAA baseline=1 fast=1
 * Colours are hex, alpha optional. gravity is a name or XxY.
 */
#include "image/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hex_colour(const char *z, uint8_t *a)
{
	size_t n = strlen(z);
	unsigned v[4] = {0, 0, 0, 255};

	if (*z == '#')
		z++, n--;
	if ((n != 6 && n != 8) ||
	    sscanf(z, "%2x%2x%2x%2x", &v[0], &v[1], &v[2], &v[3]) < 3)
		return -1;
	for (int i = 0; i < 4; i++)
		a[i] = (uint8_t)v[i];
	return 0;
}

static int four(const char *z, int *a)
{
	return sscanf(z, "%d;%d;%d;%d", &a[0], &a[1], &a[2], &a[3]) == 4 ? 0
									  : -1;
}

static int set(struct px_xform *x, const char *k, const char *v)
{
	static const char *aFit[] = {"scale-down", "contain", "cover",
				     "crop",	   "pad",     "squeeze"};
	static const char *aGrav[] = {"auto", "center", "left", "right",
				      "top",  "bottom", NULL,   "face"};

	if (!strcmp(k, "w"))
		x->width = atoi(v);
	else if (!strcmp(k, "h"))
		x->height = atoi(v);
	else if (!strcmp(k, "fit")) {
		for (int i = 0; i < 6; i++)
			if (!strcmp(v, aFit[i]))
				return x->fit = (enum px_fit)i, 0;
		return -1;
	} else if (!strcmp(k, "gravity")) {
		for (int i = 0; i < 8; i++)
			if (aGrav[i] && !strcmp(v, aGrav[i]))
				return x->gravity = (enum px_gravity)i, 0;
		if (sscanf(v, "%lfx%lf", &x->gx, &x->gy) != 2)
			return -1;
		x->gravity = PX_GRAVITY_POINT;
	} else if (!strcmp(k, "q"))
		x->quality = atoi(v);
	else if (!strcmp(k, "f")) {
		if ((x->format = px_fmt_parse(v)) == PX_FMT_UNKNOWN)
			return -1;
	} else if (!strcmp(k, "metadata"))
		x->metadata = !strcmp(v, "keep")   ? PX_META_KEEP
			      : !strcmp(v, "none") ? PX_META_NONE
						   : PX_META_COPYRIGHT;
	else if (!strcmp(k, "bg"))
		return hex_colour(v, x->background);
	else if (!strcmp(k, "anim"))
		x->anim = atoi(v) != 0;
	else if (!strcmp(k, "max"))
		x->max_output = atoi(v);
	else if (!strcmp(k, "zoom"))
		x->zoom = atof(v);
	else if (!strcmp(k, "trim"))
		return four(v, x->trim);
	else if (!strcmp(k, "trim.border"))
		x->trim_border = atoi(v) != 0;
	else if (!strcmp(k, "trim.color")) {
		x->trim_has_color = true;
		return hex_colour(v, x->trim_color);
	} else if (!strcmp(k, "trim.tolerance"))
		x->trim_tolerance = atof(v);
	else if (!strcmp(k, "trim.keep"))
		x->trim_keep = atoi(v);
	else if (!strcmp(k, "flip")) {
		x->flip_h = strchr(v, 'h') != NULL;
		x->flip_v = strchr(v, 'v') != NULL;
	} else if (!strcmp(k, "rotate"))
		x->rotate = atoi(v);
	else if (!strcmp(k, "brightness"))
		x->brightness = atof(v);
	else if (!strcmp(k, "contrast"))
		x->contrast = atof(v);
	else if (!strcmp(k, "gamma"))
		x->gamma = atof(v);
	else if (!strcmp(k, "saturation"))
		x->saturation = atof(v);
	else if (!strcmp(k, "sharpen"))
		x->sharpen = atof(v);
	else if (!strcmp(k, "blur"))
		x->blur = atof(v);
	else if (!strcmp(k, "border"))
		return four(v, x->border);
	else if (!strcmp(k, "border.color"))
		return hex_colour(v, x->border_color);
	else if (!strcmp(k, "baseline"))
		x->baseline = atoi(v) != 0;
	else if (!strcmp(k, "fast"))
		x->fast = atoi(v) != 0;
	else
		return -1;
	return 0;
}

static void json_info(FILE *f, const struct px_image_info *i)
{
	fprintf(f,
		"{\"width\":%d,\"height\":%d,\"frames\":%d,\"format\":\"%s\","
		"\"alpha\":%s}",
		i->width, i->height, i->frames, px_fmt_name(i->format),
		i->has_alpha ? "true" : "false");
}

int main(int argc, char **argv)
{
	struct px_errbuf eb = {0};
	struct px_image_info in, oi;
	struct px_xform x;
	struct px_buf src, out;
	unsigned char chunk[65536];
	bool describe = false;
	size_t got;
	FILE *f;
	int a = 1, rc = 1;

	if (a < argc && !strcmp(argv[a], "--describe"))
		describe = true, a++;
	if (a >= argc) {
		fprintf(stderr, "usage: pictor-transform [--describe] FILE "
				"[key=value ...]\n");
		return 2;
	}
	px_buf_init(&src, 0);
	px_buf_init(&out, 0);
	if (!(f = fopen(argv[a], "rb"))) {
		fprintf(stderr, "error open: cannot open \"%s\"\n", argv[a]);
		return 1;
	}
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (px_buf_add(&src, chunk, got)) {
			fclose(f);
			fprintf(stderr, "error nomem: input too large\n");
			return 1;
		}
	fclose(f);
	px_xform_init(&x);
	for (a++; a < argc; a++) {
		char *eq = strchr(argv[a], '=');

		if (!eq) {
			fprintf(stderr, "error usage: \"%s\" is not key=value\n",
				argv[a]);
			goto out;
		}
		*eq = '\0';
		if (set(&x, argv[a], eq + 1)) {
			fprintf(stderr, "error usage: bad setting \"%s\"\n",
				argv[a]);
			goto out;
		}
	}
	if (px_image_init(argv[0], &eb)) {
		fprintf(stderr, "error %s: %s\n", eb.code ? eb.code : "-", eb.msg);
		goto out;
	}
	if (describe) {
		if (px_image_describe(src.data, src.len, &x, NULL, &in, &oi,
				      &eb)) {
			fprintf(stderr, "error %s: %s\n",
				eb.code ? eb.code : "-", eb.msg);
			goto out;
		}
		fputs("{\"in\":", stdout);
		json_info(stdout, &in);
		fputs(",\"out\":", stdout);
		json_info(stdout, &oi);
		fputs("}\n", stdout);
		rc = 0;
		goto out;
	}
	if (px_image_transform(src.data, src.len, &x, NULL, &out, &oi, &eb)) {
		fprintf(stderr, "error %s: %s\n", eb.code ? eb.code : "-", eb.msg);
		goto out;
	}
	if (fwrite(out.data, 1, out.len, stdout) != out.len) {
		fprintf(stderr, "error io: cannot write output\n");
		goto out;
	}
	fputs("info ", stderr);
	json_info(stderr, &oi);
	fputs("\n", stderr);
	rc = 0;
out:
	px_buf_release(&src);
	px_buf_release(&out);
	return rc;
}
