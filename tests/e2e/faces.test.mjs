// Faces: detected once (at upload, by the async job runner, or by a
// reclassify job for images stored without the face model), kept in the
// record and shown as `faces`; gravity=face and zoom crop around them as
// Cloudflare describes (the centre when none was found); redact=faces
// blurs or pixelates every face box. Pixels are checked on PNG output
// decoded here.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 180000 * L.TIME_SCALE;
const LIMITS = ['--rate-limit', 'render=10000/s:10000,hit=10000/s:10000,api=10000/s:10000'];
// Corpus photos with faces (chelsea.png's cat counts for BlazeFace);
// astronaut.png must have one.
const PEOPLE = ['astronaut.png', 'grace_hopper.jpg', 'mona.png', 'camera.png', 'chelsea.png'];
let srv;
const rec = {};

const corpus = (f) => path.join(L.CORPUS, f);
const png = async (s, id, opts) => {
	const r = await L.req(s, 'GET', `/img/${id}/${opts}`);
	assert.equal(r.status, 200, `${opts}: ${L.show(r)}`);
	return r.body;
};

// The window gravity=face crops (docs/TRANSFORMS.md): aspect a, zoom z.
function faceWindow(w, h, a, z, faces) {
	const u = faces.reduce((b, f) => [Math.min(b[0], f.x), Math.min(b[1], f.y),
		Math.max(b[2], f.x + f.w), Math.max(b[3], f.y + f.h)], [Infinity, Infinity, -Infinity, -Infinity])
		.map((v, i) => Math.min(Math.max(v, 0), i % 2 ? h : w));
	const maxw = w / h > a ? h * a : w;
	const fitw = Math.min(Math.max(u[2] - u[0], (u[3] - u[1]) * a), maxw);
	const cw = maxw - z * (maxw - fitw);
	const ch = cw / a;
	const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
	const left = clamp((u[0] + u[2]) / 2 - cw / 2, 0, w - cw);
	const top = clamp((u[1] + u[3]) / 2 - ch / 2, 0, h - ch);
	const iw = clamp(Math.round(cw), 1, w);
	const ih = clamp(Math.round(ch), 1, h);
	return [clamp(Math.round(left), 0, w - iw), clamp(Math.round(top), 0, h - ih), iw, ih];
}

function variance(img, x0, y0, bw, bh) {
	let s = 0, s2 = 0, n = 0;
	const c = img.channels;
	for (let y = Math.max(0, y0); y < Math.min(img.height, y0 + bh); y++) {
		for (let x = Math.max(0, x0); x < Math.min(img.width, x0 + bw); x++) {
			const o = (y * img.width + x) * c;
			const v = c >= 3 ? img.data[o] + img.data[o + 1] + img.data[o + 2] : 3 * img.data[o];
			s += v;
			s2 += v * v;
			n++;
		}
	}
	return n ? s2 / n - (s / n) ** 2 : 0;
}

before(async () => {
	srv = await L.startServer({ args: ['--moderation', 'off', '--models', L.MODELS, ...LIMITS] });
	for (const f of [...PEOPLE, 'rocket.jpg']) {
		const up = await L.upload(srv, corpus(f));
		assert.equal(up.status, 201, L.show(up));
		rec[f] = up.record;
	}
	const up = await L.upload(srv, corpus('astronaut.png'), { requireSignedURLs: true });
	assert.equal(up.status, 201, L.show(up));
	rec.signed = up.record;
});
after(async () => {
	await srv?.kill();
});

describe('faces', () => {
	test('upload detects faces into the record and the API', { timeout: T }, async (t) => {
		const a = rec['astronaut.png'];
		assert.ok(Array.isArray(a.faces) && a.faces.length >= 1, JSON.stringify(a));
		for (const f of a.faces) {
			assert.deepEqual(Object.keys(f), ['x', 'y', 'w', 'h', 'score']);
			assert.ok(f.score >= 0.75 && f.score <= 1, JSON.stringify(f));
			assert.ok(f.w > 20 && f.h > 20 && f.x + f.w <= a.width + 1 && f.y + f.h <= a.height + 1);
		}
		// Eileen Collins' face is in the upper middle of the 512x512 photo.
		const f = a.faces[0];
		assert.ok(f.x > 100 && f.x + f.w < 300 && f.y > 30 && f.y + f.h < 250, JSON.stringify(f));
		const got = await L.api(srv, 'GET', `/v1/images/${a.id}`);
		assert.deepEqual(got.json.result.faces, a.faces);
		assert.deepEqual(rec['rocket.jpg'].faces, []);
	});

	test('gravity=face crops the window around the faces, for every zoom', { timeout: T }, async (t) => {
		let checked = 0;
		for (const file of PEOPLE) {
			const r = rec[file];
			if (!r.faces.length) continue;
			for (const [w, h] of [[200, 200], [300, 120]]) {
				for (const z of [0, 0.5, 1]) {
					const win = faceWindow(r.width, r.height, w / h, z, r.faces);
					// The window holds every face box...
					for (const f of r.faces) {
						assert.ok(win[0] <= f.x + 0.5 && win[1] <= f.y + 0.5 &&
							win[0] + win[2] >= f.x + f.w - 0.5 && win[1] + win[3] >= f.y + f.h - 0.5 ||
							// unless the aspect cannot hold it (zoom 0 is the widest window)
							Math.max(f.w, f.h * w / h) > Math.min(r.width, r.height * w / h),
							`${file} ${w}x${h} zoom ${z}: ${win} vs ${JSON.stringify(f)}`);
					}
					// ...and is what is served: the same pixels as a trim to it.
					const trim = `trim=${win[1]};${r.width - win[0] - win[2]};${r.height - win[1] - win[3]};${win[0]}`;
					const face = await png(srv, r.id, `w=${w},h=${h},fit=cover,gravity=face,zoom=${z},f=png`);
					const ref = await png(srv, r.id, `${trim},w=${w},h=${h},fit=cover,gravity=center,f=png`);
					const img = L.decodePng(face);
					assert.equal(img.width, w);
					assert.equal(img.height, h);
					assert.ok(face.equals(ref), `${file} ${w}x${h} zoom ${z}: differs from ${trim}`);
					checked++;
				}
			}
		}
		assert.ok(checked >= 6);
		// zoom changes the picture (and the cache key)
		const id = rec['astronaut.png'].id;
		const z0 = await png(srv, id, 'w=200,h=200,fit=cover,g=face,f=png');
		const z1 = await png(srv, id, 'w=200,h=200,fit=cover,g=face,zoom=1,f=png');
		assert.ok(!z0.equals(z1));
	});

	test('no face found: gravity=face crops from the centre', { timeout: T }, async (t) => {
		const id = rec['rocket.jpg'].id;
		for (const z of [0, 1]) {
			const face = await png(srv, id, `w=150,h=150,fit=cover,g=face,zoom=${z},f=png`);
			const centre = await png(srv, id, 'w=150,h=150,fit=cover,g=center,f=png');
			assert.ok(face.equals(centre));
		}
		// redact=faces changes nothing there
		const plain = await png(srv, id, 'w=300,f=png');
		assert.ok(plain.equals(await png(srv, id, 'w=300,redact=faces,f=png')));
	});

	test('redact=faces leaves no face unblurred, and the rest alone', { timeout: T }, async (t) => {
		const r = rec['astronaut.png'];
		const before = L.decodePng(await png(srv, r.id, 'f=png'));
		for (const mode of ['faces', 'faces-pixelate']) {
			const after = L.decodePng(await png(srv, r.id, `redact=${mode},f=png`));
			assert.equal(after.width, r.width);
			for (const f of r.faces) {
				const [x, y, w, h] = [Math.round(f.x), Math.round(f.y), Math.round(f.w), Math.round(f.h)];
				const v0 = variance(before, x, y, w, h);
				const v1 = variance(after, x, y, w, h);
				assert.ok(v1 < v0 * (mode === 'faces' ? 0.1 : 0.8), `${mode}: variance ${v0} -> ${v1}`);
			}
			// the bottom rows hold no face: untouched
			const rows = (img) => img.data.subarray(img.width * img.channels * (img.height - 40));
			assert.ok(rows(after).equals(rows(before)), `${mode}: pixels outside the faces changed`);
		}
		// with a resize and signed URLs: the boxes are in original pixels
		const small = L.decodePng(await png(srv, r.id, 'w=256,redact=faces,f=png'));
		const smallPlain = L.decodePng(await png(srv, r.id, 'w=256,f=png'));
		const f = r.faces[0];
		const k = 256 / r.width;
		const box = [Math.round(f.x * k), Math.round(f.y * k), Math.round(f.w * k), Math.round(f.h * k)];
		assert.ok(variance(small, ...box) < variance(smallPlain, ...box) * 0.1);
		const key = srv.signingKeys?.[0];
		assert.ok(key, 'signing_keys read from secrets.json');
		const sid = rec.signed.id;
		assert.equal((await L.req(srv, 'GET', `/img/${sid}/w=256,redact=faces,f=png`)).status, 403);
		const sg = await L.req(srv, 'GET', L.signedPath(`/img/${sid}/w=256,redact=faces,f=png`, key, L.now() + 600));
		assert.equal(sg.status, 200, L.show(sg));
		assert.ok(sg.body.equals(await png(srv, r.id, 'w=256,redact=faces,f=png')));
		const bad = await L.req(srv, 'GET', `/img/${r.id}/redact=eyes`);
		assert.equal(bad.status, 400);
		assert.equal(L.errCode(bad), 'invalid_option');
	});
});

describe('faces without the model, then for older images', () => {
	test('absent model: uploads work without faces; reclassify --faces backfills', { timeout: T }, async (t) => {
		const dataDir = await L.tmpDir();
		const noFace = await L.tmpDir('pictor-models-');
		for (const d of fs.readdirSync(L.MODELS)) {
			if (!/face/.test(d)) await fsp.symlink(path.join(L.MODELS, d), path.join(noFace, d));
		}
		let s = await L.startServer({ dataDir, args: ['--moderation', 'off', '--models', noFace, ...LIMITS] });
		const old = await L.upload(s, corpus('astronaut.png'));
		assert.equal(old.status, 201, L.show(old));
		assert.equal(old.record.faces, undefined);
		// gravity=face on an image never looked at: attention, as auto
		const auto = await png(s, old.record.id, 'w=120,h=200,fit=cover,g=auto,f=png');
		assert.ok(auto.equals(await png(s, old.record.id, 'w=120,h=200,fit=cover,g=face,f=png')));
		// redact=faces on an image never looked at changes nothing
		const plain = await png(s, old.record.id, 'w=200,f=png');
		assert.ok(plain.equals(await png(s, old.record.id, 'w=200,redact=faces,f=png')));
		await s.stop();

		// The model is back, moderation async: the job runner detects the
		// faces of new uploads, and a reclassify job those of the old one.
		s = await L.startServer({ dataDir, args: ['--moderation', 'on', '--moderation-mode', 'async', '--models', L.MODELS, ...LIMITS] });
		try {
			const fresh = await L.upload(s, corpus('astronaut.png'), { id: 'fresh' });
			assert.equal(fresh.status, 202, L.show(fresh));
			const job = await L.api(s, 'POST', '/v1/moderation/reclassify', { faces: true });
			assert.equal(job.status, 202, L.show(job));
			assert.equal(job.json.result.filter.faces, true);
			const until = Date.now() + 60000 * L.TIME_SCALE;
			let a, b;
			for (;;) {
				a = (await L.api(s, 'GET', `/v1/images/${old.record.id}`)).json.result;
				b = (await L.api(s, 'GET', '/v1/images/fresh')).json.result;
				if ((a.faces && b.faces) || Date.now() > until) break;
				await L.sleep(200);
			}
			assert.ok(a.faces?.length >= 1, JSON.stringify(a));
			assert.ok(b.faces?.length >= 1 && b.status !== 'pending', JSON.stringify(b));
			assert.deepEqual(a.faces, b.faces);
			// the variant follows the new faces (a new cache key)
			assert.ok(!auto.equals(await png(s, old.record.id, 'w=120,h=200,fit=cover,g=face,f=png')));
		} finally {
			await s.kill();
		}
	});
});
