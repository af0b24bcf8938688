// Reviews that cannot silently overwrite each other, and strict review,
// PATCH and list requests.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 120000 * L.TIME_SCALE;
const RGB = path.join(L.INPUTS, 'rgb.jpg');
let s;
before(async () => {
	// Every corpus photo scores high on "neutral": this policy flags them.
	s = await L.startServer({ args: ['--moderation-policy', 'look=flag: neutral>=0.5'] });
});
after(async () => {
	await s?.kill();
});

// Each test its own bytes: reviews are remembered by content.
async function flagged(id, file) {
	const up = await L.upload(s, path.join(L.CORPUS, file), { id });
	assert.equal(up.status, 201, L.show(up));
	assert.equal(up.record.status, 'flagged');
	return up.record;
}

describe('two reviewers', () => {
	test('the stale one gets 409 conflict with the current state (If-Match)', { timeout: T }, async () => {
		await flagged('race-1', 'astronaut.png');
		const seenA = await L.api(s, 'GET', '/v1/images/race-1');
		const seenB = await L.api(s, 'GET', '/v1/images/race-1');
		const etag = seenA.headers.get('etag');
		assert.match(etag, /^"r[0-9a-f]+"$/);
		assert.equal(seenB.headers.get('etag'), etag);
		assert.equal(seenA.json.result.etag, etag);
		const a = await L.api(s, 'POST', '/v1/images/race-1/moderation', { action: 'approve', reviewer: 'alice' },
			{ headers: { 'If-Match': etag } });
		assert.equal(a.status, 200, L.show(a));
		assert.notEqual(a.headers.get('etag'), etag);
		const b = await L.api(s, 'POST', '/v1/images/race-1/moderation', { action: 'block', reviewer: 'bob' },
			{ headers: { 'If-Match': etag } });
		assert.equal(b.status, 409, L.show(b));
		assert.equal(L.errCode(b), 'conflict');
		assert.equal(b.json.result.status, 'approved', 'the answer carries the current state');
		assert.equal(b.json.result.audit.at(-1).who, 'alice');
		const now = await L.api(s, 'GET', '/v1/images/race-1');
		assert.equal(now.json.result.status, 'approved');
		assert.equal(now.json.result.audit.length, 1);
	});

	test('expected_status in the body works the same way', { timeout: T }, async () => {
		await flagged('race-2', 'Gulp.png');
		const a = await L.api(s, 'POST', '/v1/images/race-2/moderation', { action: 'block', expected_status: 'flagged' });
		assert.equal(a.status, 200, L.show(a));
		const b = await L.api(s, 'POST', '/v1/images/race-2/moderation', { action: 'approve', expected_status: 'flagged' });
		assert.equal(b.status, 409, L.show(b));
		assert.equal(b.json.result.status, 'blocked');
		assert.match(L.errMessage(b), /blocked, not flagged/);
	});
});

describe('strict requests', () => {
	test('review: non-string reviewer, unknown field or missing action -> 400 naming the field', { timeout: T }, async () => {
		await flagged('strict-1', 'Spring.png');
		for (const [body, field] of [
			[{ action: 'approve', reviewer: 42 }, 'reviewer'],
			[{ action: 'approve', note: ['x'] }, 'note'],
			[{ action: 'approve', expected_status: null }, 'expected_status'],
			[{ action: 'approve', status: 'approved' }, 'status'],
			[{ note: 'no action' }, 'action'],
		]) {
			const r = await L.api(s, 'POST', '/v1/images/strict-1/moderation', body);
			assert.equal(r.status, 400, L.show(r));
			assert.match(L.errMessage(r), new RegExp(`"${field}"`));
		}
		const r = await L.api(s, 'GET', '/v1/images/strict-1');
		assert.equal(r.json.result.status, 'flagged', 'nothing changed');
	});

	test('PATCH of a field that cannot be patched -> 400 naming it, nothing changed', { timeout: T }, async () => {
		await flagged('strict-2', 'Stripes.png');
		for (const field of ['status', 'filename', 'moderation']) {
			const r = await L.api(s, 'PATCH', '/v1/images/strict-2', { [field]: 'approved', metadata: { a: 1 } });
			assert.equal(r.status, 400, L.show(r));
			assert.match(L.errMessage(r), new RegExp(`"${field}"`));
		}
		const r = await L.api(s, 'GET', '/v1/images/strict-2');
		assert.equal(r.json.result.status, 'flagged');
		assert.deepEqual(r.json.result.meta, {});
	});

	test('GET /v1/images?status= filters; unknown filters and statuses -> 400', { timeout: T }, async () => {
		const s2 = await L.startServer({ args: ['--moderation-policy', 'look=flag: neutral>=0.5 & drawing<0.3'] });
		try {
			const ids = { f1: 'rgb.jpg', f2: 'rgb.jpg', a1: 'motorcycle_left.png' };
			for (const [id, f] of Object.entries(ids)) {
				const up = await L.upload(s2, f.endsWith('.png') ? path.join(L.CORPUS, f) : RGB, { id });
				assert.equal(up.status, 201, L.show(up));
			}
			const list = async (q) => (await L.api(s2, 'GET', `/v1/images?${q}`)).json.result.images.map((x) => x.id).sort();
			assert.deepEqual(await list('status=flagged'), ['f1', 'f2']);
			assert.deepEqual(await list('status=approved'), ['a1']);
			assert.deepEqual(await list('status=blocked'), []);
			assert.deepEqual(await list('status=flagged&per_page=1'), ['f2'], 'newest first');
			let r = await L.api(s2, 'GET', '/v1/images?status=flagged&per_page=1');
			r = await L.api(s2, 'GET', `/v1/images?status=flagged&per_page=1&continuation_token=${r.json.result.continuation_token}`);
			assert.deepEqual(r.json.result.images.map((x) => x.id), ['f1']);
			for (const [q, word] of [['status=gone', 'status'], ['owner=bob', 'owner'], ['stauts=flagged', 'stauts']]) {
				r = await L.api(s2, 'GET', `/v1/images?${q}`);
				assert.equal(r.status, 400, L.show(r));
				assert.match(L.errMessage(r), new RegExp(word));
			}
		} finally {
			await s2.kill();
		}
	});
});

describe('decisions remembered by content', () => {
	test('a review that blocks bytes blocks their re-upload; an approve is remembered too', { timeout: T }, async () => {
		const q = await L.startServer({ args: ['--moderation-policy', 'look=flag: neutral>=0.5', '--moderation-blocked', 'quarantine'] });
		try {
			const first = await L.upload(q, RGB, { id: 'mem-1' });
			assert.equal(first.record.status, 'flagged');
			const rv = await L.api(q, 'POST', '/v1/images/mem-1/moderation', { action: 'block', reviewer: 'carol' });
			assert.equal(rv.status, 200, L.show(rv));
			const again = await L.upload(q, RGB, { id: 'mem-2' });
			assert.equal(again.status, 201, L.show(again));
			assert.equal(again.record.status, 'blocked');
			const m = again.record.moderation;
			assert.equal(m.rule, 'content_decision');
			assert.deepEqual([m.decision.image, m.decision.decision, m.decision.by], ['mem-1', 'blocked', 'carol']);
			assert.ok(m.scores.neutral > 0.5, 'the classifier still ran and its scores are kept');
			assert.equal((await L.req(q, 'GET', '/img/mem-2/public')).status, 404);

			const coffee = path.join(L.CORPUS, 'coffee.png');
			const c1 = await L.upload(q, coffee, { id: 'mem-3' });
			assert.equal(c1.record.status, 'flagged');
			assert.equal((await L.api(q, 'POST', '/v1/images/mem-3/moderation', { action: 'approve' })).status, 200);
			const c2 = await L.upload(q, coffee, { id: 'mem-4' });
			assert.equal(c2.record.status, 'approved');
			assert.equal(c2.record.moderation.rule, 'content_decision');
			assert.equal(c2.record.moderation.decision.image, 'mem-3');
		} finally {
			await q.kill();
		}
		// Refuse mode: the re-upload is refused naming the decision's rule.
		const r = await L.startServer({ args: ['--moderation-policy', 'look=flag: neutral>=0.5'] });
		try {
			await L.upload(r, RGB, { id: 'mem-5' });
			assert.equal((await L.api(r, 'POST', '/v1/images/mem-5/moderation', { action: 'block' })).status, 200);
			const up = await L.upload(r, RGB, { id: 'mem-6' });
			assert.equal(up.status, 422, L.show(up));
			assert.equal(L.errCode(up), 'content_blocked');
			assert.match(L.errMessage(up), /content_decision/);
		} finally {
			await r.kill();
		}
	});

	test('safety first: a hash-list match outranks a remembered approve; a remembered block outranks a flag list', { timeout: T }, async () => {
		const q = await L.startServer({ args: ['--moderation-policy', 'look=flag: neutral>=0.5', '--moderation-blocked', 'quarantine'] });
		const list = async (name, action, hash) => {
			assert.equal((await L.api(q, 'POST', '/v1/hashlists', { name, action })).status, 201);
			const r = await L.req(q, 'POST', `/v1/hashlists/${name}/hashes`, {
				auth: true, headers: { 'Content-Type': 'text/plain' }, body: `${hash}\n` });
			assert.equal(r.status, 200, L.show(r));
		};
		try {
			// Approved by a person, then listed: the list wins, the
			// decision is still shown beside it.
			const coffee = path.join(L.CORPUS, 'coffee.png');
			const a = await L.upload(q, coffee, { id: 'hl-1' });
			assert.equal(a.record.status, 'flagged', L.show(a));
			assert.equal((await L.api(q, 'POST', '/v1/images/hl-1/moderation', { action: 'approve', reviewer: 'dan' })).status, 200);
			await list('known-bad', 'block', a.record.pdq);
			let up = await L.upload(q, coffee, { id: 'hl-2' });
			assert.equal(up.status, 201, L.show(up));
			assert.equal(up.record.status, 'blocked');
			let m = up.record.moderation;
			assert.equal(m.rule, 'hashlist:known-bad');
			assert.equal(m.verdict, 'block');
			assert.equal(m.hashlist.list, 'known-bad');
			assert.deepEqual([m.decision.image, m.decision.decision, m.decision.by], ['hl-1', 'approved', 'dan']);
			assert.equal((await L.api(q, 'DELETE', '/v1/hashlists/known-bad')).status, 200);
			await list('look-again', 'flag', a.record.pdq);
			up = await L.upload(q, coffee, { id: 'hl-3' });
			assert.equal(up.record.status, 'flagged', 'a flag list also outranks a remembered approve');
			assert.equal(up.record.moderation.hashlist.list, 'look-again');
			assert.equal(up.record.moderation.decision.decision, 'approved');

			// Blocked by a person: the block stands over a flag list.
			assert.equal((await L.api(q, 'POST', '/v1/images/hl-3/moderation', { action: 'block' })).status, 200);
			up = await L.upload(q, coffee, { id: 'hl-4' });
			assert.equal(up.record.status, 'blocked');
			assert.equal(up.record.moderation.rule, 'content_decision');
			assert.equal(up.record.moderation.hashlist.list, 'look-again');
		} finally {
			await q.kill();
		}
	});
});
