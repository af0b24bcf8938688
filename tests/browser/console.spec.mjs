// console.spec.mjs - the admin console (/admin) in Chromium against the real
// daemon: sign-in, upload through the drop zone, filters and search, the
// image page, the review queue by keyboard, variants, sign-out, and the
// security and accessibility checks of issue 11.
//
// One daemon serves the file (its own pictorOptions), with a moderation
// policy that flags drawing-like photos and blocks the calmest ones, so
// the corpus gives every outcome: FreshFlower.jpg and rocket.jpg are
// approved, Garden.jpg, chelsea.png and motorcycle_left.png flagged,
// coffee.png blocked (refused with 422 content_blocked).
//
// Tests run in order and share the daemon's store; each uses its own files
// or ids. Every test fails on a JavaScript dialog, an uncaught page error
// or a Content-Security-Policy report (what injected script would cause).

import fs from 'node:fs';
import path from 'node:path';
import { test, expect, L, axeViolations } from './fixtures.mjs';

const POLICY = 'art=flag: drawing>=0.6; calm=block: neutral>=0.99';
const SHOTS = path.join(L.ROOT, 'build', 'browser', 'screenshots');
const XSS_NAME = '<img src=x onerror=alert(1)>.jpg';
const XSS_META = {
	note: '<script>alert("meta")</script>',
	attr: '"><img src=x onerror=alert(2)>',
	js: 'javascript:alert(3)',
};

test.use({ pictorOptions: { args: ['--moderation-policy', POLICY] } });
test.describe.configure({ mode: 'serial' });

const corpus = (name) => fs.readFileSync(path.join(L.CORPUS, name));

// Fails the test on any dialog, page error or CSP violation.
function guard(page) {
	const bad = [];
	page.on('dialog', (d) => {
		bad.push(`dialog: ${d.message()}`);
		d.dismiss().catch(() => {});
	});
	page.on('pageerror', (e) => bad.push(`page error: ${e.message}`));
	page.on('console', (m) => {
		const t = m.text();
		// Failed image loads (a flagged image's thumbnail is refused with
		// 403 not_approved) are network answers, not scripts.
		if (m.type() === 'error' && !/^Failed to load resource/.test(t)) bad.push(`console error: ${t}`);
	});
	return bad;
}

async function signIn(page, token) {
	const r = await page.request.post('/admin/api/session', { data: { token } });
	expect(r.status(), await r.text()).toBe(200);
}

async function open(page, hash) {
	await page.goto(`/admin/${hash}`);
	await settled(page);
}

// No loading indicator left in <main>.
async function settled(page) {
	await expect(page.locator('main h1')).toBeVisible();
	await expect(page.locator('main .loading')).toHaveCount(0, { timeout: 30_000 });
}

// Files dropped on the drop zone: a DataTransfer built inside the page.
async function dropFiles(page, files) {
	const payload = files.map(({ name, bytes, type }) => ({ name, type: type || 'image/jpeg', b64: bytes.toString('base64') }));
	const dt = await page.evaluateHandle((list) => {
		const d = new DataTransfer();
		for (const f of list) {
			const bin = atob(f.b64);
			const a = new Uint8Array(bin.length);
			for (let i = 0; i < bin.length; i++) a[i] = bin.charCodeAt(i);
			d.items.add(new File([a], f.name, { type: f.type }));
		}
		return d;
	}, payload);
	await page.dispatchEvent('#dropzone', 'dragover', { dataTransfer: dt });
	await page.dispatchEvent('#dropzone', 'drop', { dataTransfer: dt });
}

async function uploadApi(pictor, bytes, filename, extra = {}) {
	const fd = new FormData();
	fd.append('file', new Blob([bytes]), filename);
	for (const [k, v] of Object.entries(extra)) fd.append(k, typeof v === 'string' ? v : JSON.stringify(v));
	const r = await fetch(`${pictor.base}/v1/images`, { method: 'POST', headers: pictor.auth(), body: fd });
	const j = await r.json();
	return { status: r.status, record: j.result, errors: j.errors };
}

async function record(adminRequest, id) {
	const r = await adminRequest.get(`/v1/images/${encodeURIComponent(id)}`);
	expect(r.status()).toBe(200);
	return (await r.json()).result;
}

test('a wrong token cannot sign in; the admin token can, into an HttpOnly SameSite=Strict cookie', async ({ page, context, adminToken }) => {
	const bad = guard(page);
	await page.goto('/admin');
	await expect(page.locator('#token')).toBeFocused();
	await page.fill('#token', 'not-a-token');
	await page.getByRole('button', { name: 'Sign in' }).click();
	await expect(page.locator('#signin-msg .error')).toContainText('Cannot sign in');
	expect(await context.cookies()).toEqual([]);

	await page.fill('#token', adminToken);
	await page.keyboard.press('Enter');
	await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
	await settled(page);
	await expect(page.locator('.stat-value').first()).toHaveText(/^\d/);

	const cookies = await context.cookies();
	expect(cookies.length).toBe(1);
	expect(cookies[0].httpOnly).toBe(true);
	expect(cookies[0].sameSite).toBe('Strict');
	expect(cookies[0].value).not.toContain(adminToken);
	// Nothing a page script can read holds the token.
	const seen = await page.evaluate(() => ({
		cookie: document.cookie,
		local: JSON.stringify({ ...localStorage }),
		session: JSON.stringify({ ...sessionStorage }),
	}));
	expect(seen.cookie).toBe('');
	expect(seen.local).toBe('{}');
	expect(seen.session).toBe('{}');
	expect(bad).toEqual([]);
});

test('a revoked token cannot sign in; a read-only token sees only what it may do', async ({ page, adminRequest }) => {
	const bad = guard(page);
	const mk = async (scopes) => {
		const r = await adminRequest.post('/v1/tokens', { data: { name: `console-${scopes.join('-')}`, scopes } });
		expect(r.status()).toBe(201);
		return (await r.json()).result;
	};
	const revoked = await mk(['images:read', 'images:write']);
	expect((await adminRequest.delete(`/v1/tokens/${revoked.id}`)).status()).toBe(200);
	await page.goto('/admin');
	await page.fill('#token', revoked.value);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await expect(page.locator('#signin-msg .error')).toBeVisible();
	await expect(page.locator('#token')).toBeVisible();

	const reader = await mk(['images:read']);
	await page.fill('#token', reader.value);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await expect(page.getByRole('heading', { level: 1, name: 'Images' })).toBeVisible();
	const nav = page.getByRole('navigation', { name: 'Sections' });
	await expect(nav.getByRole('link')).toHaveText(['Images', 'Variants']);
	await expect(page.getByRole('button', { name: /Delete selected/ })).toHaveCount(0);
	await open(page, '#/variants');
	await expect(page.locator('#v-id')).toHaveCount(0);
	await open(page, '#/review');
	await expect(page.locator('main .error')).toContainText('moderation:review');
	await page.getByRole('button', { name: 'Sign out' }).click();
	await expect(page.locator('#token')).toBeVisible();
	expect(bad).toEqual([]);
});

test('photos dropped on the upload page show progress, then each outcome; failures can be retried', async ({ page, adminToken }) => {
	const bad = guard(page);
	await signIn(page, adminToken);
	await open(page, '#/upload');
	await dropFiles(page, [
		{ name: 'FreshFlower.jpg', bytes: corpus('FreshFlower.jpg') },
		{ name: 'Garden.jpg', bytes: corpus('Garden.jpg') },
		{ name: 'coffee.png', bytes: corpus('coffee.png'), type: 'image/png' },
		{ name: 'rocket.jpg', bytes: corpus('rocket.jpg') },
		{ name: 'notes.jpg', bytes: Buffer.from('this is text, not an image') },
	]);
	const rows = page.locator('.upload');
	await expect(rows).toHaveCount(5);
	await expect(page.locator('.up-summary')).toHaveText('3 uploaded, 2 failed', { timeout: 60_000 });
	const row = (name) => rows.filter({ has: page.locator('.up-name', { hasText: name }) });
	await expect(row('FreshFlower.jpg').locator('.badge')).toHaveText('approved');
	await expect(row('FreshFlower.jpg').locator('.score')).toHaveCount(3);
	await expect(row('Garden.jpg').locator('.badge')).toHaveText('flagged');
	await expect(row('Garden.jpg')).toContainText('drawing');
	await expect(row('rocket.jpg').locator('.badge')).toHaveText('approved');
	await expect(row('coffee.png').locator('.badge')).toHaveText('blocked');
	await expect(row('coffee.png')).toContainText('blocked by the moderation policy (rule "calm")');
	const refused = row('notes.jpg');
	await expect(refused).toContainText('is not accepted');
	await expect(refused).toContainText('unsupported_format');
	// Retry sends it again and shows the answer again.
	await refused.getByRole('button', { name: /Retry/ }).click();
	await expect(page.locator('.up-summary')).toHaveText('3 uploaded, 2 failed', { timeout: 30_000 });
	await expect(refused).toContainText('unsupported_format');
	await expect(page.locator('progress:visible')).toHaveCount(0);
	expect(bad).toEqual([]);
});

test('the images grid filters by status and searches by filename and metadata', async ({ page, pictor, adminToken }) => {
	const bad = guard(page);
	const tag = `tag-${Date.now()}`;
	const up = await uploadApi(pictor, corpus('LadyBird.jpg'), 'ladybird-search.jpg', { metadata: { album: tag } });
	expect(up.status).toBe(201);
	await signIn(page, adminToken);
	await open(page, '#/images');
	await expect(page.locator('.tile').first()).toBeVisible();
	// Newest first.
	await expect(page.locator('.tile .card-name').first()).toHaveText('ladybird-search.jpg');

	await page.selectOption('#img-status', 'flagged');
	await expect(page.locator('.tile .badge').first()).toHaveText('flagged');
	await settled(page);
	expect(new Set(await page.locator('.tile .badge').allTextContents())).toEqual(new Set(['flagged']));
	expect(page.url()).toContain('status=flagged');

	await page.selectOption('#img-status', '');
	await page.fill('#img-search', 'rocket');
	await page.keyboard.press('Enter');
	await expect(page.locator('.tile .card-name')).toHaveText(['rocket.jpg']);

	await page.fill('#img-search', tag);
	await page.keyboard.press('Enter');
	await expect(page.locator('.tile .card-name')).toHaveText(['ladybird-search.jpg']);

	await page.fill('#img-search', 'no-such-image-anywhere');
	await page.keyboard.press('Enter');
	await expect(page.locator('.list-status .empty')).toHaveText('No image matches these filters.');
	expect(bad).toEqual([]);
});

test('the image page edits metadata, toggles signing, and copies a signed URL that loads', async ({ page, context, pictor, adminToken, adminRequest }) => {
	const bad = guard(page);
	await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: pictor.base });
	const up = await uploadApi(pictor, corpus('YellowFlower.jpg'), 'yellow-detail.jpg');
	expect(up.status).toBe(201);
	const id = up.record.id;
	await signIn(page, adminToken);
	await open(page, `#/images/${id}`);
	await expect(page.getByRole('heading', { level: 1 })).toHaveText('yellow-detail.jpg');
	const facts = page.locator('.facts');
	await expect(facts).toContainText(`${up.record.width} px`);
	await expect(facts).toContainText(up.record.sha256);
	await expect(facts).toContainText(up.record.format);

	// Metadata: invalid JSON is caught before it is sent.
	const meta = page.locator('#meta-edit');
	await meta.fill('{"owner": ');
	await expect(page.locator('#meta-msg')).toContainText('not valid JSON');
	await expect(meta).toHaveAttribute('aria-invalid', 'true');
	await expect(page.getByRole('button', { name: 'Save metadata' })).toBeDisabled();
	await meta.fill('{"owner": "alice", "tags": ["a", "b"]}');
	await page.getByRole('button', { name: 'Save metadata' }).click();
	await expect(page.locator('#meta-msg')).toHaveText('Saved.');
	expect((await record(adminRequest, id)).meta).toEqual({ owner: 'alice', tags: ['a', 'b'] });

	// Every named variant in three formats, with sizes.
	const cells = page.locator('.variants-table td.vcell');
	await expect(cells.first()).toHaveAttribute('data-bytes', /^\d+$/, { timeout: 30_000 });
	await expect(page.locator('.variants-table thead th')).toHaveText(['Variant', 'AVIF', 'WebP', 'JPEG']);

	// Signing on: the plain URL is refused, a signed one loads.
	await page.getByLabel('Require signed URLs for delivery').check();
	await expect(page.locator('.facts')).toContainText('required');
	expect((await record(adminRequest, id)).requireSignedURLs).toBe(true);
	const plain = await page.request.get(`/img/${id}/public`);
	expect(plain.status()).toBe(403);

	await page.fill('#su-ttl', '600');
	await page.getByRole('button', { name: 'Make URL' }).click();
	await expect(page.locator('#su-url')).toHaveValue(/exp=\d+&sig=[0-9a-f]{64}/);
	await page.getByRole('button', { name: 'Copy' }).click();
	await expect(page.locator('#toast')).toContainText('URL copied');
	const copied = await page.evaluate(() => navigator.clipboard.readText());
	expect(copied).toBe(await page.locator('#su-url').inputValue());
	const loaded = await page.request.get(copied);
	expect(loaded.status()).toBe(200);
	expect(loaded.headers()['content-type']).toMatch(/^image\//);
	// In the page too: an <img> of the copied URL decodes.
	const w = await page.evaluate((u) => new Promise((res) => {
		const i = new Image();
		i.onload = () => res(i.naturalWidth);
		i.onerror = () => res(0);
		i.src = u;
	}), copied);
	expect(w).toBeGreaterThan(0);

	await page.getByLabel('Require signed URLs for delivery').uncheck();
	await expect(page.locator('.facts')).toContainText('not required');
	expect((await record(adminRequest, id)).requireSignedURLs).toBe(false);
	// Scores and the audit timeline.
	await expect(page.locator('section', { hasText: 'Moderation scores' }).locator('.bar')).toHaveCount(5);
	await page.reload();
	await settled(page);
	const timeline = page.locator('.timeline');
	await expect(timeline.locator('li').first()).toContainText('upload', { timeout: 15_000 });
	await expect(timeline).toContainText('metadata');
	await expect(timeline.locator('li', { hasText: 'signing' })).toHaveCount(2);
	expect(bad).toEqual([]);
});

test('a flagged image is reviewed by keyboard and leaves the queue; a decision that lost shows 409', async ({ page, pictor, adminToken, adminRequest }) => {
	const bad = guard(page);
	const a = await uploadApi(pictor, corpus('chelsea.png'), 'chelsea-review.png');
	const b = await uploadApi(pictor, corpus('motorcycle_left.png'), 'motorcycle-review.png');
	expect(a.record.status).toBe('flagged');
	expect(b.record.status).toBe('flagged');
	await signIn(page, adminToken);
	await open(page, '#/review');
	const item = (id) => page.locator(`.review-item[data-id="${id}"]`);
	await expect(item(a.record.id)).toBeVisible();
	await expect(item(b.record.id)).toBeVisible();

	// Move to chelsea with j/k, write a note with n, approve with a.
	await page.locator('main h1').focus();
	for (let i = 0; i < 10; i++) {
		if (await item(a.record.id).getAttribute('aria-current') === 'true') break;
		await page.keyboard.press('j');
	}
	await expect(item(a.record.id)).toHaveAttribute('aria-current', 'true');
	await page.keyboard.press('n');
	await expect(item(a.record.id).locator('.note-in')).toBeFocused();
	await page.keyboard.type('fine: a cat');
	await page.keyboard.press('Enter');
	await page.keyboard.press('a');
	await expect(item(a.record.id)).toHaveCount(0);
	await expect(page.locator('#toast')).toContainText('Approved "chelsea-review.png"');
	const ra = await record(adminRequest, a.record.id);
	expect(ra.status).toBe('approved');

	// Someone else blocks the motorcycle first; this reviewer's approve loses.
	const other = await adminRequest.post(`/v1/images/${b.record.id}/moderation`, { data: { action: 'block', reviewer: 'other' } });
	expect(other.status()).toBe(200);
	await item(b.record.id).getByRole('button', { name: 'Approve' }).click();
	await expect(page.locator('.review-msg')).toContainText('someone else decided "motorcycle-review.png" first: it is now blocked');
	await expect(item(b.record.id)).toHaveCount(0);
	expect((await record(adminRequest, b.record.id)).status).toBe('blocked');
	expect(bad).toEqual([]);
});

test('a variant is created with its error shown at the field, then previewed', async ({ page, adminToken, adminRequest }) => {
	const bad = guard(page);
	await signIn(page, adminToken);
	await open(page, '#/variants');
	await expect(page.locator('#pv-image option').first()).not.toHaveText('Loading images…');
	await page.fill('#v-id', 'console-card');
	await page.fill('#v-width', '0');
	await page.getByRole('button', { name: 'Create variant' }).click();
	await expect(page.locator('#v-width-msg')).toContainText('invalid value "0" for option "width"');
	await expect(page.locator('#v-width')).toHaveAttribute('aria-invalid', 'true');

	await page.fill('#v-width', '160');
	await page.fill('#v-height', '120');
	await page.selectOption('#v-fit', 'cover');
	await page.getByRole('button', { name: 'Create variant' }).click();
	await expect(page.locator('tr[data-variant="console-card"]')).toContainText('width=160');
	const v = await adminRequest.get('/v1/variants/console-card');
	expect((await v.json()).result.variant.options).toEqual({ width: 160, height: 120, fit: 'cover' });
	const img = page.locator('.pv-img');
	await expect(img).toBeVisible({ timeout: 20_000 });
	expect(await img.evaluate((i) => i.complete && i.naturalWidth)).toBe(160);

	// Edit, then delete with confirmation.
	await page.locator('tr[data-variant="console-card"]').getByRole('button', { name: /Edit/ }).click();
	await page.fill('#v-width', '200');
	await page.getByRole('button', { name: 'Save changes' }).click();
	await expect(page.locator('tr[data-variant="console-card"]')).toContainText('width=200');
	await page.locator('tr[data-variant="console-card"]').getByRole('button', { name: /Delete/ }).click();
	await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
	await expect(page.locator('tr[data-variant="console-card"]')).toHaveCount(0);
	expect((await adminRequest.get('/v1/variants/console-card')).status()).toBe(404);
	expect(bad).toEqual([]);
});

test('a hostile filename and metadata render as text on every page', async ({ page, pictor, adminToken }) => {
	const bad = guard(page);
	const ok = await uploadApi(pictor, corpus('rocket.jpg'), XSS_NAME, { metadata: XSS_META });
	expect(ok.status).toBe(201);
	// A flagged one too, for the review queue (same name, other bytes).
	const fl = await uploadApi(pictor, corpus('Garden.jpg'), XSS_NAME, { metadata: XSS_META, id: 'xss-flagged' });
	expect(fl.record.status).toBe('flagged');
	await signIn(page, adminToken);
	for (const hash of ['#/images', `#/images/${ok.record.id}`, '#/review', '#/variants', '#/']) {
		await open(page, hash);
		await expect(page.locator('main img[src="x"]')).toHaveCount(0);
		await expect(page.locator('main script')).toHaveCount(0);
	}
	await open(page, '#/images');
	await expect(page.locator('.tile .card-name', { hasText: XSS_NAME }).first()).toBeVisible();
	await open(page, `#/images/${ok.record.id}`);
	await expect(page.getByRole('heading', { level: 1 })).toHaveText(XSS_NAME);
	await expect(page.locator('#meta-edit')).toHaveValue(/<script>alert\("meta"\)<\/script>/);
	await expect(page.locator('.timeline')).toContainText(XSS_NAME);
	// Deleting it names it in a dialog as text.
	await page.getByRole('button', { name: 'Delete' }).first().click();
	await expect(page.getByRole('dialog')).toContainText(XSS_NAME);
	await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
	expect(await page.evaluate(() => document.querySelectorAll('img[src="x"], [onerror]').length)).toBe(0);
	expect(bad).toEqual([]);
});

test('state changes without the CSRF token or from another origin are refused', async ({ page, adminToken, adminRequest, pictor }) => {
	const bad = guard(page);
	const up = await uploadApi(pictor, corpus('FreshFlower.jpg'), 'csrf.jpg', { metadata: { v: 1 } });
	const id = up.record.id;
	await signIn(page, adminToken);
	await open(page, '#/images');
	const results = await page.evaluate(async (id) => {
		const body = JSON.stringify({ metadata: { v: 2 } });
		const none = await fetch(`/v1/images/${id}`, { method: 'PATCH', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body });
		const wrong = await fetch(`/v1/images/${id}`, { method: 'PATCH', credentials: 'same-origin', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': 'forged' }, body });
		const del = await fetch(`/v1/images/${id}`, { method: 'DELETE', credentials: 'same-origin' });
		return [none.status, wrong.status, del.status];
	}, id);
	for (const s of results) expect(s).toBe(403);
	// The right token from another origin (the cookie sent by a non-browser
	// client forging Origin) is refused too.
	const csrf = (await (await page.request.get('/admin/api/session')).json()).result.csrf_token;
	const cross = await page.request.patch(`/v1/images/${id}`, {
		headers: { 'X-CSRF-Token': csrf, Origin: 'http://evil.example' }, data: { metadata: { v: 3 } },
	});
	expect(cross.status()).toBe(403);
	const same = await page.request.patch(`/v1/images/${id}`, {
		headers: { 'X-CSRF-Token': csrf, Origin: pictor.base }, data: { metadata: { v: 4 } },
	});
	expect(same.status()).toBe(200);
	expect((await record(adminRequest, id)).meta).toEqual({ v: 4 });
	expect(bad).toEqual([]);
});

test('signing out closes the console and revokes the session', async ({ page, browser, pictor, adminToken }) => {
	const bad = guard(page);
	await signIn(page, adminToken);
	await open(page, '#/images');
	const cookie = (await page.context().cookies())[0];
	await page.getByRole('button', { name: 'Sign out' }).click();
	await expect(page.locator('#token')).toBeVisible();
	await expect(page.getByRole('navigation', { name: 'Sections' }).getByRole('link')).toHaveCount(0);
	expect((await page.request.get('/v1/images')).status()).toBe(401);
	await page.goto('/admin/#/images');
	await expect(page.locator('#token')).toBeVisible();
	// The old cookie, replayed, opens nothing.
	const ctx = await browser.newContext();
	await ctx.addCookies([{ ...cookie }]);
	const r = await ctx.request.get(`${pictor.base}/v1/images`);
	expect(r.status()).toBe(401);
	await ctx.close();
	expect(bad).toEqual([]);
});

test('the first load is small: HTML, JS and CSS under 150 KB gzip', async ({ pictor }) => {
	const get = (u) => fetch(`${pictor.base}${u}`, { headers: { 'Accept-Encoding': 'gzip' } });
	const html = await (await get('/admin')).text();
	const urls = new Set(['/admin', ...[...html.matchAll(/(?:href|src)="(\/admin\/[^"]+)"/g)].map((m) => m[1])]);
	for (const f of fs.readdirSync(path.join(L.ROOT, 'src', 'console', 'assets'))) {
		if (/\.(js|css)$/.test(f)) urls.add(`/admin/${f}`);
	}
	let total = 0;
	for (const u of urls) {
		const r = await get(u);
		expect(r.status, u).toBe(200);
		const body = await r.arrayBuffer();
		// The compressed length when the server says it; else the whole body.
		total += Number(r.headers.get('content-length') || body.byteLength);
	}
	test.info().annotations.push({ type: 'first-load-bytes', description: String(total) });
	expect(total).toBeLessThan(150 * 1024);
});

const PAGES = [
	['signin', '#/signin', false],
	['overview', '#/', true],
	['images', '#/images', true],
	['upload', '#/upload', true],
	['detail', null, true],
	['review', '#/review', true],
	['variants', '#/variants', true],
];

for (const width of [390, 1440]) {
	test(`every page at ${width} px: no serious or critical axe violation, and a screenshot`, async ({ page, pictor, adminToken }) => {
		const bad = guard(page);
		await page.setViewportSize({ width, height: width < 600 ? 844 : 900 });
		fs.mkdirSync(SHOTS, { recursive: true });
		const list = await fetch(`${pictor.base}/v1/images?status=approved&per_page=1`, { headers: pictor.auth() });
		const first = (await list.json()).result.images[0];
		const found = [];
		for (const [name, hash, signed] of PAGES) {
			await page.context().clearCookies();
			if (signed) await signIn(page, adminToken);
			await open(page, hash || `#/images/${first.id}`);
			if (name === 'detail') await expect(page.locator('.vcell img').first()).toBeVisible({ timeout: 30_000 });
			if (name === 'images') await page.waitForFunction(() => [...document.querySelectorAll('.tile img')].slice(0, 4).every((i) => i.complete));
			const v = await axeViolations(page);
			for (const x of v) if (x.impact === 'serious' || x.impact === 'critical') found.push({ page: name, ...x });
			await page.screenshot({ path: path.join(SHOTS, `${name}-${width}.png`), fullPage: name !== 'images' });
		}
		expect(found).toEqual([]);
		expect(bad).toEqual([]);
	});
}

// Keyboard only: reach the images page and open an image without a mouse.
test('the console is usable by keyboard alone, with a visible focus', async ({ page, adminToken }) => {
	const bad = guard(page);
	await signIn(page, adminToken);
	await open(page, '#/');
	let reached = false;
	for (let i = 0; i < 12 && !reached; i++) {
		await page.keyboard.press('Tab');
		reached = await page.evaluate(() => document.activeElement && document.activeElement.textContent === 'Images');
	}
	expect(reached).toBe(true);
	const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
	expect(outline).not.toBe('none');
	await page.keyboard.press('Enter');
	await settled(page);
	await expect(page.locator('main h1')).toBeFocused();
	let onTile = false;
	for (let i = 0; i < 15 && !onTile; i++) {
		await page.keyboard.press('Tab');
		onTile = await page.evaluate(() => !!document.activeElement.closest('.tile a'));
	}
	expect(onTile).toBe(true);
	await page.keyboard.press('Enter');
	await settled(page);
	await expect(page.locator('.facts')).toBeVisible();
	expect(bad).toEqual([]);
});
