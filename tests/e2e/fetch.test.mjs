// Upload from a URL, and the server-side request forgery it must not allow.
// Every target is on loopback: an allowed test server on 127.0.0.5
// (--fetch-allow 127.0.0.5/32) and a victim on 127.0.0.6 (and on 127.0.0.1
// and ::1 at the same port, for `localhost`) that counts connections. The
// victim is reached by literal address, decimal, octal, hex and short
// forms, IPv4-mapped and -compatible IPv6, `localhost`, and by redirects
// from the allowed server: all refused, and the victim sees no connection.
// No URL here names anything outside 127.0.0.0/8 and ::1, so no packet
// leaves the machine even if the code under test is wrong.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 60000 * L.TIME_SCALE;
const RGB = L.input('rgb.jpg');
const LIMIT = 1000000;

let srv;
let good; // the allowed server on 127.0.0.5
let goodPort;
let victimPort;
const victims = [];
let victimHits = 0;
let slowSockets = new Set();

function listen(server, host, port = 0) {
	return new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(port, host, () => resolve(server.address().port));
	});
}

function victimServer() {
	const s = http.createServer((req, res) => res.end('secret'));
	s.on('connection', () => { victimHits++; });
	return s;
}

before(async () => {
	good = http.createServer((req, res) => {
		const u = new URL(req.url, 'http://x');
		if (u.pathname === '/rgb.jpg') {
			res.writeHead(200, { 'Content-Type': 'image/jpeg' });
			res.end(RGB);
		} else if (u.pathname === '/text') {
			res.writeHead(200, { 'Content-Type': 'text/plain' });
			res.end('not an image at all');
		} else if (u.pathname === '/empty') {
			res.writeHead(200);
			res.end();
		} else if (u.pathname === '/redirect') {
			res.writeHead(Number(u.searchParams.get('code') ?? 302), { Location: u.searchParams.get('to') });
			res.end();
		} else if (u.pathname.startsWith('/chain/')) {
			const n = Number(u.pathname.slice(7));
			if (n === 0) {
				res.writeHead(200, { 'Content-Type': 'image/jpeg' });
				res.end(RGB);
			} else {
				res.writeHead(301, { Location: `/chain/${n - 1}` });
				res.end();
			}
		} else if (u.pathname === '/slow') {
			res.writeHead(200, { 'Content-Type': 'image/jpeg' });
			res.write(RGB.subarray(0, 100));
			slowSockets.add(res.socket); // never finished
		} else if (u.pathname === '/endless') {
			res.writeHead(200, { 'Content-Type': 'image/jpeg' });
			const chunk = Buffer.alloc(65536, 0x41);
			const pump = () => {
				while (!res.destroyed && res.write(chunk)) { /* fill the socket */ }
				if (!res.destroyed) res.once('drain', pump);
			};
			res.on('error', () => {});
			pump();
		} else if (u.pathname === '/big') {
			res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': String(LIMIT * 4) });
			res.end(Buffer.alloc(LIMIT * 4));
		} else {
			res.writeHead(404);
			res.end('no');
		}
	});
	goodPort = await listen(good, '127.0.0.5');
	const v = victimServer();
	victimPort = await listen(v, '127.0.0.6');
	victims.push(v);
	for (const host of ['127.0.0.1', '::1']) {
		const s = victimServer();
		try {
			await listen(s, host, victimPort);
			victims.push(s);
		} catch { /* port taken there or no IPv6: the 127.0.0.6 victim still counts */ }
	}
	srv = await L.startServer({ args: ['--fetch-allow', '127.0.0.5/32', '--fetch-timeout', '2',
		'--max-upload-bytes', String(LIMIT)] });
});

after(async () => {
	await srv?.kill();
	for (const s of slowSockets) s.destroy();
	good?.closeAllConnections?.();
	good?.close();
	for (const v of victims) v.close();
});

const fromUrl = (url, extra = {}) => L.api(srv, 'POST', '/v1/images', { url, ...extra });
const G = (p) => `http://127.0.0.5:${goodPort}${p}`;

describe('upload from a URL', () => {
	test('an allowed URL is fetched and stored like an upload', { timeout: T }, async () => {
		const r = await fromUrl(G('/rgb.jpg'), { id: 'from-url', metadata: { src: 'web' } });
		assert.equal(r.status, 201, L.show(r));
		assert.equal(r.json.result.id, 'from-url');
		assert.equal(r.json.result.filename, 'rgb.jpg');
		assert.deepEqual(r.json.result.meta, { src: 'web' });
		const blob = await L.api(srv, 'GET', '/v1/images/from-url/blob');
		assert.equal(L.sha256(blob.body), L.sha256(RGB));
		// The same as a multipart field, through a relative redirect and a chain of three.
		const fd = new FormData();
		fd.append('url', G('/redirect?to=/rgb.jpg'));
		fd.append('id', 'from-url-form');
		const m = await L.req(srv, 'POST', '/v1/images', { headers: srv.auth(), body: fd });
		assert.equal(m.status, 201, L.show(m));
		const c3 = await fromUrl(G('/chain/3'));
		assert.equal(c3.status, 201, L.show(c3));
	});

	test('the victim is never reached: every spelling, localhost, and redirects', { timeout: T }, async () => {
		const P = victimPort;
		const direct = [
			`http://127.0.0.6:${P}/`, `http://2130706438:${P}/`, `http://0177.0.0.06:${P}/`,
			`http://0x7f000006:${P}/`, `http://0x7f.0.0.6:${P}/`, `http://127.6:${P}/`, `http://127.0.6:${P}/`,
			`http://0177.6:${P}/`, `http://127.0.0.6.:${P}/`, `http://[::ffff:127.0.0.6]:${P}/`,
			`http://[::ffff:7f00:6]:${P}/`, `http://[::127.0.0.6]:${P}/`, `http://localhost:${P}/`,
			`http://LocalHost.:${P}/`, `http://[::1]:${P}/`, `http://127.0.0.1:${P}/`, `https://127.0.0.6:${P}/`,
		];
		for (const url of direct) {
			const r = await fromUrl(url);
			assert.equal(r.status, 400, `${url}: ${L.show(r)}`);
			assert.equal(L.errCode(r), 'url_not_allowed', url);
			assert.match(L.errMessage(r), /loopback/, url);
		}
		const targets = [...direct, `gopher://127.0.0.6:${P}/`, `file:///etc/passwd`, `http://user@127.0.0.6:${P}/`];
		for (const to of targets) {
			for (const code of [301, 302, 303, 307, 308]) {
				const r = await fromUrl(G(`/redirect?code=${code}&to=${encodeURIComponent(to)}`));
				assert.equal(r.status, 400, `${code} -> ${to}: ${L.show(r)}`);
				assert.equal(L.errCode(r), 'url_not_allowed', `${code} -> ${to}`);
			}
		}
		// A redirect that bounces through the allowed server first.
		const twice = G(`/redirect?to=${encodeURIComponent(G(`/redirect?to=${encodeURIComponent(`http://2130706438:${P}/`)}`))}`);
		const r2 = await fromUrl(twice);
		assert.equal(L.errCode(r2), 'url_not_allowed', L.show(r2));
		assert.equal(victimHits, 0, 'the victim saw a connection');
		assert.equal((await L.req(srv, 'GET', '/healthz')).status, 200);
	});

	test('malformed and forbidden URLs: 400 url_not_allowed naming the reason', { timeout: T }, async () => {
		for (const [url, reason] of [
			['ftp://127.0.0.5/x.jpg', 'scheme'], ['file:///etc/passwd', 'scheme'], ['not a url', 'malformed'], ['example.com/x.jpg', 'scheme'],
			[`http://user:pw@127.0.0.5:${goodPort}/rgb.jpg`, 'credentials'], ['http://127.0.0.5 /x', 'malformed'],
			['http://256.0.0.1/', 'invalid_address'], ['http://[fe80::1%25lo]/', 'malformed'],
			['http://169.254.169.254/latest/meta-data/', 'link_local'], ['http://[::]/', 'unspecified'],
			['http://10.0.0.1/', 'private'], ['http://0/', 'unspecified'], ['http://224.0.0.1/', 'multicast'],
		]) {
			const r = await fromUrl(url);
			assert.equal(r.status, 400, `${url}: ${L.show(r)}`);
			assert.equal(L.errCode(r), 'url_not_allowed', url);
			assert.ok(L.errMessage(r).includes(`(${reason})`), `${url}: ${L.errMessage(r)}`);
		}
		for (const body of [{ url: 7 }, { url: '' }]) {
			const r = await L.api(srv, 'POST', '/v1/images', body);
			assert.equal(r.status, 400, L.show(r));
		}
		const both = new FormData();
		both.append('file', new Blob([RGB]), 'a.jpg');
		both.append('url', G('/rgb.jpg'));
		const b = await L.req(srv, 'POST', '/v1/images', { headers: srv.auth(), body: both });
		assert.equal(b.status, 400, L.show(b));
		const noUrl = await L.api(srv, 'POST', '/v1/images', { id: 'x' });
		assert.equal(noUrl.status, 400, L.show(noUrl));
	});

	test('upstream failures: 404, too many redirects, slow, endless, too big, not an image', { timeout: T }, async () => {
		let r = await fromUrl(G('/missing.jpg'));
		assert.equal(r.status, 502, L.show(r));
		assert.equal(L.errCode(r), 'fetch_failed');
		assert.match(L.errMessage(r), /404/);
		r = await fromUrl(G('/chain/4'));
		assert.equal(r.status, 502, L.show(r));
		assert.match(L.errMessage(r), /redirect/);
		r = await fromUrl(G('/slow'));
		assert.equal(r.status, 502, L.show(r));
		assert.match(L.errMessage(r), /timed out/);
		r = await fromUrl(G('/endless'));
		assert.equal(r.status, 413, L.show(r));
		assert.equal(L.errCode(r), 'payload_too_large');
		r = await fromUrl(G('/big'));
		assert.equal(r.status, 413, L.show(r));
		r = await fromUrl(G('/text'));
		assert.equal(r.status, 415, L.show(r));
		assert.equal(L.errCode(r), 'unsupported_format');
		r = await fromUrl(G('/empty'));
		assert.equal(r.status, 400, L.show(r));
		r = await fromUrl(`http://127.0.0.5:${victimPort}/nothing-listens`);
		assert.equal(r.status, 502, L.show(r));
		const ids = (await L.listAll(srv, 1000)).map((x) => x.id);
		assert.equal(ids.length, 3, `only the three good fetches are stored: ${ids}`);
		assert.equal((await L.req(srv, 'GET', '/healthz')).status, 200);
	});

	test('--fetch-deny wins over --fetch-allow; a bad range stops the start', { timeout: T }, async () => {
		const s = await L.startServer({ args: ['--fetch-allow', '127.0.0.0/8', '--fetch-deny', '127.0.0.5/32'] });
		try {
			const r = await L.api(s, 'POST', '/v1/images', { url: G('/rgb.jpg') });
			assert.equal(r.status, 400, L.show(r));
			assert.match(L.errMessage(r), /\(denied\)/);
		} finally {
			await s.kill();
		}
		await assert.rejects(L.startServer({ args: ['--fetch-allow', '127.0.0.5/8'] }), /127\.0\.0\.5\/8/);
		assert.equal(victimHits, 0);
	});
});
