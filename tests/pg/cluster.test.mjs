// cluster.test.mjs - two nodes on one PostgreSQL and one blob directory
// (tests/pg/run.sh sets PICTOR_TEST_PG): what one node changes, the other
// sees within the staleness bound (1 s); background work claimed by a node
// that is then killed with SIGKILL is finished by the other once the claim
// expires, and never by both at once. Skips without a server.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import * as L from '../e2e/lib.mjs';

const T = 120000 * L.TIME_SCALE;
const PG = process.env.PICTOR_TEST_PG;
const skip = !PG ? 'PICTOR_TEST_PG unset (make pg runs this)' : false;
const BOUND_MS = 1000; // docs/ARCHITECTURE.md, "Several nodes"

function psql(sql) {
	const r = spawnSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', PG, '-c', sql], { encoding: 'utf8' });
	if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
	return r.stdout.trim();
}

// Node A on a schema of its own (lib.mjs); node B on A's schema and A's
// originals, connecting as roleB when given (a superuser the test can
// stop from logging in). B starts when startB() is called.
async function cluster({ args = [], envA = {}, envB = {}, roleB = null } = {}) {
	const dirA = await L.tmpDir();
	const dirB = await L.tmpDir();
	const a = await L.startServer({ dataDir: dirA, args, env: envA });
	const schema = 'e2e_' + L.sha256(path.resolve(dirA)).slice(0, 16);
	const base = roleB ? PG.replace(/^(postgres(?:ql)?:\/\/)[^@/]*@/, `$1${roleB}@`) : PG;
	const meta = `${base}${base.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`;
	fs.symlinkSync(path.join(dirA, 'blobs'), path.join(dirB, 'blobs'));
	const c = { a, b: null };
	c.startB = async () => {
		c.b = await L.startServer({ dataDir: dirB, args, env: { ...envB, PICTOR_META: meta } });
		return c.b;
	};
	c.kill = async () => { await a.kill(); await c.b?.kill(); };
	return c;
}

async function metric(srv, name) {
	const r = await L.req(srv, 'GET', '/metrics');
	const line = r.text.split('\n').find((l) => l.startsWith(name + ' '));
	assert.ok(line, `no metric ${name}`);
	return Number(line.slice(name.length + 1));
}

async function until(what, fn, ms = 60000 * L.TIME_SCALE, step = 50) {
	const end = Date.now() + ms;
	for (;;) {
		const v = await fn();
		if (v) return v;
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
		await L.sleep(step);
	}
}

// Poll until ok(answer), from the moment the change was answered on the
// other node. The staleness is when the first request that saw the change
// was sent (printed with when its answer came, which adds a render).
const seen = [];
async function staleness(what, get, ok) {
	const t0 = Date.now();
	const end = t0 + 10000 * L.TIME_SCALE;
	for (;;) {
		const sent = Date.now() - t0;
		const r = await get();
		if (ok(r)) {
			seen.push(`${what} ${sent} ms (answered at ${Date.now() - t0} ms)`);
			assert.ok(sent <= BOUND_MS * L.TIME_SCALE, `${what}: seen after ${sent} ms, over the ${BOUND_MS} ms bound`);
			return r;
		}
		if (Date.now() > end) throw new Error(`${what}: not seen within 10 s`);
		await L.sleep(10);
	}
}

const cs = (r) => r.headers.get('cache-status');

describe('two nodes', { skip }, () => {
	test('changes on one node are seen on the other within the bound; a webhook event whose sender is killed mid-POST is delivered by the other node, never by both at once', { timeout: 2 * T }, async () => {
		// The receiver answers 200, except for the one POST after hang is
		// set: that one is never answered (its sender dies first).
		const got = [];
		const open = new Map(); // event_id -> POSTs of it under way
		let maxOpen = 0;
		let hang = false;
		let hung = null;
		const hook = http.createServer((rq, rs) => {
			const chunks = [];
			rq.on('data', (x) => chunks.push(x));
			rq.on('end', () => {
				const ev = JSON.parse(Buffer.concat(chunks).toString('utf8'));
				got.push(ev);
				open.set(ev.event_id, (open.get(ev.event_id) ?? 0) + 1);
				maxOpen = Math.max(maxOpen, open.get(ev.event_id));
				rs.on('close', () => { open.set(ev.event_id, open.get(ev.event_id) - 1); });
				if (hang && !hung) {
					hung = ev;
					return;
				}
				rs.writeHead(200);
				rs.end();
			});
		});
		await new Promise((r) => hook.listen(0, '127.0.0.1', r));
		const roleB = `pictor_b_${process.pid}`;
		psql(`DROP ROLE IF EXISTS ${roleB}`);
		psql(`CREATE ROLE ${roleB} LOGIN SUPERUSER`);
		const c = await cluster({
			roleB,
			args: ['--moderation-mode', 'sync', '--lease-time', String(2 * L.TIME_SCALE),
				'--webhook-url', `http://127.0.0.1:${hook.address().port}/hook`, '--webhook-secret', 'whsec-c',
				'--webhook-timeout', '300'],
		});
		try {
			const { a } = c;
			let b = await c.startB();
			const up = await L.upload(a, L.input('rgb.jpg'));
			assert.equal(up.status, 201, L.show(up));
			const id = up.record.id;
			const get = (srv, v = 'public', h = {}) => L.req(srv, 'GET', `/img/${id}/${v}`, { headers: h });

			// both nodes hold the render
			for (const s of [a, b]) {
				await get(s);
				assert.equal(cs(await get(s)), 'pictor; hit');
			}
			// a purge on B empties A's cache for that image
			const p = await L.api(b, 'POST', '/v1/cache/purge', { images: [id] });
			assert.equal(p.status, 200, L.show(p));
			await staleness('purge on B, miss on A', () => get(a), (r) => r.status === 200 && cs(r) !== 'pictor; hit');

			// a managed variant changed on A is served changed by B
			let v = await L.api(a, 'POST', '/v1/variants', { id: 'card', options: { width: 100 } });
			assert.equal(v.status, 200, L.show(v));
			assert.equal(L.probe((await get(b, 'card')).body).width, 100);
			assert.equal(cs(await get(b, 'card')), 'pictor; hit');
			v = await L.api(a, 'PATCH', '/v1/variants/card', { options: { width: 60 } });
			assert.equal(v.status, 200, L.show(v));
			await staleness('variant change on A, on B', () => get(b, 'card'), (r) => r.status === 200 && L.probe(r.body).width === 60);

			// B answers deliveries from its record cache, and each change
			// below comes right after B served the image from its result
			// cache: the hit must not outlive the change by more than the
			// bound.
			const recHits = () => metric(b, 'pictor_record_cache_hits_total');
			const hitOnB = async () => {
				const h0 = await recHits();
				await get(b);
				assert.equal(cs(await get(b)), 'pictor; hit');
				assert.ok(await recHits() >= h0 + 2, 'B read the record from its record cache');
			};
			assert.equal(await metric(b, 'pictor_record_cache_live'), 1);
			await hitOnB();

			// requireSignedURLs on A: B refuses an unsigned URL
			const sg = await L.api(a, 'PATCH', `/v1/images/${id}`, { requireSignedURLs: true });
			assert.equal(sg.status, 200, L.show(sg));
			await staleness('requireSignedURLs on A, on B', () => get(b), (r) => r.status === 403);
			assert.equal((await L.api(a, 'PATCH', `/v1/images/${id}`, { requireSignedURLs: false })).status, 200);
			await staleness('unsigned again on A, on B', () => get(b), (r) => r.status === 200);

			// A purge while B is down: B replays it from the store's
			// purge log when it starts, and keeps the rest of its disk tier.
			const up2 = await L.upload(a, L.input('progressive.jpg'));
			assert.equal(up2.status, 201, L.show(up2));
			const get2 = () => L.req(b, 'GET', `/img/${up2.record.id}/public`);
			await get2();
			assert.equal(cs(await get2()), 'pictor; hit');
			assert.equal(cs(await get(b)), 'pictor; hit');
			await b.stop();
			assert.equal((await L.api(a, 'POST', '/v1/cache/purge', { images: [id] })).status, 200);
			b = await c.startB();
			assert.notEqual(cs(await get(b)), 'pictor; hit', 'the purge B missed while down');
			assert.equal(cs(await get2()), 'pictor; hit', 'the rest of B\'s disk tier is kept');
			await until('B hears', async () => (await metric(b, 'pictor_record_cache_live')) === 1);

			// While B's change stream is down, B reads every record from
			// the store; messages sent meanwhile are lost, so when the
			// stream is back B drops its record cache and its result cache
			// (a purge on A while B could not hear it).
			await hitOnB();
			psql(`ALTER ROLE ${roleB} NOLOGIN`);
			psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${roleB}' AND (query = 'SELECT 1' OR query LIKE '%LISTEN%')`);
			await until('B stops answering from its record cache', async () => (await metric(b, 'pictor_record_cache_live')) === 0);
			assert.equal((await L.api(a, 'PATCH', `/v1/images/${id}`, { requireSignedURLs: true })).status, 200);
			assert.equal((await get(b)).status, 403, 'B read the record while its stream was down');
			assert.equal((await L.api(a, 'PATCH', `/v1/images/${id}`, { requireSignedURLs: false })).status, 200);
			assert.equal((await get(b)).status, 200);
			assert.equal(cs(await get(b)), 'pictor; hit');
			assert.equal((await L.api(a, 'POST', '/v1/cache/purge', { images: [id] })).status, 200);
			assert.equal(cs(await get(b)), 'pictor; hit', 'B did not hear the purge');
			psql(`ALTER ROLE ${roleB} LOGIN`);
			await until('B hears again', async () => (await metric(b, 'pictor_record_cache_live')) === 1);
			assert.notEqual(cs(await get(b)), 'pictor; hit', 'the purge B missed: its result cache was dropped');
			await hitOnB();

			// a block on A: B answers as for any unapproved image
			await hitOnB();
			const bl = await L.api(a, 'POST', `/v1/images/${id}/moderation`, { action: 'block', reviewer: 'ops' });
			assert.equal(bl.status, 200, L.show(bl));
			const blocked = await staleness('block on A, on B', () => get(b), (r) => r.status !== 200);
			assert.equal(blocked.status, 404, L.show(blocked));
			assert.equal(L.errCode(blocked), 'not_available');

			// a delete on A: 404 on B (served from B's caches just before)
			assert.equal((await L.api(a, 'POST', `/v1/images/${id}/moderation`, { action: 'approve', reviewer: 'ops' })).status, 200);
			await staleness('approve on A, on B', () => get(b), (r) => r.status === 200);
			await hitOnB();
			const del = await L.api(a, 'DELETE', `/v1/images/${id}`);
			assert.equal(del.status, 200, L.show(del));
			await staleness('delete on A, 404 on B', () => get(b), (r) => r.status === 404);
			assert.equal((await L.api(b, 'GET', `/v1/images/${id}`)).status, 404);
			console.log(`# staleness: ${seen.join(', ')}`);

			// The events so far went out once each.
			await until('the events so far', async () => (await metric(a, 'pictor_webhook_outbox_depth')) === 0);
			const ids = got.map((e) => e.event_id);
			assert.ok(ids.length >= 2, JSON.stringify(got.map((e) => e.event)));
			assert.equal(new Set(ids).size, ids.length, `delivered twice: ${ids}`);

			// An event whose POST hangs on the node that claimed it.
			hang = true;
			const before = got.length;
			const pe = await L.api(a, 'POST', '/v1/cache/purge', { everything: true });
			assert.equal(pe.status, 200, L.show(pe));
			await until('the hanging POST', async () => hung);
			const holders = [];
			for (const s of [a, b]) if ((await metric(s, 'pictor_leases_held')) === 1) holders.push(s);
			assert.equal(holders.length, 1, 'one node holds the event');
			const [holder] = holders;
			const other = holder === a ? b : a;
			await holder.kill(); // SIGKILL, in the middle of the POST
			const again = await until('the other node delivers', async () => got.length > before + 1 && got[before + 1]);
			assert.equal(again.event_id, hung.event_id);
			assert.equal(again.event, 'cache.purge');
			assert.equal(maxOpen, 1, 'no two POSTs of one event overlapped');
			assert.equal(await metric(other, 'pictor_leases_taken_over_total'), 1);
			await until('the outbox empties', async () => (await metric(other, 'pictor_webhook_outbox_depth')) === 0);
			assert.equal(got.length, before + 2, JSON.stringify(got.map((e) => e.event_id)));
		} finally {
			await c.kill();
			hook.closeAllConnections();
			await new Promise((r) => hook.close(r));
			psql(`DROP ROLE IF EXISTS ${roleB}`);
		}
	});

	test('a job claimed by a node killed mid-job is finished by the other after the lease, once', { timeout: 2 * T }, async () => {
		// A's jobs wait, claimed, while the test-only gate file exists;
		// B's do not.
		const lease = 3 * L.TIME_SCALE;
		const gate = path.join(await L.tmpDir(), 'gate');
		fs.writeFileSync(gate, '');
		const c = await cluster({
			args: ['--moderation-mode', 'async', '--lease-time', String(lease)],
			envA: { PICTOR_TEST_JOB_GATE: gate },
		});
		try {
			const { a } = c;
			const up = await L.upload(a, L.input('rgb.jpg'));
			assert.equal(up.status, 202, L.show(up));
			const id = up.record.id;
			await until('A claims the job', async () => (await metric(a, 'pictor_leases_held')) === 1);
			const claimed = Date.now();
			const b = await c.startB();
			// longer than a lease: A renews its claim, B keeps off
			await L.sleep(Math.max(0, claimed + 1500 * lease - Date.now()));
			assert.equal((await L.api(b, 'GET', `/v1/images/${id}`)).json.result.status, 'pending');
			assert.equal(await metric(b, 'pictor_leases_claimed_total'), 0);
			assert.equal(await metric(a, 'pictor_leases_held'), 1);

			await a.kill(); // SIGKILL, in the middle of the job
			const rec = await until('B finishes the job', async () => {
				const r = await L.api(b, 'GET', `/v1/images/${id}`);
				return r.json?.result?.status !== 'pending' && r.json.result;
			});
			assert.equal(rec.status, 'approved');
			assert.equal(await metric(b, 'pictor_leases_taken_over_total'), 1);
			assert.equal(await metric(b, 'pictor_leases_held'), 0);
			const verdicts = (rec.audit || []).filter((e) => e.action === 'verdict');
			assert.ok(verdicts.length <= 1, JSON.stringify(rec.audit));
		} finally {
			await c.kill();
		}
	});

	test('a reclassify job is run by one node; killed mid-job, the other takes it over after the lease and finishes it', { timeout: 2 * T }, async () => {
		// A's run of the job waits, claimed, while the gate file exists.
		const lease = 3 * L.TIME_SCALE;
		const gate = path.join(await L.tmpDir(), 'gate');
		const c = await cluster({
			args: ['--moderation-mode', 'sync', '--lease-time', String(lease)],
			envA: { PICTOR_TEST_JOB_GATE: gate },
		});
		try {
			const { a } = c;
			for (const f of ['rgb.jpg', 'progressive.jpg']) assert.equal((await L.upload(a, L.input(f))).status, 201);
			fs.writeFileSync(gate, '');
			const job = await L.api(a, 'POST', '/v1/moderation/reclassify', { all: true });
			assert.equal(job.status, 202, L.show(job));
			const jid = job.json.result.id;
			await until('A claims the run', async () => (await metric(a, 'pictor_leases_held')) === 1);
			const claimed = Date.now();
			const b = await c.startB();
			// longer than a lease: A renews its claim, B keeps off
			await L.sleep(Math.max(0, claimed + 1500 * lease - Date.now()));
			const mid = (await L.api(b, 'GET', `/v1/moderation/reclassify/${jid}`)).json.result;
			assert.equal(mid.state, 'running');
			assert.equal(mid.progress.scanned, 0);
			assert.equal(await metric(b, 'pictor_leases_claimed_total'), 0);

			await a.kill(); // SIGKILL, with the run claimed
			const done = await until('B finishes the job', async () => {
				const g = (await L.api(b, 'GET', `/v1/moderation/reclassify/${jid}`)).json.result;
				return g.state === 'done' && g;
			});
			assert.equal(done.progress.scanned, 2);
			assert.equal(done.progress.total, 2);
			assert.equal(await metric(b, 'pictor_leases_taken_over_total'), 1);
			await until('B drops the ended claim', async () => (await metric(b, 'pictor_leases_held')) === 0);
		} finally {
			await c.kill();
		}
	});

});
