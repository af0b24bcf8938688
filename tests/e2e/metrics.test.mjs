// Prometheus metrics and the JSON access log.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import * as L from './lib.mjs';

const T = 60000 * L.TIME_SCALE;
let srv;
after(async () => {
	await srv?.kill();
});

function metric(text, name) {
	const line = text.split('\n').find((l) => l.startsWith(name + ' '));
	return line ? Number(line.split(' ')[1]) : undefined;
}

// Parse the text exposition strictly: every sample belongs to a family
// declared with # TYPE, histogram samples use the _bucket/_sum/_count
// suffixes, buckets are cumulative and end with +Inf == _count.
function parseExposition(text) {
	const fams = new Map();
	let cur;
	for (const line of text.split('\n')) {
		if (!line) continue;
		let mt = line.match(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/);
		if (mt) {
			assert.ok(!fams.has(mt[1]), `${mt[1]} declared twice`);
			cur = { type: mt[2], samples: [] };
			fams.set(mt[1], cur);
			continue;
		}
		if (line.startsWith('# HELP ')) continue;
		mt = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/);
		assert.ok(mt, `not a sample line: ${line}`);
		assert.ok(cur, `sample before # TYPE: ${line}`);
		const name = mt[1];
		const base = [...fams.keys()].at(-1);
		if (cur.type === 'histogram') {
			assert.ok([base + '_bucket', base + '_sum', base + '_count'].includes(name), line);
		} else {
			assert.equal(name, base, line);
		}
		assert.ok(!Number.isNaN(Number(mt[3].replace('+Inf', 'Infinity'))), line);
		cur.samples.push({ name, labels: mt[2] ?? '', value: Number(mt[3].replace('+Inf', 'Infinity')) });
	}
	for (const [name, f] of fams) {
		assert.equal(name.endsWith('_total'), f.type === 'counter', `${name}: _total only and always on counters`);
		assert.ok(!/_(us|ms)(_|$)/.test(name), `${name}: base units only`);
		if (f.type !== 'histogram') continue;
		const count = new Map();
		for (const s of f.samples.filter((s) => s.name.endsWith('_count'))) count.set(s.labels, s.value);
		const last = new Map();
		for (const s of f.samples.filter((s) => s.name.endsWith('_bucket'))) {
			const key = s.labels.replace(/,?le="[^"]*"/, '').replace('{}', '');
			assert.ok(s.value >= (last.get(key) ?? 0), `${name}: buckets are cumulative`);
			last.set(key, s.value);
			if (s.labels.includes('le="+Inf"')) assert.equal(s.value, count.get(key), `${name}${key}: +Inf == _count`);
		}
	}
	return fams;
}

test('counters move with traffic; the access log has one line per request without secrets', { timeout: T }, async () => {
	srv = await L.startServer();
	const up = await L.upload(srv, path.join(L.INPUTS, 'rgb.jpg'));
	assert.equal(up.status, 201);
	await L.req(srv, 'GET', `/img/${up.record.id}/w=50`);
	const etag = (await L.req(srv, 'GET', `/img/${up.record.id}/w=60`)).headers.get('etag');
	await L.req(srv, 'GET', `/img/${up.record.id}/w=60`, { headers: { 'If-None-Match': etag } });
	await L.req(srv, 'GET', '/nope', { headers: { 'User-Agent': `probe/1.0 ${'x'.repeat(300)}` } });
	const signed = L.signedPath(`/img/${up.record.id}/w=70`, srv.signingKeys[0], L.now() + 60);
	await L.req(srv, 'GET', signed);
	// Durations are observed when a response's last byte has left, which
	// on another keep-alive connection can be just after this scrape: scrape
	// until the five answers above are all counted (bounded).
	let m;
	for (let i = 0; i < 50; i++) {
		m = await L.req(srv, 'GET', '/metrics');
		if (metric(m.text, 'pictor_http_request_duration_seconds_count{route="delivery",status="200"}') >= 3 &&
		    metric(m.text, 'pictor_http_request_duration_seconds_count{route="delivery",status="304"}') >= 1)
			break;
		await new Promise((r) => setTimeout(r, 20));
	}
	assert.equal(m.status, 200);
	assert.match(m.headers.get('content-type'), /text\/plain/);
	assert.equal(metric(m.text, 'pictor_uploads_total'), 1);
	assert.equal(metric(m.text, 'pictor_classified_total'), 1);
	assert.ok(metric(m.text, 'pictor_renders_total') >= 3);
	assert.equal(metric(m.text, 'pictor_not_modified_total'), 1);
	assert.ok(metric(m.text, 'pictor_http_requests_total') >= 6);
	assert.ok(metric(m.text, 'pictor_http_responses_total{class="4xx"}') >= 1);
	assert.match(m.text, /# TYPE pictor_worker_load gauge/);

	// Latency by route class and status, in seconds.
	const fams = parseExposition(m.text);
	assert.equal(fams.get('pictor_http_request_duration_seconds')?.type, 'histogram');
	assert.ok(metric(m.text, 'pictor_http_request_duration_seconds_count{route="upload",status="201"}') === 1);
	assert.ok(metric(m.text, 'pictor_http_request_duration_seconds_count{route="delivery",status="200"}') >= 3);
	assert.ok(metric(m.text, 'pictor_http_request_duration_seconds_count{route="delivery",status="304"}') === 1);
	assert.ok(metric(m.text, 'pictor_http_request_duration_seconds_count{route="other",status="404"}') === 1);
	assert.ok(metric(m.text, 'pictor_http_request_duration_seconds_bucket{route="upload",status="201",le="+Inf"}') === 1);
	// Work timings and sizes.
	assert.equal(metric(m.text, 'pictor_upload_size_bytes_count'), 1);
	assert.ok(metric(m.text, 'pictor_upload_size_bytes_sum') > 1000);
	assert.equal(metric(m.text, 'pictor_upload_duration_seconds_count'), 1);
	assert.ok(metric(m.text, 'pictor_render_duration_seconds_count') >= 3);
	assert.ok(metric(m.text, 'pictor_render_duration_seconds_sum') > 0);
	const waits = (cls) => metric(m.text, `pictor_queue_wait_seconds_count{class="${cls}"}`) ?? 0;
	assert.ok(waits('upload') >= 1 && waits('upload') + waits('render') >= 4, 'the upload and the renders waited for a worker, each in its class');
	assert.equal(metric(m.text, 'pictor_draining'), 0);

	// The dashboard in docs/ only queries metrics that exist.
	const dash = JSON.parse(fs.readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url)));
	const exprs = JSON.stringify(dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)));
	const used = new Set(exprs.match(/pictor_[a-z_]+/g));
	assert.ok(used.size >= 10);
	for (const n of used) {
		const fam = fams.has(n) ? n : n.replace(/_(bucket|sum|count)$/, '');
		assert.ok(fams.has(fam), `the dashboard queries ${n}, which /metrics does not expose`);
		if (fam !== n) assert.equal(fams.get(fam).type, 'histogram', n);
	}

	await L.sleep(200);
	const lines = srv.logs.filter((l) => l.msg === 'request');
	assert.ok(lines.length >= 7, `${lines.length} access-log lines`);
	for (const l of lines) {
		for (const k of ['request_id', 'method', 'path', 'status', 'bytes', 'ms', 'remote']) {
			assert.ok(k in l, `access log line lacks ${k}: ${JSON.stringify(l)}`);
		}
	}
	const all = JSON.stringify(srv.logs);
	assert.ok(!all.includes(srv.adminToken), 'the admin token is never logged');
	assert.ok(!all.includes('sig='), 'signatures are never logged');
	// nor the credentials of the stores in use (PICTOR_E2E_BLOB's bucket)
	if (L.S3) assert.ok(!all.includes(process.env.AWS_SECRET_ACCESS_KEY), 'the S3 secret key is never logged');
	assert.ok(lines.some((l) => l.path === `/img/${up.record.id}/w=70` && l.status === 200));
	// Failures carry their error code; the user agent is kept, truncated.
	const nope = lines.find((l) => l.path === '/nope');
	assert.equal(nope.status, 404);
	assert.equal(nope.error, 'not_found');
	assert.equal(nope.ua, `probe/1.0 ${'x'.repeat(118)}`);
	assert.equal(nope.remote, '127.0.0.1');
	const ok = lines.find((l) => l.path === `/img/${up.record.id}/w=70`);
	assert.equal(ok.error, undefined, 'no error on a 2xx');
	assert.equal(typeof ok.ua, 'string');
});
