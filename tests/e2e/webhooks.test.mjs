// Webhook delivery a receiver can rely on: no busy loop while events fail,
// per-image commit order with sequence numbers and stable event ids after
// the receiver recovers, backoff after a hanging receiver, dead letters
// listed and retried, and the outbox in /metrics.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 180000 * L.TIME_SCALE;
const RGB = path.join(L.INPUTS, 'rgb.jpg');
const FLAG = ['--moderation-policy', 'look=flag: neutral>=0.5'];
const cleanup = [];
after(async () => {
	for (const f of cleanup) await f();
});

// A receiver on loopback; behaviour(n, event) answers the n-th request
// (from 0) with a status, or null to never answer.
async function receiver(behaviour) {
	const r = await L.webhookReceiver(behaviour);
	cleanup.push(r.close);
	return r;
}

async function start(args) {
	const s = await L.startServer({ args });
	cleanup.push(() => s.kill());
	return s;
}

const waitFor = (fn, ms = 60000) => L.waitFor(fn, ms);

// utime + stime of a process, in seconds.
function cpuSeconds(pid) {
	const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
	return (Number(f[11]) + Number(f[12])) / 100; // clock ticks, USER_HZ 100
}

function metric(text, name) {
	const m = text.match(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm'));
	return m ? Number(m[1]) : undefined;
}

describe('webhooks', () => {
	test('100 failing events: the sender sleeps between attempts (< 2% of a core over 10 s)', { timeout: T }, async () => {
		const rx = await receiver(() => 500);
		const s = await start([...FLAG, '--webhook-url', rx.url, '--webhook-secret', 'k']);
		for (let i = 0; i < 100; i++) {
			const up = await L.upload(s, RGB, { id: `cpu-${i}` });
			assert.equal(up.status, 201, L.show(up));
		}
		// Every event has failed at least twice: the sender is in backoff.
		await waitFor(() => rx.got.length >= 200);
		const before = cpuSeconds(s.pid);
		await L.sleep(10000);
		const used = cpuSeconds(s.pid) - before;
		// 2% of a core; sanitizer builds spend several times the CPU on
		// the same work (TIME_SCALE).
		assert.ok(used < 0.2 * L.TIME_SCALE, `the daemon used ${used.toFixed(2)} s of CPU in 10 s while events failed`);
		const m = (await L.req(s, 'GET', '/metrics')).text;
		assert.equal(metric(m, 'pictor_webhook_outbox_depth'), 100);
		assert.ok(metric(m, 'pictor_webhook_outbox_oldest_seconds') > 5);
		assert.ok(metric(m, 'pictor_webhook_failed_attempts_total') >= 200);
		// Later events are not starved behind the first ones: each event
		// has been tried as often as its own backoff (2 s, 4 s, 8 s, ...
		// from its first attempt) allows by now, less one for drift.
		// Events are created over the uploads' time, so on a busy machine
		// the first and the last can rightly be a few attempts apart.
		const end = Date.now();
		const tries = new Map();
		for (const g of rx.got) {
			const t = tries.get(g.ev.event_id) ?? { n: 0, first: g.at };
			tries.set(g.ev.event_id, { n: t.n + 1, first: Math.min(t.first, g.at) });
		}
		assert.equal(tries.size, 100);
		const behind = [];
		for (const [id, t] of tries) {
			let due = 1;
			for (let at = t.first + 2000; at <= end; at += 2000 * 2 ** (due - 1)) due++;
			if (t.n < due - 1) behind.push(`${id}: ${t.n} of ${due}`);
		}
		assert.deepEqual(behind, [], 'events tried less often than their backoff allows');
	});

	test('after the receiver recovers: per-image commit order, increasing sequence numbers, stable ids', { timeout: T }, async () => {
		let down = true;
		const rx = await receiver(() => (down ? 500 : 200));
		const s = await start([...FLAG, '--webhook-url', rx.url, '--webhook-secret', 'k']);
		for (const id of ['ord-a', 'ord-b']) {
			const up = await L.upload(s, RGB, { id });
			assert.equal(up.status, 201, L.show(up));
		}
		for (const [id, action] of [['ord-a', 'approve'], ['ord-b', 'block'], ['ord-a', 'block'], ['ord-a', 'approve']]) {
			const r = await L.api(s, 'POST', `/v1/images/${id}/moderation`, { action });
			assert.equal(r.status, 200, L.show(r));
		}
		await waitFor(() => rx.got.length >= 2);
		down = false;
		// Moderation events carry the image id; others (a cache purge
		// after a block) share the sequence.
		const mod = (g) => g.status === 200 && typeof g.ev.id === 'string';
		await waitFor(() => rx.got.filter(mod).length >= 6);
		await L.sleep(1500);
		const all = rx.got.filter((g) => g.status === 200).map((g) => g.ev);
		const seqs = all.map((e) => e.seq).sort((a, b) => a - b);
		assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'every sequence number once, none missing');
		const ok = rx.got.filter(mod).map((g) => g.ev);
		assert.equal(ok.length, 6);
		for (const id of ['ord-a', 'ord-b']) {
			const mine = ok.filter((e) => e.id === id).map((e) => e.seq);
			assert.deepEqual(mine, [...mine].sort((a, b) => a - b), `${id} events in commit order: ${mine}`);
		}
		const a = ok.filter((e) => e.id === 'ord-a');
		assert.deepEqual(a.map((e) => e.event), ['flag', 'review', 'review', 'review']);
		assert.equal(a.at(-1).after, 'approved', 'a receiver applying in arrival order ends where the record is');
		const rec = await L.api(s, 'GET', '/v1/images/ord-a');
		assert.equal(rec.json.result.status, 'approved');
		// A failed attempt and its retry carry the same id and seq.
		for (const g of rx.got.filter((x) => x.status === 500)) {
			const again = all.find((e) => e.event_id === g.ev.event_id);
			assert.ok(again, `event ${g.ev.event_id} delivered after its failure`);
			assert.equal(again.seq, g.ev.seq);
		}
		for (const e of all) assert.equal(e.event_id, `evt_${e.seq.toString(16).padStart(16, '0')}`);
	});

	test('a hanging receiver gets the retry only after the timeout and then the backoff', { timeout: T }, async () => {
		const rx = await receiver((n) => (n === 0 ? null : 200));
		const s = await start([...FLAG, '--webhook-url', rx.url, '--webhook-secret', 'k', '--webhook-timeout', '1']);
		const up = await L.upload(s, RGB, { id: 'hang-1' });
		assert.equal(up.status, 201, L.show(up));
		await waitFor(() => rx.got.length >= 2);
		const gap = rx.got[1].at - rx.got[0].at;
		assert.equal(rx.got[1].ev.event_id, rx.got[0].ev.event_id);
		// 1 s timeout, then the first backoff of 2 s.
		assert.ok(gap >= 2900, `retry came ${gap} ms after the first attempt`);
		await L.sleep(1000);
		assert.equal(rx.got.length, 2, 'delivered once the receiver answered');
	});

	test('dead letters are listed and retried through the API', { timeout: T }, async () => {
		let down = true;
		const rx = await receiver(() => (down ? 503 : 200));
		const s = await start([...FLAG, '--webhook-url', rx.url, '--webhook-secret', 'k', '--webhook-attempts', '2']);
		const up = await L.upload(s, RGB, { id: 'dead-1' });
		assert.equal(up.status, 201, L.show(up));
		const dead = await waitFor(async () => {
			const r = await L.api(s, 'GET', '/v1/webhooks/dead');
			return r.json.result.events.length ? r.json.result.events : null;
		});
		assert.equal(rx.got.length, 2);
		assert.equal(dead[0].image, 'dead-1');
		assert.equal(dead[0].attempts, 2);
		assert.equal(dead[0].last_status, 503);
		assert.equal(dead[0].body.event, 'flag');
		let m = (await L.req(s, 'GET', '/metrics')).text;
		assert.equal(metric(m, 'pictor_webhook_dead_letters'), 1);
		assert.equal(metric(m, 'pictor_webhook_outbox_depth'), 0);
		down = false;
		const r = await L.api(s, 'POST', `/v1/webhooks/dead/${dead[0].id}/retry`);
		assert.equal(r.status, 200, L.show(r));
		await waitFor(() => rx.got.some((g) => g.status === 200));
		const ok = rx.got.find((g) => g.status === 200).ev;
		assert.equal(ok.event_id, dead[0].id);
		assert.equal((await L.api(s, 'GET', '/v1/webhooks/dead')).json.result.events.length, 0);
		m = (await L.req(s, 'GET', '/metrics')).text;
		assert.equal(metric(m, 'pictor_webhook_dead_letters'), 0);
		const again = await L.api(s, 'POST', `/v1/webhooks/dead/${dead[0].id}/retry`);
		assert.equal(again.status, 404, L.show(again));
	});
});
