/*
 * console.c - the route table's rows for the admin console (/admin): thin
 * calls into src/console/, which serves the embedded files and owns the
 * sessions. The cookie as a credential of the other routes is checked in
 * app.c's authentication, also through src/console/.
 */
#include "api/app.h"
#include "console/console.h"

void px_api_console_index(struct px_app *a, struct px_req *r,
			  const struct px_call *c)
{
	px_console_asset(a->console, r, NULL);
}

void px_api_console_file(struct px_app *a, struct px_req *r,
			 const struct px_call *c)
{
	char name[128];

	/* "?" is no file's name (assets.h): a capture that does not
	 * decode answers 404 like any unknown file. */
	if (px_call_arg(c, "file", name, sizeof(name)) || !name[0])
		px_strlcpy(name, "?", sizeof(name));
	px_console_asset(a->console, r, name);
}

void px_api_console_session(struct px_app *a, struct px_req *r,
			    const struct px_call *c)
{
	px_console_session(a->console, r);
}
