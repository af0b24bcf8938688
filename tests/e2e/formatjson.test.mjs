// format=json tells the truth: the format, size and frames it reports are
// those of the image the same URL without f=json serves, under any Accept
// header; it is computed without encoding (no render is counted), and a
// moderation placeholder answers JSON too, never an image.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 120000 * L.TIME_SCALE;
let srv;
const ids = {};

before(async () => {
	srv = await L.startServer({ args: ['--moderation', 'off', '--rate-limit', 'render=10000/s:10000,hit=10000/s:10000,api=10000/s:10000'] });
	for (const f of ['rgb.jpg', 'gray-alpha.png', 'lossy.webp', 'image.tif', 'animated.webp']) {
		const up = await L.upload(srv, path.join(L.INPUTS, f));
		assert.ok(up.status === 201, L.show(up));
		ids[f] = up.record.id;
	}
});
after(async () => {
	await srv?.kill();
});

function renders(text) {
	const line = text.split('\n').find((l) => l.startsWith('pictor_renders_total '));
	return Number(line.split(' ')[1]);
}

const ACCEPTS = [undefined, '*/*', 'image/avif,image/webp,*/*', 'image/webp,*/*;q=0.8', 'image/png', 'text/html'];

describe('f=json reports what the same URL without it serves', () => {
	for (const file of ['rgb.jpg', 'gray-alpha.png', 'lossy.webp', 'image.tif', 'animated.webp']) {
		test(file, { timeout: T }, async () => {
			const id = ids[file];
			for (const opts of ['w=100', 'w=64,h=64,fit=cover', 'rotate=90,w=50', 'w=80,anim=false']) {
				for (const form of ['img', 'cdn']) {
					const url = (o) => (form === 'img' ? `/img/${id}/${o}` : `/cdn-cgi/image/${o}/${id}`);
					for (const accept of ACCEPTS) {
						const headers = accept ? { Accept: accept } : {};
						const img = await L.req(srv, 'GET', url(opts), { headers });
						assert.equal(img.status, 200, L.show(img));
						const j = await L.req(srv, 'GET', url(`${opts},f=json`), { headers });
						assert.equal(j.status, 200, L.show(j));
						assert.match(j.headers.get('content-type'), /^application\/json/);
						const p = L.probe(img.body);
						const what = `${file} ${url(opts)} Accept: ${accept}`;
						assert.equal(`image/${j.json.format}`, img.headers.get('content-type'), `${what}: format`);
						assert.equal(j.json.format, p.format, `${what}: format (bytes)`);
						assert.deepEqual([j.json.width, j.json.height], [p.width, p.height], `${what}: size`);
						assert.equal(j.json.frames, p.frames ?? 1, `${what}: frames`);
					}
				}
			}
		});
	}

	test('f=json encodes nothing', { timeout: T }, async () => {
		const before = renders((await L.req(srv, 'GET', '/metrics')).text);
		for (let i = 0; i < 5; i++) {
			const r = await L.req(srv, 'GET', `/img/${ids['rgb.jpg']}/w=${300 + i},blur=5,f=json`);
			assert.equal(r.status, 200, L.show(r));
		}
		const afterJson = renders((await L.req(srv, 'GET', '/metrics')).text);
		assert.equal(afterJson, before, 'no render counted for f=json');
		await L.req(srv, 'GET', `/img/${ids['rgb.jpg']}/w=299,blur=5`);
		assert.equal(renders((await L.req(srv, 'GET', '/metrics')).text), before + 1, 'the counter does move for a render');
	});
});

describe('moderation placeholder', () => {
	test('f=json on an unapproved image answers JSON, not the blurred image', { timeout: T }, async () => {
		// Every image is flagged by this policy; unapproved images are served as placeholders.
		const s = await L.startServer({ args: ['--moderation-policy', 'flag: neutral>=0 | drawing>=0',
			'--moderation-placeholder', 'on'] });
		try {
			const up = await L.upload(s, path.join(L.INPUTS, 'rgb.jpg'));
			assert.equal(up.record.status ?? up.record.meta?.status ?? 'flagged', 'flagged', L.show(up));
			const img = await L.req(s, 'GET', `/img/${up.record.id}/w=100`);
			assert.equal(img.headers.get('x-pictor-placeholder'), 'moderation', L.show(img));
			const j = await L.req(s, 'GET', `/img/${up.record.id}/w=100,f=json`);
			assert.equal(j.status, 200, L.show(j));
			assert.match(j.headers.get('content-type'), /^application\/json/);
			assert.equal(j.headers.get('x-pictor-placeholder'), 'moderation');
			assert.equal(j.json.placeholder, 'moderation');
			assert.equal(j.json.original, undefined, 'nothing of the original is described');
			const p = L.probe(img.body);
			assert.deepEqual([j.json.format, j.json.width, j.json.height], [p.format, p.width, p.height]);
		} finally {
			await s.kill();
		}
	});
});
