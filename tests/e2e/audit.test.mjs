// The audit log: every state change of an image, with who, when, before
// and after, kept after the image is deleted; filters, pages and the
// JSON-lines export.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 120000 * L.TIME_SCALE;
const RGB = path.join(L.INPUTS, 'rgb.jpg');
const servers = [];
after(async () => {
	for (const s of servers) await s.kill();
});

describe('audit log', () => {
	test('upload, metadata, signing, review and delete are audited and outlive the image', { timeout: T }, async () => {
		const s = await L.startServer({ args: ['--moderation-policy', 'look=flag: neutral>=0.5'] });
		servers.push(s);
		const t0 = new Date(Date.now() - 1000).toISOString();
		const up = await L.upload(s, RGB, { id: 'aud-1', metadata: { a: 1 } });
		assert.equal(up.status, 201, L.show(up));
		assert.equal(up.record.status, 'flagged');
		const other = await L.upload(s, RGB, { id: 'aud-2' });
		assert.equal(other.status, 201, L.show(other));
		let r = await L.api(s, 'PATCH', '/v1/images/aud-1', { metadata: { a: 2 } });
		assert.equal(r.status, 200, L.show(r));
		r = await L.api(s, 'PATCH', '/v1/images/aud-1', { requireSignedURLs: true });
		assert.equal(r.status, 200, L.show(r));
		r = await L.api(s, 'POST', '/v1/images/aud-1/moderation', { action: 'approve', note: 'fine', reviewer: 'alice' });
		assert.equal(r.status, 200, L.show(r));
		r = await L.api(s, 'DELETE', '/v1/images/aud-1');
		assert.equal(r.status, 200, L.show(r));
		assert.equal((await L.api(s, 'GET', '/v1/images/aud-1')).status, 404);

		r = await L.api(s, 'GET', '/v1/audit?image=aud-1');
		assert.equal(r.status, 200, L.show(r));
		const e = r.json.result.entries;
		assert.deepEqual(e.map((x) => x.action), ['upload', 'metadata', 'signing', 'review', 'delete']);
		assert.equal(e[0].after.status, 'flagged');
		assert.equal(e[0].after.rule, 'look');
		assert.deepEqual(e[1].before, { a: 1 });
		assert.deepEqual(e[1].after, { a: 2 });
		assert.deepEqual(e[2].after, { requireSignedURLs: true });
		assert.deepEqual([e[3].before.status, e[3].after.status, e[3].note], ['flagged', 'approved', 'fine']);
		assert.equal(e[3].actor.name, 'alice');
		assert.equal(e[4].before.status, 'approved');
		assert.equal(e[4].after, null);
		for (const x of e) {
			assert.equal(x.image, 'aud-1');
			assert.equal(x.actor.id, 'admin');
			assert.ok(Date.parse(x.at) >= Date.parse(t0), x.at);
		}

		// Filters: actor, since; all images in order; pages of two.
		r = await L.api(s, 'GET', '/v1/audit?actor=alice');
		assert.deepEqual(r.json.result.entries.map((x) => x.action), ['review']);
		r = await L.api(s, 'GET', `/v1/audit?since=${encodeURIComponent(new Date(Date.now() + 60000).toISOString())}`);
		assert.deepEqual(r.json.result.entries, []);
		const all = [];
		let token = null;
		for (let i = 0; i < 10; i++) {
			r = await L.api(s, 'GET', '/v1/audit?per_page=2' + (token ? `&continuation_token=${token}` : ''));
			assert.equal(r.status, 200, L.show(r));
			all.push(...r.json.result.entries);
			token = r.json.result.continuation_token;
			if (!token) break;
		}
		assert.equal(all.length, 6);
		assert.deepEqual(all.filter((x) => x.image === 'aud-2').map((x) => x.action), ['upload']);
		const ids = all.map((x) => x.id);
		assert.deepEqual([...ids].sort(), ids, 'chronological');

		// The export is the same entries as JSON lines.
		r = await L.api(s, 'GET', '/v1/audit/export?image=aud-1');
		assert.equal(r.status, 200);
		assert.match(r.headers.get('content-type'), /ndjson/);
		const lines = r.text.trim().split('\n').map((l) => JSON.parse(l));
		assert.deepEqual(lines, e);

		// Bad filters answer 400; the log needs the token.
		for (const q of ['since=yesterday', 'image=..%2F', 'continuation_token=zz']) {
			r = await L.api(s, 'GET', `/v1/audit?${q}`);
			assert.equal(r.status, 400, L.show(r));
		}
		r = await L.req(s, 'GET', '/v1/audit');
		assert.equal(r.status, 401);
	});

	test('retention: entries older than --audit-retention-days go at start, a deleted image\'s included; newer ones stay', { timeout: T }, async () => {
		// The third daemon runs ten days ahead, and an S3 store refuses
		// request signatures that far off (a real clock skew, which
		// Pictor must not hide): on S3 the originals of this test stay
		// in the data directory; the records still go to PostgreSQL.
		const local = L.S3 ? { PICTOR_BLOB: 'file' } : {};
		const a = await L.startServer({ args: ['--moderation-policy', 'look=flag: neutral>=0.5'], env: local });
		servers.push(a);
		assert.equal((await L.upload(a, RGB, { id: 'ret-1' })).status, 201);
		assert.equal((await L.api(a, 'POST', '/v1/images/ret-1/moderation', { action: 'approve' })).status, 200);
		assert.equal((await L.api(a, 'DELETE', '/v1/images/ret-1')).status, 200);
		assert.equal((await L.upload(a, path.join(L.INPUTS, 'png16.png'), { id: 'ret-2' })).status, 201);
		const all = (await L.api(a, 'GET', '/v1/audit?per_page=1000')).json.result.entries;
		assert.equal(all.length, 4);
		await a.stop();

		// A week's retention changes nothing today...
		const b = await L.startServer({ dataDir: a.dataDir, args: ['--audit-retention-days', '7'], env: local });
		servers.push(b);
		assert.equal((await L.api(b, 'GET', '/v1/audit?per_page=1000')).json.result.entries.length, 4);
		await b.stop();

		// ...and removes all four ten days later: the wall clock shifted
		// by an LD_PRELOAD shim (tests/e2e/timeshift.c).
		const dir = await L.tmpDir();
		const so = path.join(dir, 'timeshift.so');
		execFileSync('cc', ['-shared', '-fPIC', '-O1', '-o', so, path.join(L.ROOT, 'tests/e2e/timeshift.c'), '-ldl']);
		const c = await L.startServer({ dataDir: a.dataDir, args: ['--audit-retention-days', '7'],
			env: { ...local, LD_PRELOAD: so, TIMESHIFT_SECONDS: String(10 * 86400),
				ASAN_OPTIONS: `${process.env.ASAN_OPTIONS ?? ''}:verify_asan_link_order=0` } });
		servers.push(c);
		assert.ok(c.logs.some((l) => /audit retention removed 4 entries/.test(l.msg ?? '')), c.logText());
		assert.deepEqual((await L.api(c, 'GET', '/v1/audit?image=ret-1')).json.result.entries, []);
		assert.equal((await L.api(c, 'GET', '/v1/images/ret-2')).status, 200, 'records are not the audit log');
		assert.equal((await L.upload(c, RGB, { id: 'ret-3' })).status, 201);
		const left = (await L.api(c, 'GET', '/v1/audit?per_page=1000')).json.result.entries;
		assert.deepEqual(left.map((e) => [e.image, e.action]), [['ret-3', 'upload']]);
		assert.ok(left[0].at > new Date(Date.now() + 9 * 86400e3).toISOString(), left[0].at);
	});
});
