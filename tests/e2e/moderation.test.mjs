// The moderation pipeline end to end with the real model on real photos:
// verdicts on upload, refuse and quarantine, the review API and its audit
// trail, async classification that survives SIGKILL, signed webhooks with
// retries, fail-closed start-up and `pictor classify`.
//
// No unsafe images live in this repository, so the paths that need a flag
// or block verdict use policies over the "neutral" score, which every
// corpus photo has high (see docs/MODERATION.md).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 120000 * L.TIME_SCALE;
const RGB = path.join(L.INPUTS, 'rgb.jpg');
const CLASSES = ['drawing', 'hentai', 'neutral', 'porn', 'sexy'];
const servers = [];

async function start(args = [], env = {}) {
	const s = await L.startServer({ args, env });
	servers.push(s);
	return s;
}
after(async () => {
	for (const s of servers) await s.kill();
});

function checkModeration(m, verdict, rule) {
	assert.equal(m.model, 'nsfwjs-mobilenet-v2-mid@4.4.0');
	assert.deepEqual(Object.keys(m.scores).sort(), CLASSES);
	const sum = CLASSES.reduce((a, c) => a + m.scores[c], 0);
	assert.ok(Math.abs(sum - 1) < 1e-3, `scores sum to ${sum}`);
	if (verdict) assert.equal(m.verdict, verdict);
	if (rule) assert.equal(m.rule, rule);
}

const waitFor = (fn, ms = 20000) => L.waitFor(fn, ms);

describe('sync moderation (default)', () => {
	test('a clean photo is approved with scores, model and rule on the record', { timeout: T }, async () => {
		const s = await start();
		const up = await L.upload(s, RGB);
		assert.equal(up.status, 201, L.show(up));
		assert.equal(up.record.status, 'approved');
		checkModeration(up.record.moderation, 'approve', 'default');
		assert.ok(up.record.moderation.scores.neutral > 0.5);
		const img = await L.req(s, 'GET', `/img/${up.record.id}/public`);
		assert.equal(img.status, 200);
	});

	test('blocked uploads are refused with 422 content_blocked and nothing is stored', { timeout: T }, async () => {
		const s = await start(['--moderation-policy', 'no-neutral=block: neutral>=0.5']);
		const up = await L.upload(s, RGB);
		assert.equal(up.status, 422, L.show(up));
		assert.equal(L.errCode(up), 'content_blocked');
		assert.match(L.errMessage(up), /no-neutral/);
		// the verdict's scores and rule come with the refusal
		const mod = up.json.result.moderation;
		assert.equal(mod.verdict, 'block');
		assert.equal(mod.rule, 'no-neutral');
		assert.ok(mod.scores.neutral >= 0.5, JSON.stringify(mod));
		assert.deepEqual(Object.keys(mod).sort(), ['rule', 'scores', 'verdict']);
		assert.equal((await L.listAll(s)).length, 0);
		assert.deepEqual(L.blobNames(s.dataDir), []);
		const health = await L.req(s, 'GET', '/healthz');
		assert.equal(health.status, 200);
	});

	test('quarantine keeps blocked uploads, never serves them, admins still read them', { timeout: T }, async () => {
		const s = await start(['--moderation-policy', 'no-neutral=block: neutral>=0.5',
			'--moderation-blocked', 'quarantine']);
		const up = await L.upload(s, RGB);
		assert.equal(up.status, 201, L.show(up));
		assert.equal(up.record.status, 'blocked');
		checkModeration(up.record.moderation, 'block', 'no-neutral');
		for (const v of ['public', 'thumbnail', 'w=100']) {
			const r = await L.req(s, 'GET', `/img/${up.record.id}/${v}`);
			assert.equal(r.status, 404, L.show(r));
			assert.equal(L.errCode(r), 'not_available');
		}
		const blob = await L.api(s, 'GET', `/v1/images/${up.record.id}/blob`);
		assert.equal(blob.status, 200);
		assert.ok(blob.body.equals(up.sent));
		const q = await L.api(s, 'GET', '/v1/moderation/queue?status=blocked');
		assert.equal(q.status, 200, L.show(q));
		assert.deepEqual(q.json.result.images.map((i) => i.id), [up.record.id]);
	});

	test('with the placeholder on, unapproved images come back as an uncached blur', { timeout: T }, async () => {
		const s = await start(['--moderation-policy', 'suspicious=flag: neutral>=0.5',
			'--moderation-placeholder', 'on']);
		const up = await L.upload(s, L.makePng(256, 256, 11), { filename: 'p.png' });
		assert.equal(up.record.status, 'flagged');
		const r = await L.req(s, 'GET', `/img/${up.record.id}/f=png`);
		assert.equal(r.status, 200, L.show(r));
		assert.equal(r.headers.get('x-pictor-placeholder'), 'moderation');
		assert.equal(r.headers.get('cache-control'), 'no-store');
		// The stand-in keeps the size but not the detail: neighbouring
		// pixels differ far less than in the original.
		const roughness = (img) => {
			let sum = 0;
			for (let i = 3; i < img.data.length; i++) sum += Math.abs(img.data[i] - img.data[i - 3]);
			return sum / img.data.length;
		};
		const blurred = L.decodePng(r.body);
		const orig = L.decodePng(up.sent);
		assert.deepEqual([blurred.width, blurred.height], [256, 256]);
		assert.ok(roughness(blurred) < roughness(orig) / 4,
			`roughness ${roughness(blurred)} vs ${roughness(orig)}`);
		// Built tiny, then enlarged: a large placeholder shows no more
		// than a small one. Averaged down to 256 px, the 2048 px one
		// matches the 256 px one (a fixed blur radius would leave the
		// large one sharp at 256 px).
		const big = await L.req(s, 'GET', `/img/${up.record.id}/w=2048,h=2048,fit=contain,f=png`);
		assert.equal(big.headers.get('x-pictor-placeholder'), 'moderation');
		const b = L.decodePng(big.body);
		assert.deepEqual([b.width, b.height], [2048, 2048]);
		const ch = b.data.length / (2048 * 2048);
		let diff = 0;
		for (let y = 0; y < 256; y++) {
			for (let x = 0; x < 256; x++) {
				for (let c = 0; c < 3; c++) {
					let sum = 0;
					for (let dy = 0; dy < 8; dy++)
						for (let dx = 0; dx < 8; dx++) sum += b.data[((y * 8 + dy) * 2048 + x * 8 + dx) * ch + c];
					diff += Math.abs(sum / 64 - blurred.data[(y * 256 + x) * (blurred.data.length / 65536) + c]);
				}
			}
		}
		diff /= 256 * 256 * 3;
		assert.ok(diff < 3, `mean difference ${diff} between the 2048 px placeholder averaged down and the 256 px one`);
		const approved = await L.api(s, 'POST', `/v1/images/${up.record.id}/moderation`, { action: 'approve' });
		assert.equal(approved.status, 200);
		const real = await L.req(s, 'GET', `/img/${up.record.id}/f=png`);
		assert.equal(real.headers.get('x-pictor-placeholder'), null);
		assert.notEqual(real.headers.get('etag'), r.headers.get('etag'));
	});

	test('flagged images wait in the queue; a review approves them with an audit trail', { timeout: T }, async () => {
		const s = await start(['--moderation-policy', 'suspicious=flag: neutral>=0.5']);
		const ids = [];
		for (const f of ['rgb.jpg', 'progressive.jpg', 'lossy.webp']) {
			const up = await L.upload(s, path.join(L.INPUTS, f));
			assert.equal(up.status, 201, L.show(up));
			assert.equal(up.record.status, 'flagged');
			ids.push(up.record.id);
		}
		const denied = await L.req(s, 'GET', `/img/${ids[0]}/public`);
		assert.equal(denied.status, 404);
		assert.equal(L.errCode(denied), 'not_available');

		// Paginated, oldest first.
		const p1 = await L.api(s, 'GET', '/v1/moderation/queue?status=flagged&per_page=2');
		assert.equal(p1.status, 200, L.show(p1));
		assert.deepEqual(p1.json.result.images.map((i) => i.id), ids.slice(0, 2));
		const tok = encodeURIComponent(p1.json.result.continuation_token);
		const p2 = await L.api(s, 'GET', `/v1/moderation/queue?status=flagged&per_page=2&continuation_token=${tok}`);
		assert.deepEqual(p2.json.result.images.map((i) => i.id), ids.slice(2));
		assert.equal(p2.json.result.continuation_token, null);

		const rev = await L.api(s, 'POST', `/v1/images/${ids[0]}/moderation`,
			{ action: 'approve', note: 'a portrait', reviewer: 'mod-1' });
		assert.equal(rev.status, 200, L.show(rev));
		assert.equal(rev.json.result.status, 'approved');
		const audit = rev.json.result.audit;
		assert.equal(audit.length, 1);
		assert.equal(audit[0].who, 'mod-1');
		assert.equal(audit[0].before, 'flagged');
		assert.equal(audit[0].after, 'approved');
		assert.equal(audit[0].note, 'a portrait');
		assert.ok(Number.isFinite(Date.parse(audit[0].when)));
		const ok = await L.req(s, 'GET', `/img/${ids[0]}/public`);
		assert.equal(ok.status, 200);

		const blk = await L.api(s, 'POST', `/v1/images/${ids[1]}/moderation`, { action: 'block', note: 'no' });
		assert.equal(blk.json.result.status, 'blocked');
		assert.equal(blk.json.result.audit[0].who, 'admin');
		const again = await L.api(s, 'POST', `/v1/images/${ids[0]}/moderation`, { action: 'block' });
		assert.equal(again.json.result.audit.length, 2, 'decisions append to the trail');
		assert.equal(again.json.result.audit[1].before, 'approved');

		const q = await L.api(s, 'GET', '/v1/moderation/queue?status=flagged');
		assert.deepEqual(q.json.result.images.map((i) => i.id), [ids[2]]);
		const rec = await L.api(s, 'GET', `/v1/images/${ids[0]}`);
		assert.equal(rec.json.result.audit.length, 2, 'the trail is kept on the record');

		for (const [body, code] of [[{ action: 'nuke' }, 'invalid_request'], [{}, 'invalid_request'],
			['not json', 'invalid_request']]) {
			const bad = await L.api(s, 'POST', `/v1/images/${ids[2]}/moderation`, body);
			assert.equal(bad.status, 400, L.show(bad));
			assert.equal(L.errCode(bad), code);
		}
		const missing = await L.api(s, 'POST', '/v1/images/nope/moderation', { action: 'approve' });
		assert.equal(missing.status, 404);
		const noauth = await L.req(s, 'GET', '/v1/moderation/queue');
		assert.equal(noauth.status, 401);
		const badStatus = await L.api(s, 'GET', '/v1/moderation/queue?status=approved');
		assert.equal(badStatus.status, 400);
	});
});

describe('async moderation', () => {
	test('uploads answer 202 pending and are classified in the background', { timeout: T }, async () => {
		const s = await start(['--moderation-mode', 'async', '--moderation-policy', 'suspicious=flag: neutral>=0.5']);
		const up = await L.upload(s, RGB);
		assert.equal(up.status, 202, L.show(up));
		assert.equal(up.record.status, 'pending');
		// Pending, and flagged once classified: never public either way.
		const pendingImg = await L.req(s, 'GET', `/img/${up.record.id}/public`);
		assert.equal(pendingImg.status, 404, L.show(pendingImg));
		assert.equal(L.errCode(pendingImg), 'not_available');
		const rec = await waitFor(async () => {
			const r = await L.api(s, 'GET', `/v1/images/${up.record.id}`);
			return r.json.result.status !== 'pending' && r.json.result;
		});
		assert.equal(rec.status, 'flagged');
		checkModeration(rec.moderation, 'flag', 'suspicious');
	});

	test('after SIGKILL and restart, every pending image is classified', { timeout: T }, async () => {
		const s = await start(['--moderation-mode', 'async']);
		const files = fs.readdirSync(L.CORPUS).filter((f) => /\.(jpg|png)$/.test(f) &&
			fs.statSync(path.join(L.CORPUS, f)).size < 1500000).slice(0, 12);
		assert.ok(files.length >= 6, 'corpus present (make corpus)');
		// One after the other: one client's concurrent uploads are capped.
		for (const f of files) {
			const u = await L.upload(s, path.join(L.CORPUS, f));
			assert.equal(u.status, 202, L.show(u));
		}
		await s.kill();
		const s2 = await L.startServer({ dataDir: s.dataDir, args: ['--moderation-mode', 'async'] });
		servers.push(s2);
		const all = await waitFor(async () => {
			const list = await L.listAll(s2);
			return list.every((r) => r.status !== 'pending') && list;
		}, 60000);
		assert.equal(all.length, files.length);
		for (const r of all) {
			assert.equal(r.status, 'approved', `${r.filename}: ${JSON.stringify(r.moderation)}`);
			checkModeration(r.moderation, 'approve');
		}
		const q = await L.api(s2, 'GET', '/v1/moderation/queue?status=pending');
		assert.equal(q.json.result.images.length, 0);
	});
});

describe('webhooks', () => {
	test('flag and review events are POSTed signed, retried after a failure', { timeout: T }, async () => {
		const secret = 'whsec-test';
		let failures = 1;
		const hook = await L.webhookReceiver(() => (failures-- > 0 ? 500 : 204));
		after(hook.close);
		const { got, url } = hook;
		const s = await start(['--moderation-policy', 'suspicious=flag: neutral>=0.5',
			'--webhook-url', url, '--webhook-secret', secret]);
		const t0 = Date.now();
		const up = await L.upload(s, RGB);
		assert.equal(up.status, 201);
		assert.ok(up.ms < 5000 * L.TIME_SCALE, 'the upload does not wait for the webhook');
		await waitFor(() => got.length >= 2, 30000);
		assert.ok(got[1].at - got[0].at >= 1500, 'retried after a backoff');
		for (const g of got.slice(0, 2)) {
			const ts = g.headers['x-pictor-timestamp'];
			assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 120);
			const want = 'sha256=' + crypto.createHmac('sha256', secret).update(`${ts}.${g.body}`).digest('hex');
			assert.equal(g.headers['x-pictor-signature'], want);
			const ev = JSON.parse(g.body);
			assert.equal(ev.event, 'flag');
			assert.equal(ev.id, up.record.id);
			assert.equal(ev.rule, 'suspicious');
		}
		assert.ok(Date.now() - t0 < 30000);
		const rev = await L.api(s, 'POST', `/v1/images/${up.record.id}/moderation`, { action: 'approve', note: 'fine' });
		assert.equal(rev.status, 200);
		await waitFor(() => got.length >= 3, 20000);
		const ev = JSON.parse(got[2].body);
		assert.equal(ev.event, 'review');
		assert.equal(ev.before, 'flagged');
		assert.equal(ev.after, 'approved');
		assert.equal(ev.note, 'fine');
		// Approved uploads send nothing.
		const clean = await start(['--webhook-url', url, '--webhook-secret', secret]);
		const n = got.length;
		assert.equal((await L.upload(clean, RGB)).status, 201);
		await L.sleep(1000);
		assert.equal(got.length, n);
		// A refused upload stores nothing but is still reported.
		const refuse = await start(['--moderation-policy', 'no-neutral=block: neutral>=0.5',
			'--webhook-url', url, '--webhook-secret', secret]);
		assert.equal((await L.upload(refuse, RGB)).status, 422);
		await waitFor(() => got.length > n, 20000);
		const blocked = JSON.parse(got[n].body);
		assert.equal(blocked.event, 'block');
		assert.equal(blocked.rule, 'no-neutral');
		assert.equal(blocked.status, 'blocked');
	});
});

describe('start-up and CLI', () => {
	test('with moderation on and no model, serve refuses to start and says how to fix it', { timeout: T }, async () => {
		const dir = await L.tmpDir();
		const r = await L.runCli(['serve', '--listen', '127.0.0.1:0', '--data', dir], { env: { PICTOR_MODELS: '/nonexistent' } });
		assert.notEqual(r.code, 0);
		assert.match(r.stderr, /make models/);
		assert.match(r.stderr, /--moderation off/);
		const off = await start(['--moderation', 'off', '--models', '/nonexistent']);
		const up = await L.upload(off, RGB);
		assert.equal(up.status, 201);
		assert.equal(up.record.status, 'approved');
		assert.equal(up.record.moderation, undefined);
	});

	test('pictor classify prints scores and verdicts, nsfwjs mode matches nsfwjs.classify()', { timeout: T }, async () => {
		const ref = JSON.parse(fs.readFileSync(path.join(L.ROOT, 'tests', 'data', 'ml', 'expected-full.json'), 'utf8'));
		const cases = ref.cases.filter((c) => fs.existsSync(path.join(L.CORPUS, c.file)));
		assert.ok(cases.length >= 3, 'corpus present (make corpus)');
		const r = await L.runCli(['classify', '--json', '--preprocess', 'nsfwjs', '--models', L.MODELS,
			...cases.map((c) => path.join(L.CORPUS, c.file))], { timeout: 120000 });
		assert.equal(r.code, 0, r.stderr);
		const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
		assert.equal(lines.length, cases.length);
		for (let i = 0; i < cases.length; i++) {
			for (const [k, v] of Object.entries(cases[i].probabilities)) {
				const got = lines[i].scores[k.toLowerCase()];
				assert.ok(Math.abs(got - v) <= 1e-3, `${cases[i].file} ${k}: ${got} vs ${v}`);
			}
			assert.equal(lines[i].verdict, 'approve');
		}
		const txt = await L.runCli(['classify', '--models', L.MODELS, '--moderation-policy', 'x=flag: neutral>0.5', RGB]);
		assert.equal(txt.code, 1, 'a flagged file exits 1');
		assert.match(txt.stdout, /rgb\.jpg: flag \(x\) drawing=\d\.\d+ hentai=\d\.\d+ neutral=\d\.\d+ porn=\d\.\d+ sexy=\d\.\d+/);
		const bad = await L.runCli(['classify', '--models', L.MODELS, path.join(L.INPUTS, 'text-as-jpg.jpg')]);
		assert.equal(bad.code, 2, 'a file that cannot be classified exits 2');
	});
});
