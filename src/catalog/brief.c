/*
 * brief.c - delivery briefs of image records, and their memo (brief.h).
 *
 * The memo is a direct-mapped table: the id picks a slot, and the slot
 * holds the stored bytes it last decoded with the brief they gave. One
 * mutex per slot, held for a memcmp and a copy, so lookups on different
 * ids never wait for each other and decoding happens outside any lock.
 */
#include "catalog/brief.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

struct slot {
	pthread_mutex_t lock;
	unsigned char *raw; /* the bytes brief was decoded from */
	size_t n;
	struct px_image_brief brief;
};

struct px_brief_memo {
	unsigned nslots;
	size_t max_bytes;
	atomic_ullong hits, decodes;
	struct slot slots[];
};

int px_brief_memo_new(unsigned nslots, size_t max_bytes,
		      struct px_brief_memo **out)
{
	struct px_brief_memo *m;

	*out = NULL;
	if (!nslots)
		nslots = 1024;
	m = calloc(1, sizeof(*m) + (size_t)nslots * sizeof(struct slot));
	if (!m)
		return PX_ENOMEM;
	m->nslots = nslots;
	m->max_bytes = max_bytes ? max_bytes : 8192;
	for (unsigned i = 0; i < nslots; i++)
		pthread_mutex_init(&m->slots[i].lock, NULL);
	*out = m;
	return 0;
}

void px_brief_memo_free(struct px_brief_memo *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i < m->nslots; i++) {
		pthread_mutex_destroy(&m->slots[i].lock);
		free(m->slots[i].raw);
	}
	free(m);
}

static void copy_str(char *dst, size_t n, json_t *v)
{
	px_strlcpy(dst, json_is_string(v) ? json_string_value(v) : "", n);
}

int px_brief_decode(const void *raw, size_t n, struct px_image_brief *out)
{
	json_t *o = json_loadb(raw, n, 0, NULL), *frames;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!o || !json_is_object(o)) {
		rc = PX_ECORRUPT;
		goto out;
	}
	copy_str(out->id, sizeof(out->id), json_object_get(o, "id"));
	copy_str(out->sha256, sizeof(out->sha256), json_object_get(o, "sha256"));
	copy_str(out->status, sizeof(out->status), json_object_get(o, "status"));
	copy_str(out->format, sizeof(out->format), json_object_get(o, "format"));
	out->width = (int)json_integer_value(json_object_get(o, "width"));
	out->height = (int)json_integer_value(json_object_get(o, "height"));
	out->frames = (int)json_integer_value(json_object_get(o, "frames"));
	out->bytes = (uint64_t)json_integer_value(json_object_get(o, "bytes"));
	out->alpha = json_is_true(json_object_get(o, "alpha"));
	out->require_signed = json_is_true(json_object_get(o, "require_signed"));
	/* Without a frame count in the verdict, every frame was looked at
	 * (the rule of px_moderation_frames_covered). */
	frames = json_object_get(json_object_get(o, "moderation"), "frames");
	out->frames_covered = !frames ||
			      json_is_true(json_object_get(frames, "complete"));
	px_rec_faces_parse(json_object_get(o, "faces"), &out->faces);
out:
	json_decref(o);
	return rc;
}

/* FNV-1a of the id: picks the slot. */
static unsigned slot_of(const struct px_brief_memo *m, const char *id)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % m->nslots;
}

int px_brief_get(struct px_brief_memo *m, const char *id, const void *raw,
		 size_t n, struct px_image_brief *out)
{
	struct slot *s;
	unsigned char *copy;
	int rc;

	if (!m)
		return px_brief_decode(raw, n, out);
	s = &m->slots[slot_of(m, id)];
	pthread_mutex_lock(&s->lock);
	if (s->raw && s->n == n && !memcmp(s->raw, raw, n) &&
	    !strcmp(s->brief.id, id)) {
		*out = s->brief;
		pthread_mutex_unlock(&s->lock);
		atomic_fetch_add_explicit(&m->hits, 1, memory_order_relaxed);
		return 0;
	}
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add_explicit(&m->decodes, 1, memory_order_relaxed);
	if ((rc = px_brief_decode(raw, n, out)))
		return rc;
	/* A record whose stored id is not the one it is stored under is
	 * answered, not remembered: the slot check above relies on it. */
	if (n > m->max_bytes || strcmp(out->id, id) || !(copy = malloc(n)))
		return 0;
	memcpy(copy, raw, n);
	pthread_mutex_lock(&s->lock);
	free(s->raw);
	s->raw = copy;
	s->n = n;
	s->brief = *out;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void px_brief_memo_stats(struct px_brief_memo *m, unsigned long long *hits,
			 unsigned long long *decodes)
{
	*hits = m ? atomic_load(&m->hits) : 0;
	*decodes = m ? atomic_load(&m->decodes) : 0;
}
