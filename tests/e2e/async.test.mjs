// Async moderation: the same verdict metrics as sync mode plus the queue,
// and what `refuse` means once an upload has already been accepted.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 120000 * L.TIME_SCALE;
const RGB = path.join(L.INPUTS, 'rgb.jpg');
const servers = [];
after(async () => {
	for (const s of servers) await s.kill();
});

async function waitFor(fn, ms = 30000) {
	const end = Date.now() + ms * L.TIME_SCALE;
	for (;;) {
		const v = await fn();
		if (v) return v;
		if (Date.now() > end) throw new Error('timed out waiting');
		await L.sleep(100);
	}
}

function metric(text, name) {
	const m = text.match(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm'));
	return m ? Number(m[1]) : undefined;
}

async function settled(s, id) {
	return waitFor(async () => {
		const r = await L.api(s, 'GET', `/v1/images/${id}`);
		return r.json.result.status !== 'pending' && r.json.result;
	});
}

describe('async moderation', () => {
	test('verdicts reached in the background count like sync ones; queue gauges', { timeout: T }, async () => {
		// rgb.jpg scores drawing ~0.05, motorcycle_left.png ~0.96.
		const s = await L.startServer({ args: ['--moderation-mode', 'async', '--moderation-blocked', 'quarantine',
			'--moderation-policy', 'drawn=block: drawing>=0.6; look=flag: neutral>=0.5'] });
		servers.push(s);
		const a = await L.upload(s, RGB, { id: 'as-flag' });
		const b = await L.upload(s, path.join(L.CORPUS, 'motorcycle_left.png'), { id: 'as-block' });
		assert.equal(a.status, 202, L.show(a));
		assert.equal(b.status, 202, L.show(b));
		assert.equal((await settled(s, 'as-flag')).status, 'flagged');
		assert.equal((await settled(s, 'as-block')).status, 'blocked');
		const m = (await L.req(s, 'GET', '/metrics')).text;
		assert.equal(metric(m, 'pictor_classified_total'), 2);
		assert.equal(metric(m, 'pictor_flagged_total'), 1);
		assert.equal(metric(m, 'pictor_blocked_total'), 1);
		assert.equal(metric(m, 'pictor_moderation_queue_length'), 0);
		assert.equal(metric(m, 'pictor_moderation_oldest_pending_seconds'), 0);
		// Quarantine keeps the blocked original for a person.
		const blob = await L.api(s, 'GET', '/v1/images/as-block/blob');
		assert.equal(blob.status, 200);
	});

	test('refuse in async mode: a blocked image loses its original and stays as an audited tombstone', { timeout: T }, async () => {
		const s = await L.startServer({ args: ['--moderation-mode', 'async',
			'--moderation-policy', 'no-neutral=block: neutral>=0.5'] });
		servers.push(s);
		const up = await L.upload(s, RGB, { id: 'tomb-1' });
		assert.equal(up.status, 202, L.show(up));
		const rec = await settled(s, 'tomb-1');
		assert.equal(rec.status, 'blocked');
		assert.equal(rec.original_deleted, true);
		assert.equal(rec.moderation.rule, 'no-neutral');
		const blob = await L.api(s, 'GET', '/v1/images/tomb-1/blob');
		assert.equal(blob.status, 404, L.show(blob));
		assert.equal(L.errCode(blob), 'original_deleted');
		assert.equal(L.walk(path.join(s.dataDir, 'blobs')).length, 0, 'no bytes kept');
		const img = await L.req(s, 'GET', '/img/tomb-1/public');
		assert.equal(img.status, 403);
		const audit = await L.api(s, 'GET', '/v1/audit?image=tomb-1');
		const e = audit.json.result.entries;
		assert.deepEqual(e.map((x) => x.action), ['upload', 'verdict']);
		assert.equal(e[1].actor.id, 'system');
		assert.deepEqual([e[1].before.status, e[1].after.status, e[1].after.original_deleted], ['pending', 'blocked', true]);
		// The same bytes uploaded again under another id are stored anew.
		const again = await L.upload(s, RGB, { id: 'tomb-2' });
		assert.equal(again.status, 202, L.show(again));
		assert.equal(L.walk(path.join(s.dataDir, 'blobs')).length, 1);
		// Deleting the tombstone keeps its history.
		assert.equal((await L.api(s, 'DELETE', '/v1/images/tomb-1')).status, 200);
		const after2 = await L.api(s, 'GET', '/v1/audit?image=tomb-1');
		assert.deepEqual(after2.json.result.entries.map((x) => x.action), ['upload', 'verdict', 'delete']);
		assert.equal((await settled(s, 'tomb-2')).status, 'blocked');
		const fsck = await s.stop();
		assert.equal(fsck, 0);
		const r = await L.runCli(['fsck', '--data', s.dataDir]);
		assert.equal(r.code, 0, r.stdout + r.stderr);
	});
});
