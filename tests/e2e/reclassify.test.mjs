// Re-classification: POST /v1/moderation/reclassify judges an existing
// collection again under the model and policy in force, as a durable
// background job. A changed verdict is audited and sent to the webhook
// like any other; a person's decision stands; a job killed half way
// resumes after the last image it finished; a job can be canceled.
//
// The animation: coffee.png, motorcycle_left.png, Garden.jpg, coffee.png
// (drawing ~0.00, ~0.96, ~0.82, ~0.00). Judged on a two-frame sample it
// shows coffee twice and is approved; judged on every frame it is not.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 180000 * L.TIME_SCALE;
const BLOCK = ['--moderation-policy', 'drawn=block: drawing>=0.6', '--moderation-blocked', 'quarantine'];
const cleanup = [];
after(async () => {
	for (const f of cleanup) await f();
});
async function start(args, dataDir) {
	const s = await L.startServer({ args, dataDir });
	cleanup.push(() => s.kill());
	return s;
}

const waitFor = (fn, ms = 60000) => L.waitFor(fn, ms, 50);

async function receiver() {
	const r = await L.webhookReceiver();
	cleanup.push(r.close);
	return { url: r.url, got: r.events };
}

const job = async (s, id) => (await L.api(s, 'GET', `/v1/moderation/reclassify/${id}`)).json.result;
const done = (s, id) => waitFor(async () => {
	const j = await job(s, id);
	return j.state !== 'running' && j;
});
const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);

let gif;
before(async () => {
	const s = await start(['--moderation', 'off']);
	gif = await L.corpusGif(s, ['coffee.png', 'motorcycle_left.png', 'Garden.jpg'], [0, 1, 2, 0]);
	await s.kill();
});

describe('reclassify', () => {
	test('a new policy and every frame judged: the animation a sample approved is blocked, a flag becomes a block, audited and announced; a review stands', { timeout: T }, async () => {
		// Before: a policy that flags drawings, and a two-frame budget, so
		// the animation is judged on its first and last frame only.
		const a = await start(['--moderation-policy', 'drawn=flag: drawing>=0.6', '--moderation-frames', '2']);
		const oldPol = (await L.api(a, 'GET', '/v1/moderation/policy')).json.result.version;
		const anim = await L.upload(a, gif, { filename: 'four.gif' });
		assert.equal(anim.status, 201, L.show(anim));
		assert.equal(anim.record.status, 'approved');
		assert.deepEqual(anim.record.moderation.frames, { total: 4, checked: 2, complete: false });
		const cup = await L.upload(a, path.join(L.CORPUS, 'coffee.png'));
		assert.equal(cup.record.status, 'approved', L.show(cup));
		const garden = await L.upload(a, path.join(L.CORPUS, 'Garden.jpg'));
		assert.equal(garden.record.status, 'flagged', L.show(garden));
		const moto = await L.upload(a, path.join(L.CORPUS, 'motorcycle_left.png'));
		assert.equal(moto.record.status, 'flagged', L.show(moto));
		const rv = await L.api(a, 'POST', `/v1/images/${garden.record.id}/moderation`, { action: 'approve', reviewer: 'ria' });
		assert.equal(rv.status, 200, L.show(rv));
		await a.stop();

		// After: a policy that blocks them, and the default budget, which
		// covers every frame.
		const hook = await receiver();
		const s = await start([...BLOCK, '--webhook-url', hook.url, '--webhook-secret', 'whsec-r'], a.dataDir);
		const pol = (await L.api(s, 'GET', '/v1/moderation/policy')).json.result;
		const r = await L.api(s, 'POST', '/v1/moderation/reclassify', { all: true });
		assert.equal(r.status, 202, L.show(r));
		const j0 = r.json.result;
		assert.match(j0.id, /^rc_[0-9a-f]{16}$/);
		assert.equal(r.headers.get('location'), `/v1/moderation/reclassify/${j0.id}`);
		assert.equal(j0.policy_version, pol.version);
		assert.notEqual(pol.version, oldPol);
		assert.equal(j0.progress.total, 4);

		const j = await done(s, j0.id);
		assert.equal(j.state, 'done');
		assert.deepEqual(j.progress, { total: 4, scanned: 4, remaining: 0 });
		assert.deepEqual(j.outcomes, { unmatched: 0, skipped: 0, changed: 2, unchanged: 1, kept_reviewed: 1, failed: 0 });
		assert.ok(j.finished);

		const rec = (await L.api(s, 'GET', `/v1/images/${anim.record.id}`)).json.result;
		assert.equal(rec.status, 'blocked');
		assert.equal(rec.moderation.rule, 'drawn');
		assert.equal(rec.moderation.policy_version, pol.version);
		assert.deepEqual(rec.moderation.frames, { total: 4, checked: 4, complete: true });
		assert.ok(rec.moderation.frame === 1 || rec.moderation.frame === 2, `deciding frame ${rec.moderation.frame}`);
		for (const q of ['public', 'anim=false']) {
			const d = await L.req(s, 'GET', `/img/${anim.record.id}/${q}`);
			assert.equal(d.status, 404, `${q}: ${L.show(d)}`);
			assert.equal(L.errCode(d), 'not_available');
		}
		const mr = (await L.api(s, 'GET', `/v1/images/${moto.record.id}`)).json.result;
		assert.deepEqual([mr.status, mr.moderation.rule, mr.moderation.policy_version], ['blocked', 'drawn', pol.version]);
		// The reviewed image keeps the person's decision, with new scores.
		const g = (await L.api(s, 'GET', `/v1/images/${garden.record.id}`)).json.result;
		assert.equal(g.status, 'approved');
		assert.equal(g.moderation.policy_version, pol.version);

		// Audit: the verdict change on the image, the job's start and end.
		let au = await L.api(s, 'GET', `/v1/audit?image=${anim.record.id}`);
		const last = au.json.result.entries.at(-1);
		assert.equal(last.action, 'verdict');
		assert.deepEqual([last.before.status, last.after.status, last.after.rule], ['approved', 'blocked', 'drawn']);
		assert.equal(last.actor.id, 'system');
		au = await L.api(s, 'GET', `/v1/audit?image=${cup.record.id}`);
		assert.deepEqual(au.json.result.entries.map((e) => e.action), ['upload'], 'an unchanged verdict is not a change');
		au = await L.api(s, 'GET', `/v1/audit?image=${moto.record.id}`);
		assert.deepEqual(au.json.result.entries.map((e) => [e.action, e.after.status]), [['upload', 'flagged'], ['verdict', 'blocked']]);
		assert.equal(au.json.result.entries[1].after.policy_version, pol.version);
		au = await L.api(s, 'GET', '/v1/audit?per_page=1000');
		const mine = au.json.result.entries.filter((e) => e.action === 'reclassify' && e.after.job === j0.id);
		assert.deepEqual(mine.map((e) => e.after.state), ['running', 'done']);
		assert.equal(mine[0].actor.id, 'admin');
		assert.equal(mine[1].after.n.changed, 2);

		// The webhook: one event per changed image.
		const ev = await waitFor(() => hook.got.find((e) => e.id === anim.record.id));
		assert.equal(ev.event, 'block');
		assert.equal(ev.status, 'blocked');
		assert.equal(ev.before, 'approved');
		assert.equal(ev.reclassify, j0.id);
		assert.equal(ev.moderation.rule, 'drawn');
		assert.ok(ev.seq > 0 && ev.event_id);
		const mev = await waitFor(() => hook.got.find((e) => e.id === moto.record.id));
		assert.deepEqual([mev.event, mev.before, mev.status], ['block', 'flagged', 'blocked']);
		assert.deepEqual(hook.got.filter((e) => e.reclassify).map((e) => e.id).sort(), [anim.record.id, moto.record.id].sort());

		const m = (await L.req(s, 'GET', '/metrics')).text;
		assert.match(m, /^# TYPE pictor_reclassify_images_total counter$/m);
		assert.match(m, /^pictor_reclassify_images_total\{outcome="changed"\} 2$/m);
		assert.match(m, /^pictor_reclassify_images_total\{outcome="kept_reviewed"\} 1$/m);
		assert.match(m, /^pictor_reclassify_remaining 0$/m);
		const list = await L.api(s, 'GET', '/v1/moderation/reclassify');
		assert.equal(list.json.result.jobs[0].id, j0.id);
	});

	test('killed half way, the job resumes after the last image it finished', { timeout: T }, async () => {
		// One percent of a core: after each image the job rests ~99 times
		// as long as the image took, so it is caught between images.
		const a = await start(['--reclassify-share', '1']);
		for (const f of ['rgb.jpg', 'png16.png', 'lossy.webp'])
			assert.equal((await L.upload(a, path.join(L.INPUTS, f))).status, 201);
		const r = await L.api(a, 'POST', '/v1/moderation/reclassify', { all: true });
		assert.equal(r.status, 202, L.show(r));
		const id = r.json.result.id;
		const seen = await waitFor(async () => {
			const j = await job(a, id);
			return j.progress.scanned >= 1 && j;
		});
		await a.kill();
		assert.equal(seen.state, 'running');
		assert.ok(seen.progress.scanned < 3, JSON.stringify(seen.progress));

		const s = await start([], a.dataDir);
		const j = await done(s, id);
		assert.equal(j.state, 'done');
		// Each image once: no image judged twice, none skipped.
		assert.deepEqual(j.progress, { total: 3, scanned: 3, remaining: 0 });
		assert.equal(sum(j.outcomes), 3);
		assert.equal(j.outcomes.unchanged, 3);
		const au = await L.api(s, 'GET', '/v1/audit?per_page=1000');
		assert.deepEqual(au.json.result.entries.filter((e) => e.action === 'reclassify').map((e) => e.after.state),
			['running', 'done']);
	});

	test('cancel, one job at a time, filters, and requests that answer 400', { timeout: T }, async () => {
		const s = await start(['--reclassify-share', '1']);
		for (const f of ['rgb.jpg', 'png16.png'])
			assert.equal((await L.upload(s, path.join(L.INPUTS, f))).status, 201);
		let r = await L.api(s, 'POST', '/v1/moderation/reclassify', { all: true });
		assert.equal(r.status, 202, L.show(r));
		const id = r.json.result.id;
		r = await L.api(s, 'POST', '/v1/moderation/reclassify', { all: true });
		assert.equal(r.status, 409, L.show(r));
		assert.equal(L.errCode(r), 'conflict');
		assert.match(L.errMessage(r), new RegExp(id));
		r = await L.api(s, 'POST', `/v1/moderation/reclassify/${id}/cancel`);
		assert.equal(r.status, 200, L.show(r));
		assert.equal(r.json.result.state, 'canceled');
		assert.equal(r.json.result.progress.remaining, 0);
		r = await L.api(s, 'POST', `/v1/moderation/reclassify/${id}/cancel`);
		assert.equal(r.status, 409, L.show(r));
		const c = await job(s, id);
		assert.equal(c.state, 'canceled');
		assert.ok(c.progress.scanned < 2);

		// Filters: nothing is flagged, and everything was judged under
		// the policy in force.
		for (const [body, want] of [[{ status: 'flagged' }, 2], [{ stale: true }, 2]]) {
			r = await L.api(s, 'POST', '/v1/moderation/reclassify', body);
			assert.equal(r.status, 202, L.show(r));
			const j = await done(s, r.json.result.id);
			assert.equal(j.outcomes.unmatched, want, JSON.stringify(j));
			assert.equal(j.progress.scanned, 2);
		}
		r = await L.api(s, 'POST', '/v1/moderation/reclassify', { uploaded_after: '2999-01-01T00:00:00Z' });
		assert.equal(r.status, 202, L.show(r));
		assert.equal(r.json.result.progress.total, 0);
		assert.equal((await done(s, r.json.result.id)).progress.scanned, 0);

		for (const [body, field] of [['{}', 'all'], ['[]', 'all'], ['{"all":false}', 'all'],
			['{"status":"pending"}', 'status'], ['{"nope":1}', 'nope'], ['{"uploaded_after":"yesterday"}', 'uploaded_after'],
			['{"stale":"yes"}', 'stale'], ['{"model":7}', 'model'],
			['{"uploaded_after":"2026-01-02T00:00:00Z","uploaded_before":"2026-01-01T00:00:00Z"}', 'uploaded_after']]) {
			r = await L.api(s, 'POST', '/v1/moderation/reclassify', body);
			assert.equal(r.status, 400, `${body}: ${L.show(r)}`);
			assert.equal(L.errCode(r), 'invalid_request');
			assert.ok(L.errMessage(r).includes(field), `${body}: ${L.errMessage(r)}`);
		}
		for (const p of ['rc_0000000000000000', 'nope'])
			assert.equal((await L.api(s, 'GET', `/v1/moderation/reclassify/${p}`)).status, 404);

		// Reviewers read jobs; starting one takes admin.
		const t = await L.api(s, 'POST', '/v1/tokens', { name: 'rev', scopes: ['moderation:review'] });
		assert.equal(t.status, 201, L.show(t));
		const rev = { Authorization: `Bearer ${t.json.result.value}`, 'Content-Type': 'application/json' };
		assert.equal((await L.req(s, 'GET', `/v1/moderation/reclassify/${id}`, { headers: rev })).status, 200);
		r = await L.req(s, 'POST', '/v1/moderation/reclassify', { headers: rev, body: '{"all":true}' });
		assert.equal(r.status, 403, L.show(r));
	});

	test('pictor reclassify: the CLI twin starts a job the running server works off; list, show, cancel', { timeout: T }, async () => {
		const s = await start(['--moderation-policy', 'look=flag: neutral>=0.5']);
		const ups = [];
		for (const f of ['rgb.jpg', 'png16.png']) {
			ups.push(await L.upload(s, path.join(L.INPUTS, f)));
			assert.equal(ups.at(-1).status, 201);
		}
		const data = ['--data', s.dataDir, '--moderation-policy', 'look=flag: neutral>=0.5'];
		let r = await L.runCli(['reclassify', 'start', '--status', 'flagged', ...data], { env: { USER: 'ops' } });
		assert.equal(r.code, 0, r.stderr);
		const j0 = JSON.parse(r.stdout);
		assert.equal(j0.state, 'running');
		assert.equal(j0.filter.status, 'flagged');
		assert.deepEqual(j0.created_by, { id: 'cli', name: 'ops' });
		const pol = (await L.api(s, 'GET', '/v1/moderation/policy')).json.result;
		assert.equal(j0.policy_version, pol.version, 'the version of the policy the settings name');
		// Found by the server's thread without a request.
		const j = await done(s, j0.id);
		assert.equal(j.state, 'done');
		assert.equal(j.progress.scanned, 2);
		r = await L.runCli(['reclassify', 'list', ...data]);
		assert.equal(r.code, 0, r.stderr);
		assert.equal(JSON.parse(r.stdout.split('\n')[0]).id, j0.id);
		r = await L.runCli(['reclassify', 'show', j0.id, ...data]);
		assert.deepEqual(JSON.parse(r.stdout).outcomes, j.outcomes);
		r = await L.runCli(['reclassify', 'cancel', j0.id, ...data]);
		assert.equal(r.code, 1);
		assert.match(r.stderr, /done already \(conflict\)/);
		r = await L.runCli(['reclassify', 'start', '--status', 'pending', ...data]);
		assert.equal(r.code, 1);
		assert.match(r.stderr, /"status"/);
		r = await L.runCli(['reclassify', 'start', ...data]);
		assert.equal(r.code, 1, 'no filter, no --all');
		r = await L.runCli(['reclassify', 'show', 'rc_0000000000000000', ...data]);
		assert.equal(r.code, 1);
		assert.match(r.stderr, /not found/);
		assert.equal((await L.runCli(['reclassify', ...data])).code, 2);
		assert.equal((await L.runCli(['reclassify', 'show', ...data])).code, 2);

		// An original gone from the store: counted failed, left as it was.
		const lost = (await L.api(s, 'GET', `/v1/images/${ups[1].record.id}`)).json.result;
		L.blobDelete(s.dataDir, lost.sha256);
		r = await L.runCli(['reclassify', 'start', '--all', ...data]);
		assert.equal(r.code, 0, r.stderr);
		const jf = await done(s, JSON.parse(r.stdout).id);
		assert.equal(jf.outcomes.failed, 1, JSON.stringify(jf));
		assert.equal(jf.progress.scanned, 2);
		const after = (await L.api(s, 'GET', `/v1/images/${lost.id}`)).json.result;
		assert.equal(after.status, lost.status);
		assert.deepEqual(after.moderation, lost.moderation);
		assert.ok(s.logs.some((l) => /left as it was/.test(l.msg ?? '')), s.logText());
	});
});
