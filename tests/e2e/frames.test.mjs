// Every frame counts: an animation whose first frame is harmless and whose
// later frames are what the policy flags or blocks is judged by its worst
// frame, the record names the deciding frame, and delivery never serves a
// frame the verdict did not look at.
//
// The GIF is built here from two corpus photos: coffee.png (drawing ~0.00)
// first, then motorcycle_left.png (drawing ~0.96 with `pictor classify`),
// Garden.jpg (~0.82) and motorcycle_left.png again; each frame comes from Pictor's own GIF encoder and
// the frames are joined into one animation below.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 180000 * L.TIME_SCALE;
const servers = [];
after(async () => {
	for (const s of servers) await s.kill();
});
async function start(args) {
	const s = await L.startServer({ args });
	servers.push(s);
	return s;
}

let gif; // coffee, motorcycle, garden, motorcycle
let gifFile;

before(async () => {
	const s = await start(['--moderation', 'off']);
	gif = await L.corpusGif(s, ['coffee.png', 'motorcycle_left.png', 'Garden.jpg'], [0, 1, 2, 1]);
	gifFile = path.join(await L.tmpDir(), 'four.gif');
	await fsp.writeFile(gifFile, gif);
	await s.kill();
});

const FLAG = ['--moderation-policy', 'drawn=flag: drawing>=0.6'];

describe('every frame counts', () => {
	test('pictor classify: each photo on its own, then the GIF judged by its worst frame', { timeout: T }, async () => {
		const one = await L.runCli(['classify', '--json', ...FLAG,
			path.join(L.CORPUS, 'coffee.png'), path.join(L.CORPUS, 'motorcycle_left.png')]);
		const [coffee, moto] = one.stdout.trim().split('\n').map((l) => JSON.parse(l));
		assert.equal(coffee.verdict, 'approve');
		assert.ok(coffee.scores.drawing < 0.1, JSON.stringify(coffee));
		assert.equal(moto.verdict, 'flag');
		assert.equal(one.code, 1, 'a flagged file exits 1');
		const r = await L.runCli(['classify', '--json', ...FLAG, gifFile]);
		const g = JSON.parse(r.stdout);
		assert.equal(g.verdict, 'flag', r.stdout);
		assert.equal(g.rule, 'drawn');
		assert.ok(g.frame >= 1 && g.frame <= 3, `deciding frame ${g.frame}`);
		assert.deepEqual(g.frames, { total: 4, checked: 4 });
		assert.ok(g.scores.drawing >= 0.6);
		assert.equal(r.code, 1);
	});

	test('upload: blocked under refuse, flagged with the deciding frame, never served until approved', { timeout: T }, async () => {
		const blk = await start(['--moderation-policy', 'drawn=block: drawing>=0.6']);
		let up = await L.upload(blk, gif, { filename: 'four.gif' });
		assert.equal(up.status, 422, L.show(up));
		assert.equal(L.errCode(up), 'content_blocked');

		const s = await start(FLAG);
		up = await L.upload(s, gif, { filename: 'four.gif' });
		assert.equal(up.status, 201, L.show(up));
		assert.equal(up.record.status, 'flagged');
		const m = up.record.moderation;
		assert.equal(m.rule, 'drawn');
		assert.ok(m.frame >= 1 && m.frame <= 3, `deciding frame ${m.frame}`);
		assert.deepEqual(m.frames, { total: 4, checked: 4, complete: true });
		for (const q of ['public', 'anim=false', 'f=png']) {
			const url = q === 'public' ? `/img/${up.record.id}/public` : `/img/${up.record.id}/${q}`;
			const r = await L.req(s, 'GET', url);
			assert.equal(r.status, 404, `${url} ${L.show(r)}`);
			assert.equal(r.json.errors[0].code, 'not_available', `${url} ${L.show(r)}`);
		}
		// Approved by a person, the whole animation is served: every
		// frame was looked at.
		const rv = await L.api(s, 'POST', `/v1/images/${up.record.id}/moderation`, { action: 'approve' });
		assert.equal(rv.status, 200, L.show(rv));
		const r = await L.req(s, 'GET', `/img/${up.record.id}/public`, { headers: { Accept: 'image/webp' } });
		assert.equal(r.status, 200);
		assert.equal(L.probe(r.body).frames, 4);
	});

	test('over the frame budget: a sample that still catches the later frames; only the first frame is served', { timeout: T }, async () => {
		const s = await start([...FLAG, '--moderation-frames', '2']);
		const up = await L.upload(s, gif, { filename: 'four.gif' });
		assert.equal(up.status, 201, L.show(up));
		assert.equal(up.record.status, 'flagged');
		assert.deepEqual(up.record.moderation.frames, { total: 4, checked: 2, complete: false });
		assert.equal(up.record.moderation.frame, 3);
		const rv = await L.api(s, 'POST', `/v1/images/${up.record.id}/moderation`, { action: 'approve' });
		assert.equal(rv.status, 200, L.show(rv));
		for (const accept of ['image/webp', 'image/gif', '*/*']) {
			const r = await L.req(s, 'GET', `/img/${up.record.id}/public`, { headers: { Accept: accept } });
			assert.equal(r.status, 200, L.show(r));
			assert.equal(L.probe(r.body).frames, 1, `Accept ${accept}: only the checked first frame`);
		}
		const r = await L.req(s, 'GET', `/cdn-cgi/image/f=gif,anim=true/${up.record.id}`);
		assert.equal(r.status, 200, L.show(r));
		assert.equal(L.probe(r.body).frames, 1);
	});
});

describe('pictor classify is as safe as the server', () => {
	for (const mode of ['default', 'nsfwjs']) {
		test(`--preprocess ${mode}: bombs refused from the header, a JSON error per file, exit 2`, { timeout: T }, async () => {
			const files = ['bomb-png-30000x30000.png', 'sof-65000x65000.jpg', 'wide-20000x1.png', 'rgb.jpg']
				.map((f) => path.join(L.INPUTS, f));
			const r = await L.runCli(['classify', '--json', '--preprocess', mode, ...files, '/nonexistent.png']);
			const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
			assert.equal(lines.length, 5, r.stdout);
			assert.deepEqual(lines.map((l) => l.error?.code ?? l.verdict),
				['too_many_pixels', 'too_many_pixels', 'dimensions_too_large', 'approve', 'cannot_read']);
			for (const l of lines.filter((x) => x.error)) assert.ok(l.error.message.length > 0);
			assert.equal(r.code, 2, 'errors exit 2');
			const ok = await L.runCli(['classify', '--json', '--preprocess', mode, files[3]]);
			assert.equal(ok.code, 0, 'all approved exits 0');
		});
	}
});
