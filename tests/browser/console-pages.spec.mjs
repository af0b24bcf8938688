// console-pages.spec.mjs - the admin console's pages in Chromium against the
// real daemon: the overview from /v1/stats; the images grid's status filter
// and search; the image page (metadata editor, signing toggle, variants in
// three formats, a signed URL copied to the clipboard that loads, scores,
// audit timeline); variants with a field error and a live preview; a
// hostile filename and metadata rendered as text; keyboard-only use; axe
// on every page at 390 and 1440 px, with screenshots written to
// build/browser/screenshots/.
//
// Every test fails on a JavaScript dialog, an uncaught page error or a
// console error other than a failed resource load (guard()).

import fs from 'node:fs';
import path from 'node:path';
import { test, expect, L, axeViolations } from './fixtures.mjs';
import { DAEMON, SHOTS, corpus, guard, signIn, open, settled, uploadApi, record } from './console-lib.mjs';
import { firstScreen } from './first-screen.mjs';

const XSS_NAME = '<img src=x onerror=alert(1)>.jpg';
const XSS_META = {
	note: '<script>alert("meta")</script>',
	attr: '"><img src=x onerror=alert(2)>',
	js: 'javascript:alert(3)',
};

test.use({ pictorOptions: DAEMON });

test('the overview shows counts, uploads per hour, delivery and verdicts from /v1/stats', async ({ page, pictor, adminToken, adminRequest }) => {
	const bad = guard(page);
	await uploadApi(pictor, corpus('FreshFlower.jpg'), 'overview.jpg');
	const stats = (await (await adminRequest.get('/v1/stats')).json()).result;
	await signIn(page, adminToken);
	await open(page, '#/');
	const stat = (label) => page.locator('.stat', { hasText: label }).locator('.stat-value');
	await expect(stat('Images')).toHaveText(stats.count.current.toLocaleString('en-US'));
	await expect(page.locator('.bars[aria-label="Images by status"] .bar-value').first()).toHaveText(String(stats.status.approved));
	await expect(page.locator('svg.columns rect.col')).toHaveCount(24);
	await expect(page.locator('.ring svg')).toHaveAttribute('aria-label', /Delivery answers served from the result cache: \d+\.\d%/);
	await expect(page.locator('.bars[aria-label="Moderation verdicts"] .bar')).toHaveCount(3);
	await page.getByRole('button', { name: 'Refresh' }).click();
	await settled(page);
	expect(bad).toEqual([]);
});

test('the images grid filters by status, searches by filename and metadata, deletes a selection', async ({ page, pictor, adminToken }) => {
	const bad = guard(page);
	const tag = `tag-${Date.now()}`;
	expect((await uploadApi(pictor, corpus('Garden.jpg'), 'garden-filter.jpg')).record.status).toBe('flagged');
	expect((await uploadApi(pictor, corpus('rocket.jpg'), 'rocket-filter.jpg')).record.status).toBe('approved');
	const up = await uploadApi(pictor, corpus('LadyBird.jpg'), 'ladybird-search.jpg', { metadata: { album: tag } });
	expect(up.status).toBe(201);
	await signIn(page, adminToken);
	await page.goto('/admin/#/images');
	const fs1 = await firstScreen(page);
	// A figure, not a limit: bench/console.mjs times a 10 000-image collection.
	console.log(`images page first screen: ${fs1.ms.toFixed(0)} ms (${fs1.tiles} tiles, ${fs1.inView} thumbnails in view)`);
	expect(fs1.failed).toBe(0);
	await settled(page);
	await expect(page.locator('.tile').first()).toBeVisible();
	// Newest first.
	await expect(page.locator('.tile .card-name').first()).toHaveText('ladybird-search.jpg');

	await page.selectOption('#img-status', 'flagged');
	await expect(page.locator('.tile .badge').first()).toHaveText('flagged');
	await settled(page);
	expect(new Set(await page.locator('.tile .badge').allTextContents())).toEqual(new Set(['flagged']));
	// A flagged image shows its thumbnail to the signed-in console.
	const flaggedImg = page.locator('.tile img').first();
	await expect(flaggedImg).toHaveAttribute('src', /^\/v1\/images\/[^/]+\/thumbnail$/);
	await expect.poll(() => flaggedImg.evaluate((i) => i.complete && i.naturalWidth)).toBe(240);
	expect(page.url()).toContain('status=flagged');

	await page.selectOption('#img-status', '');
	await page.fill('#img-search', 'rocket-filter');
	await page.keyboard.press('Enter');
	await expect(page.locator('.tile .card-name')).toHaveText(['rocket-filter.jpg']);

	await page.fill('#img-search', tag);
	await page.keyboard.press('Enter');
	await expect(page.locator('.tile .card-name')).toHaveText(['ladybird-search.jpg']);

	// Multi-select delete, confirmed in a dialog.
	await page.fill('#img-search', '-filter.jpg');
	await page.keyboard.press('Enter');
	await expect(page.locator('.tile')).toHaveCount(2);
	const ids = await page.locator('.tile').evaluateAll((els) => els.map((e) => e.dataset.id));
	await page.getByRole('button', { name: 'Select all shown' }).click();
	await page.getByRole('button', { name: 'Delete selected (2)' }).click();
	await page.getByRole('dialog').getByRole('button', { name: 'Delete 2' }).click();
	await expect(page.locator('.tile')).toHaveCount(0);
	for (const id of ids) expect((await fetch(`${pictor.base}/v1/images/${id}`, { headers: pictor.auth() })).status).toBe(404);

	await page.fill('#img-search', 'no-such-image-anywhere');
	await page.keyboard.press('Enter');
	await expect(page.locator('.list-status .empty')).toHaveText('No image matches these filters.');
	expect(bad).toEqual([]);
});

test('the image page edits metadata, toggles signing, and copies a signed URL that loads', async ({ page, context, pictor, adminToken, adminRequest }) => {
	const bad = guard(page);
	await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: pictor.base });
	test.setTimeout(120_000); // every variant rendered in three formats
	// A small photo: its page renders every variant as AVIF, WebP and JPEG.
	const up = await uploadApi(pictor, corpus('rocket.jpg'), 'rocket-detail.jpg');
	expect(up.status).toBe(201);
	const id = up.record.id;
	await signIn(page, adminToken);
	await open(page, `#/images/${id}`);
	await expect(page.getByRole('heading', { level: 1 })).toHaveText('rocket-detail.jpg');
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

test('a variant is created with its error shown at the field, then previewed', async ({ page, pictor, adminToken, adminRequest }) => {
	test.setTimeout(120_000); // renders of the live preview
	const bad = guard(page);
	await uploadApi(pictor, corpus('rocket.jpg'), 'rocket-variants.jpg'); // the preview's image
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
	// The preview of the options typed so far is replaced once the form's
	// debounce fires: wait for the one of the saved options.
	const img = page.locator('.pv-img');
	await expect.poll(async () => {
		try {
			return (await img.count()) ? await img.evaluate((i) => i.complete && i.naturalWidth) : 0;
		} catch {
			return 0; // replaced between count and evaluate
		}
	}, { timeout: 45_000 }).toBe(160);

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
	expect(JSON.parse(await page.locator('#meta-edit').inputValue())).toEqual(XSS_META);
	await expect(page.locator('.timeline')).toContainText(XSS_NAME);
	// Deleting it names it in a dialog as text.
	await page.getByRole('button', { name: 'Delete' }).first().click();
	await expect(page.getByRole('dialog')).toContainText(XSS_NAME);
	await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
	expect(await page.evaluate(() => document.querySelectorAll('img[src="x"], [onerror]').length)).toBe(0);
	expect(bad).toEqual([]);
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
		// Seven pages, each loaded, checked and photographed: more than the
		// default minute on a busy machine.
		test.setTimeout(180_000);
		const bad = guard(page);
		await page.setViewportSize({ width, height: width < 600 ? 844 : 900 });
		fs.mkdirSync(SHOTS, { recursive: true });
		// A small photo: its page renders every variant as AVIF, WebP and JPEG.
		const first = (await uploadApi(pictor, corpus('rocket.jpg'), `rocket-${width}.jpg`, { metadata: { album: 'screenshots' } })).record;
		await uploadApi(pictor, corpus('Garden.jpg'), `review-${width}.jpg`);
		const found = [];
		let signedIn = false;
		for (const [name, hash, signed] of PAGES) {
			// A fresh document for each page (a hash change alone would
			// keep the previous page's session in memory).
			await page.goto('about:blank');
			if (signed && !signedIn) {
				await signIn(page, adminToken);
				signedIn = true;
			}
			await open(page, hash || `#/images/${first.id}`);
			await expect(page.locator('#token')).toHaveCount(signed ? 0 : 1);
			// Nothing scrolls sideways: neither the page nor the navigation row.
			const overflow = await page.evaluate(() => [document.documentElement, document.querySelector('.nav-list')]
				.filter((e) => e && e.scrollWidth > e.clientWidth + 1).map((e) => e.className || e.tagName));
			expect(overflow, `${name} at ${width} px`).toEqual([]);
			if (name === 'detail') {
				await page.waitForFunction(() => {
					const cells = [...document.querySelectorAll('.vcell')];
					return cells.length > 0 && cells.every((c) => c.dataset.bytes && c.querySelector('img').complete);
				}, null, { timeout: 30_000 });
			}
			if (name === 'images') await page.waitForFunction(() => [...document.querySelectorAll('.tile img')].slice(0, 4).every((i) => i.complete));
			if (name === 'review') await page.waitForFunction(() => [...document.querySelectorAll('.review-img')].slice(0, 2).every((i) => i.complete));
			const v = await axeViolations(page);
			for (const x of v) if (x.impact === 'serious' || x.impact === 'critical') found.push({ page: name, ...x });
			await page.screenshot({ path: path.join(SHOTS, `${name}-${width}.png`), fullPage: name !== 'images' && name !== 'review' });
		}
		expect(found).toEqual([]);
		expect(bad).toEqual([]);
	});
}

// Keyboard only: reach the images page and open an image without a mouse.
test('the console is usable by keyboard alone, with a visible focus', async ({ page, pictor, adminToken }) => {
	const bad = guard(page);
	await uploadApi(pictor, corpus('rocket.jpg'), 'keyboard.jpg');
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
