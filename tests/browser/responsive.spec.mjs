// responsive.spec.mjs - responsive delivery in a real Chromium: which
// candidate of Pictor's srcset the browser picks at different viewport
// widths and device pixel ratios (and that it loads, signed or not), and
// that width=auto sized from the browser's own client hints matches the
// rendered size; where Chromium sends hints at all (a page that opted in,
// a navigation retried for Critical-CH, another origin only by delegation);
// and a phone's device class (a variant's mobile override, the mobile
// width=auto default).
// The pages are served on the daemon's origin by the test (page.route),
// the images by the daemon.
import http from 'node:http';
import { test, expect, L } from './fixtures.mjs';

const ORIG_W = 2400;
// docs/RESPONSIVE.md: width=auto rounds up to these, never above the original.
const STEPS = [320, 480, 640, 768, 960, 1200, 1440, 1920, 2560, 3840];
const stepFor = (w) => Math.min(STEPS.find((s) => s >= w) ?? STEPS[STEPS.length - 1], ORIG_W);
const ACCEPT_CH = 'Sec-CH-DPR, Sec-CH-Width, Sec-CH-Viewport-Width';

const esc = (s) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

let openId;
let signedId;
test.beforeAll(async ({ pictor }) => {
	const a = await L.upload(pictor, L.makePng(ORIG_W, 60, 'browser-responsive'));
	const b = await L.upload(pictor, L.makePng(ORIG_W, 60, 'browser-responsive-signed'), { requireSignedURLs: true });
	expect(a.status, L.show(a)).toBe(201);
	expect(b.status, L.show(b)).toBe(201);
	openId = a.record.id;
	signedId = b.record.id;
});

// Serve html at <daemon>/browser-test/page.html with extra response headers
// and return the URL; every image request the page makes is recorded.
async function servePage(page, baseURL, html, headers = {}) {
	const url = `${baseURL}/browser-test/page.html`;
	await page.unroute(url);
	await page.route(url, (route) => route.fulfill({
		status: 200,
		headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...headers },
		body: `<!doctype html><html lang="en"><head><meta name="viewport" content="width=device-width">` +
			`<title>responsive</title><style>body{margin:0}img{display:block}</style></head><body>${html}</body></html>`,
	}));
	return url;
}

// A page server of the test's own on 127.0.0.1:<ephemeral>: set(html,
// headers) changes what it answers.
async function pageServer() {
	let page = { html: '', headers: {} };
	const srv = http.createServer((req, res) => {
		res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...page.headers });
		res.end(`<!doctype html><html lang="en"><head><title>responsive</title>` +
			`<style>body{margin:0}img{display:block}</style></head><body>${page.html}</body></html>`);
	});
	await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
	return {
		url: `http://127.0.0.1:${srv.address().port}/page.html`,
		set(html, headers = {}) {
			page = { html, headers };
		},
		close: () => new Promise((resolve) => {
			srv.close(resolve);
			srv.closeAllConnections();
		}),
	};
}

function recordImages(page) {
	let pending = [];
	const add = (p) => pending.push(p);
	page.on('requestfinished', (r) => {
		if (r.resourceType() !== 'image') return;
		add((async () => {
			const res = await r.response();
			const body = res ? await res.body().catch(() => null) : null;
			return { url: r.url(), headers: await r.allHeaders(), status: res?.status(),
				width: body ? L.probe(body)?.width : undefined };
		})());
	});
	page.on('requestfailed', (r) => {
		if (r.resourceType() === 'image') add(Promise.resolve({ url: r.url(), failed: r.failure()?.errorText }));
	});
	return {
		// forget what was seen so far (call before a navigation)
		reset() {
			pending = [];
		},
		// the image requests since reset(), once at least n have ended
		async settle(n) {
			await expect.poll(() => pending.length).toBeGreaterThanOrEqual(n);
			return Promise.all(pending);
		},
	};
}

// Load url at a viewport width: from about:blank, so the previous page
// does not pick new candidates for the new width while it is left.
async function visit(page, rec, url, width, height) {
	await page.goto('about:blank');
	await page.setViewportSize({ width, height });
	rec.reset();
	await page.goto(url);
}

// What the page shows for each <img>: the URL the browser chose, its
// natural width (in CSS px: a srcset candidate's pixels over its density),
// the CSS width it is drawn at, and the page's DPR.
function images(page) {
	return page.evaluate(() => Object.fromEntries([...document.images].map((i) => [i.id, {
		currentSrc: i.currentSrc, natural: i.naturalWidth, rendered: i.getBoundingClientRect().width,
		dpr: window.devicePixelRatio, complete: i.complete,
	}])));
}

// The candidate picked is checked where every reading of the srcset rules
// agrees: the slot width (from `sizes`) times the DPR lands exactly on a
// candidate, or the DPR is 1 and the next larger one is the only choice.
const SRCSET_WIDTHS = '320,640,960,1280,1920';
const SIZES = '(max-width: 640px) 100vw, 640px';
const SRCSET_CASES = {
	1: [
		{ viewport: 320, want: 320 }, // slot 320 css = 320 device px
		{ viewport: 600, want: 640 }, // 600 device px: the next candidate up
		{ viewport: 1000, want: 640 }, // sizes' fixed 640 px slot
	],
	2: [
		{ viewport: 320, want: 640 }, // 320 css x 2
		{ viewport: 1000, want: 1280 }, // 640 css x 2
	],
};

for (const dpr of [1, 2]) {
	test.describe(`srcset at DPR ${dpr}`, () => {
		test.use({ deviceScaleFactor: dpr, viewport: { width: 1000, height: 700 } });

		test(`Chromium picks the candidate for each viewport width, and it loads`, async ({ page, baseURL, adminRequest }) => {
			const sets = {};
			for (const [name, id] of [['open', openId], ['signed', signedId]]) {
				const r = await adminRequest.get(`/v1/images/${id}/srcset?widths=${SRCSET_WIDTHS}&sizes=${encodeURIComponent(SIZES)}&ttl=600`);
				expect(r.status(), await r.text()).toBe(200);
				sets[name] = (await r.json()).result;
				expect(sets[name].sizes).toBe(SIZES);
				expect(sets[name].signed).toBe(name === 'signed');
			}
			const html = Object.entries(sets).map(([name, s]) =>
				`<img id="${name}" src="${esc(s.src)}" srcset="${esc(s.srcset)}" sizes="${esc(s.sizes)}" alt="">`).join('');
			const url = await servePage(page, baseURL, html);
			const rec = recordImages(page);
			for (const { viewport, want } of SRCSET_CASES[dpr]) {
				await visit(page, rec, url, viewport, 700);
				const seen = await rec.settle(2);
				const shown = await images(page);
				for (const name of ['open', 'signed']) {
					const s = sets[name];
					const pick = s.urls.find((u) => u.width === want);
					const at = `${name}, viewport ${viewport} css px at DPR ${dpr}`;
					expect(shown[name].dpr, at).toBe(dpr);
					expect(shown[name].currentSrc, at).toBe(pick.url);
					// the picked candidate covers the drawn size in device pixels
					expect(want, at).toBeGreaterThanOrEqual(Math.ceil(shown[name].rendered * dpr));
					// only it was fetched, answered 200 (signature verified) at its width
					const loads = seen.filter((x) => x.url.includes(`/img/${name === 'open' ? openId : signedId}/`));
					expect(loads.map((x) => [x.url, x.status ?? x.failed, x.width]), at).toEqual([[pick.url, 200, want]]);
				}
			}
		});
	});
}

// width=auto from the browser's own hints, after the page opted in with
// Accept-CH: an <img sizes> gets Sec-CH-Width (device px of its slot); one
// without sizes gets only Sec-CH-Viewport-Width and Sec-CH-DPR, which
// Pictor multiplies. Two viewport widths per DPR.
for (const dpr of [1, 2]) {
	test.describe(`width=auto at DPR ${dpr}`, () => {
		test.use({ deviceScaleFactor: dpr, viewport: { width: 800, height: 600 } });

		test('the width served matches the rendered size', async ({ page, baseURL }) => {
			const rec = recordImages(page);
			for (const viewport of [800, 1200]) {
				for (const kind of ['sizes', 'viewport']) {
					const img = kind === 'sizes'
						? `<img id="i" src="/img/${openId}/width=auto" sizes="50vw" style="width:50vw" alt="">`
						: `<img id="i" src="/img/${openId}/width=auto" style="width:100vw" alt="">`;
					const url = await servePage(page, baseURL, img, { 'accept-ch': ACCEPT_CH });
					await visit(page, rec, url, viewport, 600);
					const seen = await rec.settle(1);
					const { i } = await images(page);
					const at = `${kind}, viewport ${viewport} css px at DPR ${dpr}`;
					const device = Math.ceil(i.rendered * dpr);
					expect(i.rendered, at).toBe(kind === 'sizes' ? viewport / 2 : viewport);
					expect(seen.length, at).toBe(1);
					const h = seen[0].headers;
					expect(seen[0].status, at).toBe(200);
					expect(h['sec-ch-dpr'], at).toBe(String(dpr));
					expect(h['sec-ch-viewport-width'], at).toBe(String(viewport));
					if (kind === 'sizes') expect(h['sec-ch-width'], at).toBe(String(device));
					else expect(h['sec-ch-width'], at).toBeUndefined();
					// one step at or above the drawn size, never more than 1.5x it
					expect(seen[0].width, at).toBe(stepFor(device));
					expect(i.natural, at).toBe(seen[0].width);
					expect(seen[0].width, at).toBeGreaterThanOrEqual(device);
					expect(seen[0].width, at).toBeLessThanOrEqual(device * 1.5);
				}
			}
		});
	});
}

test.describe('width=auto without hints', () => {
	test.use({ deviceScaleFactor: 2, viewport: { width: 1200, height: 600 } });

	test('a page that did not opt in gets the desktop size, on reload too', async ({ page, baseURL }) => {
		const url = await servePage(page, baseURL, `<img id="i" src="/img/${openId}/width=auto" sizes="50vw" style="width:50vw" alt="">`);
		const rec = recordImages(page);
		// The image answers carry Accept-CH, but Chromium honours it only on
		// a document's own response: the second load has no hints either.
		for (const load of ['first', 'reload']) {
			rec.reset();
			await page.goto(url);
			const seen = await rec.settle(1);
			const { i } = await images(page);
			expect(seen.length, load).toBe(1);
			const h = seen[0].headers;
			expect(h['sec-ch-width'], load).toBeUndefined();
			expect(h['sec-ch-viewport-width'], load).toBeUndefined();
			expect(h['sec-ch-ua-mobile'], load).toBe('?0');
			expect(seen[0].width, load).toBe(960); // Cloudflare's desktop width (docs/RESPONSIVE.md)
			expect(i.natural, load).toBe(960);
		}
	});
});

test.describe('hints across origins and navigations', () => {
	test.use({ deviceScaleFactor: 2, viewport: { width: 1200, height: 600 } });

	test('an image opened as a page: Critical-CH has Chromium retry it with hints', async ({ page }) => {
		// A fresh context has no hint preference for the origin: only the
		// retry that Critical-CH asks for can carry the viewport hint.
		const res = await page.goto(`/img/${openId}/width=auto,quality=84`);
		expect(res.status()).toBe(200);
		const h = await res.request().allHeaders();
		expect(h['sec-ch-viewport-width']).toBe('1200');
		// Chromium takes the navigation's DPR from the screen, not from the
		// page emulation: use what it sent.
		const dpr = Number(h['sec-ch-dpr']);
		expect(dpr).toBeGreaterThan(0);
		expect(L.probe(await res.body()).width).toBe(stepFor(Math.ceil(1200 * dpr)));
	});

	test('images on another origin get hints only when the page delegates them', async ({ page, baseURL }) => {
		// The page from a server of the test's own on 127.0.0.1 (a real
		// loopback server: Chromium lets a loopback page load loopback
		// images across origins), the images from the daemon: two origins.
		const site = await pageServer();
		try {
			const img = (q) => `<img id="i" src="${baseURL}/img/${openId}/width=auto,quality=${q}" sizes="50vw" style="width:50vw" alt="">`;
			const rec = recordImages(page);
			for (const { name, q, headers, meta, want } of [
				{ name: 'Accept-CH alone', q: 80, headers: { 'accept-ch': ACCEPT_CH }, want: null },
				{
					name: 'Accept-CH and Permissions-Policy', q: 81,
					headers: {
						'accept-ch': ACCEPT_CH,
						'permissions-policy': ['ch-dpr', 'ch-width', 'ch-viewport-width'].map((h) => `${h}=(self "${baseURL}")`).join(', '),
					},
					want: 1200,
				},
				{
					name: 'Delegate-CH meta', q: 82, headers: {},
					meta: `<meta http-equiv="Delegate-CH" content="${['sec-ch-dpr', 'sec-ch-width', 'sec-ch-viewport-width'].map((h) => `${h} ${baseURL}`).join('; ')}">`,
					want: 1200,
				},
			]) {
				site.set((meta ?? '') + img(q), headers);
				await visit(page, rec, site.url, 1200, 600);
				const [seen] = await rec.settle(1);
				expect(seen.status, `${name}: ${JSON.stringify(seen)}`).toBe(200);
				if (want === null) {
					expect(seen.headers['sec-ch-width'], name).toBeUndefined();
					expect(seen.width, name).toBe(960);
				} else {
					expect(seen.headers['sec-ch-width'], name).toBe(String(want));
					expect(seen.width, name).toBe(stepFor(want));
				}
			}
		} finally {
			await site.close();
		}
	});
});

// Device classes: Chromium on a phone (Playwright's mobile emulation sets
// Sec-CH-UA-Mobile: ?1 without any opt-in) gets a variant's mobile
// override and, without width hints, Cloudflare's mobile width.
test('a phone gets the mobile override of a variant and the mobile width=auto default', async ({ page, newContext, baseURL, adminRequest }) => {
	const v = await adminRequest.post('/v1/variants', {
		data: { id: 'browserhero', options: { width: 1600 }, devices: { mobile: { width: 640 }, tablet: { width: 1024 } } },
	});
	expect(v.status(), await v.text()).toBe(200);
	const phone = await newContext({
		isMobile: true, hasTouch: true, viewport: { width: 412, height: 800 }, deviceScaleFactor: 2,
		userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36',
	});
	const html = `<img id="v" src="/img/${openId}/browserhero" alt=""><img id="a" src="/img/${openId}/width=auto,quality=86" alt="">`;
	for (const [who, p, want] of [
		['phone', await phone.newPage(), { v: 640, a: 320, mobile: '?1' }],
		['desktop', page, { v: 1600, a: 960, mobile: '?0' }],
	]) {
		const url = await servePage(p, baseURL, html);
		const rec = recordImages(p);
		await p.goto(url);
		const seen = await rec.settle(2);
		const byId = (part) => seen.find((x) => x.url.includes(part));
		for (const [id, part] of [['v', '/browserhero'], ['a', '/width=auto']]) {
			const got = byId(part);
			expect(got?.status, `${who} ${id}`).toBe(200);
			expect(got.headers['sec-ch-ua-mobile'], `${who} ${id}`).toBe(want.mobile);
			expect(got.width, `${who} ${id}`).toBe(want[id]);
		}
	}
});
