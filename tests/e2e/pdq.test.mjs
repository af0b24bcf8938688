// PDQ hashes on upload, hash lists that block or flag known images (also
// when they come back resized, re-encoded or rotated), and the
// near-duplicate search, all through the real binary. The copies are made
// by the daemon's own delivery path, so no image tool is needed here.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 120000 * L.TIME_SCALE;
const PDQ = path.join(L.ROOT, 'tests', 'data', 'pdq');
const BRIDGE = path.join(PDQ, 'bridge-1-original.jpg');
const OTHER = path.join(PDQ, 'q0291.jpg');
const servers = [];

async function start(args = [], opts = {}) {
	const s = await L.startServer({ args: ['--moderation', 'off', ...args], ...opts });
	servers.push(s);
	return s;
}
after(async () => {
	for (const s of servers) await s.kill();
});

// A copy of an uploaded image made by the delivery path.
async function copyOf(s, id, options) {
	const res = await L.req(s, 'GET', `/cdn-cgi/image/${options}/${id}`);
	assert.equal(res.status, 200, L.show(res));
	return res.body;
}

function bits(a, b) {
	let d = 0;
	for (let i = 0; i < 64; i += 8) {
		let x = parseInt(a.slice(i, i + 8), 16) ^ parseInt(b.slice(i, i + 8), 16);
		while (x) {
			d += x & 1;
			x >>>= 1;
		}
	}
	return d;
}

const waitFor = (fn, ms = 60000) => L.waitFor(fn, ms, 50);

async function settled(s, id) {
	return waitFor(async () => {
		const r = await L.api(s, 'GET', `/v1/images/${id}`);
		return r.json.result.status !== 'pending' && r.json.result;
	});
}

async function createList(s, body) {
	const res = await L.api(s, 'POST', '/v1/hashlists', body);
	assert.equal(res.status, 201, L.show(res));
	return res.json.result;
}

async function importText(s, name, text, contentType = 'text/plain') {
	return L.req(s, 'POST', `/v1/hashlists/${name}/hashes`, {
		auth: true, headers: { 'Content-Type': contentType }, body: text,
	});
}

describe('PDQ on upload', () => {
	test('the record carries pdq and pdq_quality', { timeout: T }, async () => {
		const s = await start();
		const up = await L.upload(s, BRIDGE);
		assert.equal(up.status, 201, L.show(up));
		assert.match(up.record.pdq, /^[0-9a-f]{64}$/);
		assert.equal(up.record.pdq_quality, 100);
		// The reference's hash of this file (tests/data/pdq/expected.txt).
		assert.ok(bits(up.record.pdq, 'd8f8f0cce0f4a84f0e370a22028f67f0b36e2ed596623e1d33e6b39c4e9c9b22') <= 10);
		const got = await L.api(s, 'GET', `/v1/images/${up.record.id}`);
		assert.equal(got.json.result.pdq, up.record.pdq);
		assert.equal(got.json.result.pdq_quality, 100);
	});
});

describe('hash lists', () => {
	test('create, list, import, extend, delete; bad input refused', { timeout: T }, async () => {
		const s = await start();
		const l = await createList(s, { name: 'known-1', action: 'block' });
		assert.equal(l.threshold, 31);
		assert.equal(l.action, 'block');
		assert.equal(l.count, 0);

		let res = await L.api(s, 'POST', '/v1/hashlists', { name: 'known-1', action: 'flag' });
		assert.equal(res.status, 409, L.show(res));
		for (const bad of [{ name: 'x', action: 'delete' }, { name: 'a/b', action: 'flag' },
			{ name: 'x', action: 'flag', threshold: 64 }, { name: 'x', action: 'flag', threshold: '3' },
			{ action: 'flag' }]) {
			res = await L.api(s, 'POST', '/v1/hashlists', bad);
			assert.equal(res.status, 400, L.show(res));
			assert.equal(L.errCode(res), 'invalid_request');
		}
		res = await L.req(s, 'POST', '/v1/hashlists', { body: '{"name":"n","action":"flag"}' });
		assert.equal(res.status, 401);

		const h1 = 'd8f8f0cce0f4a84f0e370a22028f67f0b36e2ed596623e1d33e6b39c4e9c9b22';
		const h2 = '54A977C221D14C1C43BA5E6E21D4A13989A3553F1462611CBB85FDA7BE83B677';
		res = await importText(s, 'known-1', `# two hashes\n${h1}\r\n\n${h2}\n${h1}\n`);
		assert.equal(res.status, 200, L.show(res));
		assert.equal(res.json.result.added, 2);
		assert.equal(res.json.result.read, 3);
		assert.equal(res.json.result.count, 2);
		res = await importText(s, 'known-1', `hash,quality,path\n"${h2}",100,a.jpg\n7,cfb2009ddd21c6dab0046a7745b5984757a8a4535b3377aea2591d32b33ff940\n`, 'text/csv');
		assert.equal(res.status, 200, L.show(res));
		assert.equal(res.json.result.added, 1);
		assert.equal(res.json.result.count, 3);

		res = await importText(s, 'known-1', `${h1}\nnot a hash\n`);
		assert.equal(res.status, 400, L.show(res));
		assert.equal(L.errCode(res), 'invalid_hash_list');
		assert.match(L.errMessage(res), /line 2/);
		res = await importText(s, 'nope', `${h1}\n`);
		assert.equal(res.status, 404, L.show(res));

		await createList(s, { name: 'flag.me', action: 'flag', threshold: 10 });
		res = await L.api(s, 'GET', '/v1/hashlists');
		assert.deepEqual(res.json.result.hashlists.map((x) => [x.name, x.action, x.threshold, x.count]),
			[['flag.me', 'flag', 10, 0], ['known-1', 'block', 31, 3]]);
		res = await L.api(s, 'GET', '/v1/hashlists/known-1');
		assert.equal(res.json.result.count, 3);

		res = await L.api(s, 'DELETE', '/v1/hashlists/known-1');
		assert.equal(res.status, 200, L.show(res));
		res = await L.api(s, 'GET', '/v1/hashlists/known-1');
		assert.equal(res.status, 404);
		res = await L.api(s, 'DELETE', '/v1/hashlists/known-1');
		assert.equal(res.status, 404);
		res = await L.api(s, 'PUT', '/v1/hashlists/flag.me');
		assert.equal(res.status, 405);
		// The daemon is still up and serving.
		assert.equal((await L.req(s, 'GET', '/healthz')).status, 200);
	});

	test('a blocked image is caught again resized, re-encoded or rotated; unrelated images pass', { timeout: T }, async () => {
		const dataDir = await L.tmpDir();
		let s = await start([], { dataDir });
		const orig = await L.upload(s, BRIDGE);
		assert.equal(orig.status, 201, L.show(orig));
		const copies = {
			resized: await copyOf(s, orig.record.id, 'width=700,format=jpeg,quality=70'),
			reencoded: await copyOf(s, orig.record.id, 'format=webp,quality=50'),
			small: await copyOf(s, orig.record.id, 'width=256,format=png'),
			rotated: await copyOf(s, orig.record.id, 'rotate=90,width=600,format=jpeg'),
		};
		await createList(s, { name: 'abuse', action: 'block' });
		const res = await importText(s, 'abuse', `${orig.record.pdq}\n`);
		assert.equal(res.status, 200, L.show(res));

		// Persisted: the list still blocks after a restart.
		await s.kill();
		s = await start([], { dataDir });
		for (const [what, bytes] of Object.entries(copies)) {
			const up = await L.upload(s, bytes, { filename: `${what}.bin` });
			assert.equal(up.status, 422, `${what}: ${L.show(up)}`);
			assert.equal(L.errCode(up), 'content_blocked');
			assert.match(L.errMessage(up), /hashlist:abuse/);
		}
		const other = await L.upload(s, OTHER);
		assert.equal(other.status, 201, L.show(other));
		assert.equal(other.record.status, 'approved');
	});

	test('quarantine keeps the record blocked with list and distance; flag lists queue for review', { timeout: T }, async () => {
		const s = await start(['--moderation-blocked', 'quarantine']);
		const orig = await L.upload(s, BRIDGE);
		const copy = await copyOf(s, orig.record.id, 'width=500,format=jpeg,quality=60');
		await createList(s, { name: 'block-list', action: 'block' });
		await createList(s, { name: 'flag-list', action: 'flag', threshold: 20 });
		await importText(s, 'block-list', `${orig.record.pdq}\n`);
		await importText(s, 'flag-list', `${orig.record.pdq}\n`);

		let up = await L.upload(s, copy);
		assert.equal(up.status, 201, L.show(up));
		assert.equal(up.record.status, 'blocked');
		const m = up.record.moderation;
		assert.equal(m.verdict, 'block');
		assert.equal(m.rule, 'hashlist:block-list');
		assert.equal(m.hashlist.list, 'block-list');
		assert.equal(m.hashlist.action, 'block');
		assert.equal(m.hashlist.hash, orig.record.pdq);
		assert.equal(m.hashlist.distance, bits(up.record.pdq, orig.record.pdq));
		assert.ok(m.hashlist.distance <= 31);

		const del = await L.api(s, 'DELETE', '/v1/hashlists/block-list');
		assert.equal(del.status, 200);
		up = await L.upload(s, copy);
		assert.equal(up.status, 201, L.show(up));
		assert.equal(up.record.status, 'flagged');
		assert.equal(up.record.moderation.hashlist.list, 'flag-list');
		const q = await L.api(s, 'GET', '/v1/moderation/queue?status=flagged');
		assert.ok(q.json.result.images.some((r) => r.id === up.record.id));
	});

	test('hashes of quality under 50 are never matched nor indexed', { timeout: T }, async () => {
		const s = await start();
		const flat = L.encodePng(96, 96, Buffer.alloc(96 * 96 * 3, 128));
		const first = await L.upload(s, flat);
		assert.equal(first.status, 201, L.show(first));
		assert.ok(first.record.pdq_quality < 50, `quality ${first.record.pdq_quality}`);
		await createList(s, { name: 'flat', action: 'block', threshold: 63 });
		await importText(s, 'flat', `${first.record.pdq}\n`);
		const again = await L.upload(s, flat);
		assert.equal(again.status, 201, L.show(again));
		assert.equal(again.record.status, 'approved');
		// Nor indexed for /similar: every flat image hashes alike.
		assert.equal(again.record.pdq, first.record.pdq);
		const sim = await L.api(s, 'GET', `/v1/images/${first.record.id}/similar?distance=0`);
		assert.equal(sim.status, 200, L.show(sim));
		assert.deepEqual(sim.json.result.images, []);
	});
});

describe('similar images', () => {
	test('resized and re-encoded copies are found nearest first; others and deleted ones are not', { timeout: T }, async () => {
		const dataDir = await L.tmpDir();
		let s = await start([], { dataDir });
		const orig = await L.upload(s, BRIDGE);
		const id = orig.record.id;
		const resized = await L.upload(s, await copyOf(s, id, 'width=400,format=jpeg'));
		const reenc = await L.upload(s, await copyOf(s, id, 'format=avif,quality=40'));
		const other = await L.upload(s, OTHER);
		for (const u of [resized, reenc, other]) assert.equal(u.status, 201, L.show(u));

		// Survives a restart: the index lives in the metadata store.
		await s.kill();
		s = await start([], { dataDir });
		let res = await L.api(s, 'GET', `/v1/images/${id}/similar?distance=31`);
		assert.equal(res.status, 200, L.show(res));
		const found = res.json.result.images;
		const ids = found.map((r) => r.id);
		assert.ok(ids.includes(resized.record.id), L.show(res));
		assert.ok(ids.includes(reenc.record.id), L.show(res));
		assert.ok(!ids.includes(other.record.id));
		assert.ok(!ids.includes(id), 'the image itself is not listed');
		for (let i = 1; i < found.length; i++) assert.ok(found[i - 1].distance <= found[i].distance);
		for (const r of found) assert.equal(r.distance, bits(r.pdq, orig.record.pdq));

		res = await L.api(s, 'GET', `/v1/images/${id}/similar?distance=31&limit=1`);
		assert.equal(res.json.result.images.length, 1);
		assert.equal(res.json.result.images[0].id, found[0].id);

		const del = await L.api(s, 'DELETE', `/v1/images/${resized.record.id}`);
		assert.equal(del.status, 200);
		res = await L.api(s, 'GET', `/v1/images/${id}/similar?distance=31`);
		assert.ok(!res.json.result.images.some((r) => r.id === resized.record.id));

		for (const q of ['distance=65', 'distance=-1', 'distance=x', 'limit=0']) {
			res = await L.api(s, 'GET', `/v1/images/${id}/similar?${q}`);
			assert.equal(res.status, 400, L.show(res));
		}
		res = await L.api(s, 'GET', '/v1/images/nope/similar');
		assert.equal(res.status, 404);
		res = await L.req(s, 'GET', `/v1/images/${id}/similar`);
		assert.equal(res.status, 401);
	});
});

describe('async moderation and older images', () => {
	test('async mode: a listed upload is decided at once; one listed while it waited gets the action from the runner', { timeout: T }, async () => {
		// Each background classification waits 5 s first (a test hook),
		// so the list below is made while the upload is still pending.
		const s = await L.startServer({ args: ['--moderation-mode', 'async', '--moderation-blocked', 'quarantine'],
			env: { PICTOR_TEST_JOB_DELAY_MS: String(5000 * L.TIME_SCALE) } });
		servers.push(s);
		const waiting = await L.upload(s, BRIDGE);
		assert.equal(waiting.status, 202, L.show(waiting));
		assert.equal(waiting.record.pdq.length, 64);
		await createList(s, { name: 'late', action: 'block' });
		const imp = await importText(s, 'late', `${waiting.record.pdq}\n`);
		assert.equal(imp.status, 200, L.show(imp));
		assert.equal((await L.api(s, 'GET', `/v1/images/${waiting.record.id}`)).json.result.status, 'pending',
			'the background classification has not run yet');

		// The same bytes again: decided at the upload, as in sync mode.
		const again = await L.upload(s, BRIDGE);
		assert.equal(again.status, 201, L.show(again));
		assert.equal(again.record.status, 'blocked');
		assert.equal(again.record.moderation.hashlist.list, 'late');

		// The one that waited: the runner checks the lists as they are now.
		const rec = await settled(s, waiting.record.id);
		assert.equal(rec.status, 'blocked', JSON.stringify(rec.moderation));
		assert.equal(rec.moderation.rule, 'hashlist:late');
		assert.equal(rec.moderation.hashlist.distance, 0);
		assert.ok(rec.moderation.model, 'classified as well');
	});

	test('images stored with --pdq off get their hash from a pdq_missing re-classification and are found by /similar', { timeout: T }, async () => {
		const dataDir = await L.tmpDir();
		let s = await L.startServer({ args: ['--pdq', 'off'], dataDir });
		servers.push(s);
		const old = await L.upload(s, BRIDGE);
		assert.equal(old.status, 201, L.show(old));
		assert.equal(old.record.pdq, undefined);
		await s.kill();
		s = await L.startServer({ dataDir });
		servers.push(s);
		const fresh = await L.upload(s, await copyOf(s, old.record.id, 'width=400,format=jpeg'));
		assert.equal(fresh.status, 201, L.show(fresh));
		let sim = await L.api(s, 'GET', `/v1/images/${fresh.record.id}/similar?distance=31`);
		assert.deepEqual(sim.json.result.images, []);

		const bad = await L.api(s, 'POST', '/v1/moderation/reclassify', { pdq_missing: 1 });
		assert.equal(bad.status, 400, L.show(bad));
		const r = await L.api(s, 'POST', '/v1/moderation/reclassify', { pdq_missing: true });
		assert.equal(r.status, 202, L.show(r));
		assert.equal(r.json.result.filter.pdq_missing, true);
		const j = await waitFor(async () => {
			const g = (await L.api(s, 'GET', `/v1/moderation/reclassify/${r.json.result.id}`)).json.result;
			return g.state === 'done' && g;
		});
		assert.equal(j.progress.total, 2);
		assert.equal(j.outcomes.unmatched, 1, 'the image with a hash is left alone');
		const rec = (await L.api(s, 'GET', `/v1/images/${old.record.id}`)).json.result;
		assert.equal(rec.pdq.length, 64);
		assert.ok(rec.pdq_quality >= 50);
		sim = await L.api(s, 'GET', `/v1/images/${fresh.record.id}/similar?distance=31`);
		assert.deepEqual(sim.json.result.images.map((i) => i.id), [old.record.id]);
		assert.equal(sim.json.result.images[0].distance, bits(rec.pdq, fresh.record.pdq));
	});
});
