// Prometheus metrics and the JSON access log.

import assert from 'node:assert/strict';
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

test('counters move with traffic; the access log has one line per request without secrets', { timeout: T }, async () => {
	srv = await L.startServer();
	const up = await L.upload(srv, path.join(L.INPUTS, 'rgb.jpg'));
	assert.equal(up.status, 201);
	await L.req(srv, 'GET', `/img/${up.record.id}/w=50`);
	const etag = (await L.req(srv, 'GET', `/img/${up.record.id}/w=60`)).headers.get('etag');
	await L.req(srv, 'GET', `/img/${up.record.id}/w=60`, { headers: { 'If-None-Match': etag } });
	await L.req(srv, 'GET', '/nope');
	const signed = L.signedPath(`/img/${up.record.id}/w=70`, srv.signingKeys[0], L.now() + 60);
	await L.req(srv, 'GET', signed);
	const m = await L.req(srv, 'GET', '/metrics');
	assert.equal(m.status, 200);
	assert.match(m.headers.get('content-type'), /text\/plain/);
	assert.equal(metric(m.text, 'pictor_uploads_total'), 1);
	assert.equal(metric(m.text, 'pictor_classified_total'), 1);
	assert.ok(metric(m.text, 'pictor_renders_total') >= 3);
	assert.equal(metric(m.text, 'pictor_not_modified_total'), 1);
	assert.ok(metric(m.text, 'pictor_http_requests_total') >= 6);
	assert.ok(metric(m.text, 'pictor_http_responses_total{class="4xx"}') >= 1);
	assert.match(m.text, /# TYPE pictor_worker_load gauge/);

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
	assert.ok(lines.some((l) => l.path === `/img/${up.record.id}/w=70` && l.status === 200));
});
