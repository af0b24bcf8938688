// Overload: one worker, a queue of one, a heavy photo and a burst of
// uncacheable transforms. Some must be refused with 503 overloaded and
// Retry-After, some served, and /healthz must keep answering at once.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as L from './lib.mjs';

const BIG = path.join(L.CORPUS, 'Elephants_5640x3172.jpg');
const T = 180000 * L.TIME_SCALE;
let srv;
let id;

before(async () => {
	if (!fs.existsSync(BIG)) {
		throw new Error(`corpus photo ${BIG} is missing: run \`make corpus\` (scripts/fetch-corpus.sh) ` +
			'or point PICTOR_CORPUS at the fetched corpus');
	}
	srv = await L.startServer({ args: ['--workers', '1', '--queue', '1'] });
	const up = await L.upload(srv, BIG, { timeout: 120000 });
	assert.equal(up.status, 201, L.show(up));
	assert.deepEqual([up.record.width, up.record.height], [5640, 3172]);
	id = up.record.id;
});
after(async () => {
	await srv?.kill();
});

test('a burst beyond workers+queue: 503 overloaded with Retry-After, 200s, healthz fast', { timeout: T }, async (t) => {
	const N = 12;
	let pending = N;
	const burst = Array.from({ length: N }, (_, i) =>
		L.req(srv, 'GET', `/img/${id}/w=${1200 + 7 * i},f=avif,q=60`, { timeout: 150000 })
			.finally(() => { pending--; }));

	// health checks while the burst runs
	const health = [];
	await L.sleep(200);
	while (pending > 0 && health.length < 50) {
		const h = await L.req(srv, 'GET', '/healthz', { timeout: 10000 });
		health.push({ status: h.status, ms: h.ms, pendingAtStart: pending });
		await L.sleep(250);
	}
	const res = await Promise.all(burst);

	const ok = res.filter((r) => r.status === 200);
	const busy = res.filter((r) => r.status === 503);
	const other = res.filter((r) => r.status !== 200 && r.status !== 503);
	const summary = res.map((r) => `${r.status}${r.status === 503 ? ':' + L.errCode(r) : ''}@${r.ms.toFixed(0)}ms`).join(' ');
	t.diagnostic(`burst: ${summary}`);
	t.diagnostic(`healthz: ${health.map((h) => `${h.status}@${h.ms.toFixed(0)}ms`).join(' ')}`);
	assert.deepEqual(other.map(L.show), [], `unexpected answers: ${summary}`);
	assert.ok(busy.length >= 1, `no 503 among ${summary}`);
	assert.ok(ok.length >= 1, `no 200 among ${summary}`);
	for (const r of busy) {
		assert.equal(L.errCode(r), 'overloaded', L.show(r));
		const ra = r.headers.get('retry-after');
		assert.match(ra ?? '', /^\d+$/, `Retry-After ${ra}`);
		assert.ok(Number(ra) >= 1, `Retry-After ${ra}`);
		assert.ok(r.ms < 5000 * L.TIME_SCALE, `a refusal took ${r.ms.toFixed(0)} ms; it should be immediate`);
	}
	for (const r of ok) {
		const p = L.probe(r.body);
		assert.equal(p.format, 'avif');
		assert.ok(p.width >= 1200 && p.width < 1200 + 7 * N, `width ${p.width}`);
	}
	assert.ok(health.length >= 1, `the burst ended before any health check (${summary})`);
	const slow = health.filter((h) => h.status !== 200 || h.ms >= 1000);
	assert.deepEqual(slow, [], `/healthz slow or failing during the burst: ${JSON.stringify(health)}`);
});

test('afterwards the server serves normally', { timeout: T }, async () => {
	const h = await L.req(srv, 'GET', '/healthz');
	assert.equal(h.status, 200);
	const r = await L.req(srv, 'GET', `/img/${id}/w=320,f=jpeg`, { timeout: 60000 });
	assert.equal(r.status, 200, L.show(r));
	assert.deepEqual([L.probe(r.body).width, L.probe(r.body).height], [320, 180]);
	const ready = await L.req(srv, 'GET', '/readyz');
	assert.equal(ready.status, 200, L.show(ready));
});
