// fixtures.mjs - what every browser test of Pictor builds on. Import `test`
// and `expect` from here instead of from '@playwright/test':
//
//   import { test, expect } from './fixtures.mjs';
//   test('serves the console', async ({ page, adminToken }) => {
//     await page.goto('/admin');               // baseURL is the daemon
//   });
//
// Fixtures (on top of Playwright's page, context, browser, request):
//   pictor         worker-scoped: the real daemon (PICTOR_BIN, default
//                  ./pictor) started by tests/e2e/lib.mjs's startServer on
//                  127.0.0.1:<ephemeral> with a fresh data directory; the
//                  object has base, port, dataDir, adminToken, signingKeys,
//                  auth(), logs and logText(). One daemon serves every test
//                  of a worker; it is stopped when the worker ends.
//   pictorOptions  worker-scoped option: {args, env} for that daemon, e.g.
//                  test.use({ pictorOptions: { args: ['--moderation', 'off'] } })
//                  in a spec file gives that file its own daemon.
//   adminToken     the daemon's admin bearer token (from its secrets.json).
//   baseURL        the daemon's http://127.0.0.1:<port>, so page.goto('/x')
//                  and request.get('/x') reach it.
//   adminRequest   an APIRequestContext on baseURL sending the admin token.
//   offLoopback    the list of URLs pages tried to reach off loopback; the
//                  test fails at its end unless it is empty (a test that
//                  provokes such a request checks and empties it).
//   context        Playwright's context with a route on '**/*' that lets
//                  through only 127.0.0.0/8, ::1 and localhost and aborts
//                  anything else into offLoopback. The browser's host
//                  resolver already maps every other name to "not found"
//                  (playwright.config.mjs): two walls, not one.
//   newContext     async (options) => a further context (a second user, a
//                  fresh cookie jar) on baseURL with the same guard,
//                  closed when the test ends.
// Helpers: L (tests/e2e/lib.mjs: upload, api, req, makePng, probe, ...),
// isLoopbackHost(), guardLoopback(), AXE_SOURCE and axeViolations(page) for
// accessibility.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { test as base, expect } from '@playwright/test';
import * as L from '../e2e/lib.mjs';

export { expect, L };

const require = createRequire(import.meta.url);

// axe-core's browser build, to evaluate inside a page. page.evaluate runs
// it through the DevTools protocol, which a Content-Security-Policy does
// not block (a <script> tag would be).
export const AXE_PATH = require.resolve('axe-core/axe.min.js');
export const AXE_SOURCE = fs.readFileSync(AXE_PATH, 'utf8');

// axeViolations(page, {context, options}) -> axe's violations array for the
// page as it is now (context defaults to the whole document; options are
// axe.run's, e.g. {runOnly: ['wcag2a', 'wcag2aa']}).
export async function axeViolations(page, { context, options } = {}) {
	const loaded = await page.evaluate(() => typeof window.axe === 'object');
	if (!loaded) await page.evaluate(AXE_SOURCE);
	return page.evaluate(async ([ctx, opts]) => {
		const r = await window.axe.run(ctx ?? document, opts ?? {});
		return r.violations.map((v) => ({
			id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.map((n) => n.target.join(' ')),
		}));
	}, [context ?? null, options ?? null]);
}

// URL hostnames are lower case and IPv6 literals keep their brackets.
export function isLoopbackHost(hostname) {
	const h = hostname.toLowerCase();
	if (h === 'localhost' || h === '[::1]') return true;
	const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
	return m !== null && m.slice(1).every((o) => Number(o) <= 255);
}

function loopbackOnly(url) {
	let u;
	try {
		u = new URL(url);
	} catch {
		return false;
	}
	// data:, blob: and about: never reach the network; everything that
	// does is http(s) or ws(s) with a host.
	if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') return true;
	return isLoopbackHost(u.hostname);
}

export const test = base.extend({
	pictorOptions: [{}, { scope: 'worker', option: true }],

	pictor: [async ({ pictorOptions }, use) => {
		const server = await L.startServer({ args: pictorOptions.args ?? [], env: pictorOptions.env ?? {} });
		try {
			await use(server);
		} finally {
			await server.stop().catch(() => server.kill());
		}
	}, { scope: 'worker', timeout: 60_000 * L.TIME_SCALE }],

	adminToken: [async ({ pictor }, use) => {
		if (!pictor.adminToken) throw new Error(`no admin token in ${pictor.dataDir}/secrets.json`);
		await use(pictor.adminToken);
	}, { scope: 'worker' }],

	baseURL: async ({ pictor }, use) => {
		await use(pictor.base);
	},

	adminRequest: async ({ playwright, pictor, adminToken }, use) => {
		const ctx = await playwright.request.newContext({
			baseURL: pictor.base,
			extraHTTPHeaders: { Authorization: `Bearer ${adminToken}` },
		});
		await use(ctx);
		await ctx.dispose();
	},

	offLoopback: async ({}, use, testInfo) => {
		const list = [];
		await use(list);
		if (list.length) {
			await testInfo.attach('off-loopback-requests', { body: list.join('\n'), contentType: 'text/plain' });
		}
		expect(list, 'requests to hosts other than loopback (aborted)').toEqual([]);
	},

	context: async ({ context, offLoopback }, use) => {
		await guardLoopback(context, offLoopback);
		await use(context);
	},

	newContext: async ({ browser, baseURL, offLoopback }, use) => {
		const made = [];
		await use(async (options = {}) => {
			const ctx = await browser.newContext({ baseURL, ...options });
			made.push(ctx);
			await guardLoopback(ctx, offLoopback);
			return ctx;
		});
		for (const ctx of made) await ctx.close().catch(() => {});
	},
});

// guardLoopback(context, list): route every request of context; those to
// loopback go on, any other is aborted and its URL pushed to list.
export async function guardLoopback(context, list) {
	await context.route('**/*', async (route) => {
		const url = route.request().url();
		try {
			if (loopbackOnly(url)) {
				await route.continue();
			} else {
				list.push(url);
				await route.abort('blockedbyclient');
			}
		} catch {
			/* the page went away meanwhile */
		}
	});
}
