/*
 * test_multipart.c - multipart/form-data parsing.
 */
#include "api/multipart.h"

#include "t.h"

static int parse(const char *body, const char *boundary, struct px_multipart *mp)
{
	struct px_errbuf eb = {0};

	return px_mp_parse(body, strlen(body), boundary, mp, &eb);
}

static void run(void)
{
	struct px_multipart mp;
	const struct px_mp_part *p;
	char b[80];

	T_CASE("boundary") {
		T_EQ(px_mp_boundary("multipart/form-data; boundary=abc", b, sizeof(b)), 0);
		T_STREQ(b, "abc");
		T_EQ(px_mp_boundary("multipart/form-data; boundary=\"a b\"; x=1", b, sizeof(b)), 0);
		T_STREQ(b, "a b");
		T_EQ(px_mp_boundary("Multipart/Form-Data;boundary=----WebKit123", b, sizeof(b)), 0);
		T_STREQ(b, "----WebKit123");
		T_EQ(px_mp_boundary("image/jpeg", b, sizeof(b)), PX_EINVAL);
		T_EQ(px_mp_boundary("multipart/form-data", b, sizeof(b)), PX_EINVAL);
		T_EQ(px_mp_boundary("multipart/form-data; boundary=", b, sizeof(b)), PX_EINVAL);
		T_EQ(px_mp_boundary(NULL, b, sizeof(b)), PX_EINVAL);
	}
	T_CASE("two parts, binary body with CR LF inside") {
		const char body[] =
			"preamble\r\n--XX\r\n"
			"Content-Disposition: form-data; name=\"id\"\r\n\r\n"
			"my-id\r\n--XX\r\n"
			"Content-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n"
			"Content-Type: image/jpeg\r\n\r\n"
			"\xff\xd8\r\n--X\r\nzz\r\n--XX--\r\n";
		T_EQ(parse(body, "XX", &mp), 0);
		T_EQ(mp.nparts, 2);
		p = px_mp_get(&mp, "id");
		T_OK(p && p->len == 5 && !memcmp(p->data, "my-id", 5));
		p = px_mp_get(&mp, "file");
		T_OK(p && p->has_filename);
		T_STREQ(p ? p->filename : NULL, "a.jpg");
		T_OK(p && p->len == 11 && !memcmp(p->data, "\xff\xd8\r\n--X\r\nzz", 11));
		T_OK(px_mp_get(&mp, "nope") == NULL);
	}
	T_CASE("malformed bodies are refused") {
		T_EQ(parse("", "XX", &mp), PX_EINVAL);
		T_EQ(parse("--XX--\r\n", "XX", &mp), PX_EINVAL);
		T_EQ(parse("--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc", "XX", &mp), PX_EINVAL);
		T_EQ(parse("--XX\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--XX--", "XX", &mp), PX_EINVAL);
		T_EQ(parse("--XX\r\nContent-Disposition: form-data; name=\"a\"", "XX", &mp), PX_EINVAL);
		T_EQ(parse("--XXjunk", "XX", &mp), PX_EINVAL);
		T_EQ(parse("no boundary here", "XX", &mp), PX_EINVAL);
	}
	T_CASE("too many parts") {
		char body[8192] = "";
		for (int i = 0; i < PX_MP_MAX_PARTS + 1; i++)
			strcat(body, "--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n");
		strcat(body, "--B--\r\n");
		T_EQ(parse(body, "B", &mp), PX_EINVAL);
	}
}
