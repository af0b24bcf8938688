// console.spec.mjs - the admin console (/admin) in Chromium against the real
// daemon: sign-in with a wrong, revoked, scoped and the admin token; the
// session cookie's flags; upload through the drop zone with each outcome
// and retry; the review queue by keyboard and a lost decision (409); CSRF
// and other-origin refusals; sign-out; the first load's size.
//
// Every test fails on a JavaScript dialog, an uncaught page error or a
// console error other than a failed resource load (guard()). Tests share
// the file's daemon (a failure restarts it) and upload under their own names.

import fs from 'node:fs';
import path from 'node:path';
import { test, expect, L } from './fixtures.mjs';
import { DAEMON, SHOTS, corpus, guard, signIn, open, dropFiles, uploadApi, record } from './console-lib.mjs';

test.use({ pictorOptions: DAEMON });

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

test('photos dropped on the upload page (and picked) show progress, then each outcome; failures can be retried', async ({ page, adminToken }) => {
	const bad = guard(page);
	await page.setViewportSize({ width: 1440, height: 900 });
	await signIn(page, adminToken);
	await open(page, '#/upload');
	await dropFiles(page, [
		{ name: 'FreshFlower.jpg', bytes: corpus('FreshFlower.jpg') },
		{ name: 'Garden.jpg', bytes: corpus('Garden.jpg') },
		{ name: 'coffee.png', bytes: corpus('coffee.png'), type: 'image/png' },
		{ name: 'rocket.jpg', bytes: corpus('rocket.jpg') },
		{ name: 'notes.jpg', bytes: Buffer.from('this is text, not an image') },
	]);
	// And one through the file picker.
	await page.setInputFiles('#file-input', { name: 'LadyBird.jpg', mimeType: 'image/jpeg', buffer: corpus('LadyBird.jpg') });
	const rows = page.locator('.upload');
	await expect(rows).toHaveCount(6);
	await expect(page.locator('.up-summary')).toHaveText('4 uploaded, 2 failed', { timeout: 60_000 });
	const row = (name) => rows.filter({ has: page.locator('.up-name', { hasText: name }) });
	await expect(row('FreshFlower.jpg').locator('.badge')).toHaveText('approved');
	await expect(row('FreshFlower.jpg').locator('.score')).toHaveCount(3);
	await expect(row('Garden.jpg').locator('.badge')).toHaveText('flagged');
	await expect(row('Garden.jpg')).toContainText('drawing');
	await expect(row('rocket.jpg').locator('.badge')).toHaveText('approved');
	await expect(row('LadyBird.jpg').locator('.badge')).toHaveText('approved');
	await expect(row('coffee.png').locator('.badge')).toHaveText('blocked');
	await expect(row('coffee.png')).toContainText('blocked by the moderation policy (rule "calm")');
	await expect(row('coffee.png').locator('.score')).toHaveCount(3);
	const refused = row('notes.jpg');
	await expect(refused).toContainText('is not accepted');
	await expect(refused).toContainText('unsupported_format');
	// Retry sends it again and shows the answer again.
	await refused.getByRole('button', { name: /Retry/ }).click();
	await expect(page.locator('.up-summary')).toHaveText('4 uploaded, 2 failed', { timeout: 30_000 });
	await expect(refused).toContainText('unsupported_format');
	await expect(page.locator('progress:visible')).toHaveCount(0);
	fs.mkdirSync(SHOTS, { recursive: true });
	await page.screenshot({ path: path.join(SHOTS, 'upload-done-1440.png') });
	expect(bad).toEqual([]);
});

test('a flagged image is reviewed by keyboard and leaves the queue; a decision that lost shows 409; bulk approval', async ({ page, pictor, adminToken, adminRequest }) => {
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

	// Bulk: x selects the current item; both approved at once.
	const c1 = await uploadApi(pictor, corpus('Garden.jpg'), 'garden-bulk-1.jpg');
	const c2 = await uploadApi(pictor, corpus('Garden.jpg'), 'garden-bulk-2.jpg');
	await page.reload();
	await expect(item(c2.record.id)).toBeVisible();
	for (const id of [c1.record.id, c2.record.id]) {
		await item(id).locator('.note-in').focus();
		await page.keyboard.press('Escape');
		await page.keyboard.press('x');
	}
	await page.getByRole('button', { name: 'Approve selected (2)' }).click();
	await expect(item(c1.record.id)).toHaveCount(0);
	await expect(item(c2.record.id)).toHaveCount(0);
	expect((await record(adminRequest, c1.record.id)).status).toBe('approved');
	expect((await record(adminRequest, c2.record.id)).status).toBe('approved');
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

