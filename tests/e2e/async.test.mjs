// Async moderation: the same verdict metrics as sync mode plus the queue,
// and what `refuse` means once an upload has already been accepted.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as L from './lib.mjs';
import { gifFrame, joinGif } from './gif.mjs';

const T = 120000 * L.TIME_SCALE;
const RGB = path.join(L.INPUTS, 'rgb.jpg');
const servers = [];
after(async () => {
	for (const s of servers) await s.kill();
});

const waitFor = L.waitFor;

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
		const gate = path.join(await L.tmpDir(), 'gate');
		const s = await L.startServer({ args: ['--moderation-mode', 'async',
			'--moderation-policy', 'no-neutral=block: neutral>=0.5'], env: { PICTOR_TEST_JOB_GATE: gate } });
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
		const thumb = await L.api(s, 'GET', '/v1/images/tomb-1/thumbnail');
		assert.equal(thumb.status, 404, L.show(thumb));
		assert.equal(L.errCode(thumb), 'original_deleted');
		assert.deepEqual(L.blobNames(s.dataDir), [], 'no bytes kept');
		const img = await L.req(s, 'GET', '/img/tomb-1/public');
		assert.equal(img.status, 404);
		assert.equal(L.errCode(img), 'not_available');
		const audit = await L.api(s, 'GET', '/v1/audit?image=tomb-1');
		const e = audit.json.result.entries;
		assert.deepEqual(e.map((x) => x.action), ['upload', 'verdict']);
		assert.equal(e[1].actor.id, 'system');
		assert.deepEqual([e[1].before.status, e[1].after.status, e[1].after.original_deleted], ['pending', 'blocked', true]);
		// The same bytes uploaded again under another id are stored anew
		// (looked at while the test-only gate holds its classification).
		fs.writeFileSync(gate, '');
		const again = await L.upload(s, RGB, { id: 'tomb-2' });
		assert.equal(again.status, 202, L.show(again));
		assert.deepEqual(L.blobNames(s.dataDir), [again.record.sha256]);
		fs.unlinkSync(gate);
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

	test('while the runner is busy: approving a pending image records its scores; a lost original is flagged with its webhook', { timeout: T }, async () => {
		// A 128-frame animation, every frame classified, keeps the one
		// runner busy: the images queued behind it stay pending
		// meanwhile. The test-only gate holds the runner on it until
		// every step is done, however slow the machine.
		const hook = await L.webhookReceiver();
		servers.push({ kill: hook.close });
		const got = hook.events;
		const gate = path.join(await L.tmpDir(), 'gate');
		const s = await L.startServer({ args: ['--moderation-mode', 'async', '--moderation-frames', '128',
			'--webhook-url', hook.url, '--webhook-secret', 'whsec-a'],
		env: { PICTOR_TEST_JOB_GATE: gate } });
		servers.push(s);
		const still = await L.upload(s, path.join(L.CORPUS, 'coffee.png'));
		assert.equal(still.status, 202, L.show(still));
		await settled(s, still.record.id);
		const frame = gifFrame((await L.req(s, 'GET', `/cdn-cgi/image/w=224,h=224,fit=cover,f=gif/${still.record.id}`)).body);
		const long = joinGif(Array(128).fill(frame));

		fs.writeFileSync(gate, '');
		const busy = await L.upload(s, long, { filename: 'long.gif' });
		assert.equal(busy.status, 202, L.show(busy));
		// Each step at once, while the runner works on the animation.
		const a = await L.upload(s, RGB, { id: 'pend-approve' });
		assert.equal(a.record.status, 'pending');
		const rv = await L.api(s, 'POST', '/v1/images/pend-approve/moderation',
			{ action: 'approve', reviewer: 'erin', expected_status: 'pending' });
		assert.equal(rv.status, 200, `still queued behind the animation: ${L.show(rv)}`);
		// The original of another goes missing before its turn.
		const b = await L.upload(s, path.join(L.INPUTS, 'png16.png'), { id: 'pend-lost' });
		assert.equal(b.record.status, 'pending');
		assert.ok(L.blobNames(s.dataDir).includes(b.record.sha256), 'the original in the blob store');
		L.blobDelete(s.dataDir, b.record.sha256);
		fs.unlinkSync(gate);

		const rec = rv.json.result;
		assert.equal(rec.status, 'approved');
		assert.equal(rec.moderation.verdict, 'approve');
		assert.ok(rec.moderation.policy_version, JSON.stringify(rec.moderation));
		assert.deepEqual(Object.keys(rec.moderation.scores).sort(), ['drawing', 'hentai', 'neutral', 'porn', 'sexy']);
		assert.deepEqual([rec.audit.at(-1).before, rec.audit.at(-1).after, rec.audit.at(-1).who], ['pending', 'approved', 'erin']);

		const lost = await settled(s, 'pend-lost');
		assert.equal(lost.status, 'flagged');
		assert.equal(lost.moderation.rule, 'classification_failed');
		const ev = await waitFor(() => got.find((e) => e.id === 'pend-lost'));
		assert.deepEqual([ev.event, ev.status, ev.rule], ['flag', 'flagged', 'classification_failed']);
		assert.ok(ev.error.length > 0, JSON.stringify(ev));
		assert.ok(ev.seq > 0 && ev.event_id);
		// The approved one was decided by a person: no verdict event.
		assert.equal(got.filter((e) => e.id === 'pend-approve' && e.event !== 'review').length, 0);
		assert.equal((await settled(s, busy.record.id)).moderation.frames.checked, 128);
	});
});
