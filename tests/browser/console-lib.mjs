// console-lib.mjs - helpers of the admin console's browser specs
// (console.spec.mjs, console-pages.spec.mjs).
//
// The daemon of both specs runs a moderation policy that flags drawing-like
// photos and blocks the calmest ones, so the corpus gives every outcome:
// FreshFlower.jpg, rocket.jpg, LadyBird.jpg and YellowFlower.jpg are
// approved; Garden.jpg, chelsea.png and motorcycle_left.png flagged;
// coffee.png blocked (refused with 422 content_blocked).

import fs from 'node:fs';
import path from 'node:path';
import { expect, L } from './fixtures.mjs';

export const POLICY = 'art=flag: drawing>=0.6; calm=block: neutral>=0.99';
export const DAEMON = { args: ['--moderation-policy', POLICY] };

// Screenshots the specs write (docs/screenshots/ holds a few of them).
export const SHOTS = path.join(L.ROOT, 'build', 'browser', 'screenshots');

export const corpus = (name) => fs.readFileSync(path.join(L.CORPUS, name));

// Fails the test on any dialog, page error or CSP violation.
export function guard(page) {
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

export async function signIn(page, token) {
	const r = await page.request.post('/admin/api/session', { data: { token } });
	expect(r.status(), await r.text()).toBe(200);
}

export async function open(page, hash) {
	await page.goto(`/admin/${hash}`);
	await settled(page);
}

// No loading indicator left in <main>.
export async function settled(page) {
	await expect(page.locator('main h1')).toBeVisible({ timeout: 30_000 });
	await expect(page.locator('main .loading')).toHaveCount(0, { timeout: 30_000 });
}

// Files dropped on the drop zone: a DataTransfer built inside the page.
export async function dropFiles(page, files) {
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

export async function uploadApi(pictor, bytes, filename, extra = {}) {
	const fd = new FormData();
	fd.append('file', new Blob([bytes]), filename);
	for (const [k, v] of Object.entries(extra)) fd.append(k, typeof v === 'string' ? v : JSON.stringify(v));
	const r = await fetch(`${pictor.base}/v1/images`, { method: 'POST', headers: pictor.auth(), body: fd });
	const j = await r.json();
	return { status: r.status, record: j.result, errors: j.errors };
}

export async function record(adminRequest, id) {
	const r = await adminRequest.get(`/v1/images/${encodeURIComponent(id)}`);
	expect(r.status()).toBe(200);
	return (await r.json()).result;
}
