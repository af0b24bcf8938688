// SIGTERM drain: /readyz answers 503 while the listener stays open and a
// slow request finishes; then connections are refused and the process
// exits 0.

import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import * as L from './lib.mjs';

const T = 60000 * L.TIME_SCALE;

// An upload whose body we send in two halves, so it is in flight as long
// as we like. Resolves the response's status line and body.
function slowUpload(srv, body) {
	const sock = net.connect(srv.port, '127.0.0.1');
	let data = '';
	const done = new Promise((resolve, reject) => {
		sock.on('data', (c) => { data += c.toString('latin1'); });
		sock.on('end', () => resolve(data));
		sock.on('close', () => resolve(data));
		sock.on('error', reject);
	});
	const half = Math.floor(body.length / 2);
	const ready = new Promise((resolve) => sock.on('connect', resolve)).then(() => {
		sock.write(`POST /v1/images HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${srv.adminToken}\r\n` +
			`Content-Type: image/jpeg\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
		sock.write(body.subarray(0, half));
	});
	return { ready, finish: () => sock.write(body.subarray(half)), done };
}

function connectRefused(port) {
	return new Promise((resolve) => {
		const s = net.connect(port, '127.0.0.1');
		s.on('connect', () => { s.destroy(); resolve(false); });
		s.on('error', (e) => resolve(e.code === 'ECONNREFUSED'));
	});
}

test('SIGTERM: /readyz 503 with the listener open while a slow request finishes, then refused', { timeout: T }, async () => {
	const srv = await L.startServer({ args: ['--drain-timeout', '20s', '--moderation', 'off'] });
	try {
		assert.equal((await L.req(srv, 'GET', '/readyz')).status, 200);
		const body = L.input('rgb.jpg');
		const up = slowUpload(srv, body);
		await up.ready;
		await L.sleep(300);
		srv.proc.kill('SIGTERM');
		// Draining: not ready, but still reachable and still serving.
		let ready;
		for (let i = 0; i < 50; i++) {
			ready = await L.req(srv, 'GET', '/readyz');
			if (ready.status === 503) break;
			await L.sleep(100);
		}
		assert.equal(ready.status, 503, L.show(ready));
		assert.equal(L.errCode(ready), 'draining');
		assert.equal((await L.req(srv, 'GET', '/healthz')).status, 200, 'the listener is still open');
		const m = await L.req(srv, 'GET', '/metrics');
		assert.match(m.text, /^pictor_draining 1$/m);
		assert.ok(srv.running, 'still running while the upload is in flight');
		// The slow request finishes and is answered.
		up.finish();
		const answer = await up.done;
		assert.match(answer, /^HTTP\/1\.1 201 /, answer.slice(0, 300));
		// Then the process closes its listener and exits cleanly.
		const info = await Promise.race([srv.exited, L.sleep(15000 * L.TIME_SCALE).then(() => null)]);
		assert.ok(info, 'exited after the drain');
		assert.equal(info.code, 0, srv.logText().split('\n').slice(-5).join('\n'));
		assert.ok(await connectRefused(srv.port), 'connections are refused after the drain');
		const order = srv.logs.map((l) => l.msg).filter((msg) => /draining|listener closed|stopped/.test(msg ?? ''));
		assert.deepEqual(order, ['signal 15: draining', 'listener closed', 'stopped']);
		// The upload is durable: a new daemon on the same directory lists it.
		const again = await L.startServer({ dataDir: srv.dataDir, args: ['--moderation', 'off'] });
		try {
			const id = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).result.id;
			assert.equal((await L.api(again, 'GET', `/v1/images/${id}`)).status, 200);
		} finally {
			await again.kill();
		}
	} finally {
		await srv.kill();
	}
});

test('SIGTERM with nothing in flight: refused at once, exit 0', { timeout: T }, async () => {
	const srv = await L.startServer({ args: ['--drain-timeout', '20s', '--moderation', 'off'] });
	try {
		// stop() gives up (and fails) after its own limit, well under 20 s.
		assert.equal(await srv.stop(10000 * L.TIME_SCALE), 0);
		assert.ok(await connectRefused(srv.port));
	} finally {
		await srv.kill();
	}
});
