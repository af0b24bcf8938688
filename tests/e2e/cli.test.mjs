// The command line: help, version, config (masking and precedence file < env
// < flag), errors on bad flags, and a clean exit on SIGTERM.

import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 30000 * L.TIME_SCALE;
const ADMIN = 'a1'.repeat(32);
const KEY1 = 'k1'.repeat(32);
const KEY2 = 'k2'.repeat(32);

// Value of `key` anywhere in a JSON document (first match, depth first).
function findKey(obj, key) {
	if (obj && typeof obj === 'object') {
		if (Object.hasOwn(obj, key)) return obj[key];
		for (const v of Object.values(obj)) {
			const r = findKey(v, key);
			if (r !== undefined) return r;
		}
	}
	return undefined;
}

async function dataDirWithSecrets() {
	const dir = await L.tmpDir();
	await fs.writeFile(path.join(dir, 'secrets.json'), JSON.stringify({ admin_token: ADMIN, signing_keys: [KEY1, KEY2] }),
		{ mode: 0o600 });
	return dir;
}

async function config(args, env = {}) {
	const r = await L.runCli(['config', ...args], { env });
	assert.equal(r.code, 0, `pictor config ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
	let json;
	try {
		json = JSON.parse(r.stdout);
	} catch (e) {
		assert.fail(`pictor config did not print JSON: ${e.message}\n${r.stdout}`);
	}
	return { json, ...r };
}

describe('help and version', () => {
	test('pictor --help', { timeout: T }, async () => {
		const r = await L.runCli(['--help']);
		assert.equal(r.code, 0, r.stderr);
		const out = r.stdout + r.stderr;
		for (const w of ['serve', 'sign', 'config', 'version']) assert.match(out, new RegExp(`\\b${w}\\b`), `--help lacks ${w}`);
	});
	test('pictor serve --help', { timeout: T }, async () => {
		const r = await L.runCli(['serve', '--help']);
		assert.equal(r.code, 0, r.stderr);
		const out = r.stdout + r.stderr;
		for (const f of ['--listen', '--data', '--workers', '--queue', '--max-upload-bytes', '--config', '--signing-keys']) {
			assert.ok(out.includes(f), `serve --help lacks ${f}`);
		}
	});
	test('pictor sign --help', { timeout: T }, async () => {
		const r = await L.runCli(['sign', '--help']);
		assert.equal(r.code, 0, r.stderr);
		const out = r.stdout + r.stderr;
		assert.ok(out.includes('--ttl'), 'sign --help lacks --ttl');
		assert.ok(out.includes('--exp'), 'sign --help lacks --exp');
	});
	test('pictor version names the libraries with their versions', { timeout: T }, async () => {
		const r = await L.runCli(['version']);
		assert.equal(r.code, 0, r.stderr);
		const out = r.stdout;
		for (const lib of [/vips/i, /microhttpd/i, /lmdb/i, /jansson/i, /openssl/i]) {
			const line = out.split('\n').find((l) => lib.test(l));
			assert.ok(line, `version output lacks ${lib}: ${out}`);
			assert.match(line, /\d+\.\d+/, `no version number for ${lib}: ${line}`);
		}
		assert.match(out, /pictor/i);
	});
});

describe('pictor config', () => {
	test('prints JSON with the defaults of CONFIG.md', { timeout: T }, async () => {
		const dir = await dataDirWithSecrets();
		const { json } = await config(['--data', dir]);
		const want = {
			listen: '127.0.0.1:8080', queue: 64, http_threads: 2, max_upload_bytes: 33554432, max_pixels: 100000000,
			max_side: 16384, max_frames: 500, conn_timeout: 30, per_ip_conns: 64, conn_memory: 65536, drain_timeout: 10,
			log_level: 'info',
		};
		for (const [k, v] of Object.entries(want)) assert.deepEqual(findKey(json, k), v, `default ${k}`);
		assert.equal(findKey(json, 'data'), dir);
		const variants = findKey(json, 'variants');
		assert.equal(variants?.public, 'f=auto');
		assert.equal(variants?.thumbnail, 'w=200,h=200,fit=cover,g=auto,f=auto');
	});

	test('masks secrets from secrets.json, flags and environment', { timeout: T }, async () => {
		const dir = await dataDirWithSecrets();
		for (const [args, env, secrets] of [
			[['--data', dir], {}, [ADMIN, KEY1, KEY2]],
			[['--data', dir, '--admin-token', 'flag-secret-token-7f3a9c2e1b8d4f60a5e3c7b9', '--signing-keys', 'flagkey-one,flagkey-two'], {},
				['flag-secret-token-7f3a9c2e1b8d4f60a5e3c7b9', 'flagkey-one', 'flagkey-two']],
			[['--data', dir], { PICTOR_ADMIN_TOKEN: 'env-secret-token-0c9b8a7d6e5f4a3b2c1d0e9f', PICTOR_SIGNING_KEYS: 'envkey-one' },
				['env-secret-token-0c9b8a7d6e5f4a3b2c1d0e9f', 'envkey-one']],
		]) {
			const { json, stdout, stderr } = await config(args, env);
			for (const s of secrets) {
				assert.ok(!stdout.includes(s) && !stderr.includes(s), `secret ${s} printed by pictor config`);
			}
			const tok = findKey(json, 'admin_token');
			assert.equal(typeof tok, 'string', `admin_token shown (masked): ${stdout}`);
			assert.ok(tok.includes('***'), `admin_token not masked with ***: ${tok}`);
			const keys = findKey(json, 'signing_keys');
			assert.ok(keys !== undefined, 'signing_keys shown (masked)');
			assert.ok(JSON.stringify(keys).includes('***'), `signing_keys not masked: ${JSON.stringify(keys)}`);
		}
	});

	test('precedence: file < environment < flag', { timeout: T }, async () => {
		const dir = await dataDirWithSecrets();
		const file = path.join(dir, 'pictor.json');
		await fs.writeFile(file, JSON.stringify({ max_side: 1111, queue: 7, log_level: 'warn', workers: 3 }));
		let c = await config(['--data', dir, '--config', file]);
		assert.equal(findKey(c.json, 'max_side'), 1111, 'from the file');
		assert.equal(findKey(c.json, 'queue'), 7);
		assert.equal(findKey(c.json, 'workers'), 3);
		c = await config(['--data', dir], { PICTOR_CONFIG: file });
		assert.equal(findKey(c.json, 'max_side'), 1111, 'file named by PICTOR_CONFIG');
		c = await config(['--data', dir, '--config', file], { PICTOR_MAX_SIDE: '2222' });
		assert.equal(findKey(c.json, 'max_side'), 2222, 'environment over file');
		assert.equal(findKey(c.json, 'queue'), 7, 'the rest of the file stays');
		c = await config(['--data', dir, '--config', file, '--max-side', '3333'], { PICTOR_MAX_SIDE: '2222' });
		assert.equal(findKey(c.json, 'max_side'), 3333, 'flag over environment');
		c = await config(['--data', dir, '--max-side=4444']);
		assert.equal(findKey(c.json, 'max_side'), 4444, '--flag=value form');
		c = await config(['--data', dir], { PICTOR_LOG_LEVEL: 'debug', PICTOR_QUEUE: '9' });
		assert.equal(findKey(c.json, 'log_level'), 'debug');
		assert.equal(findKey(c.json, 'queue'), 9);
	});

	test('file variants add to the defaults', { timeout: T }, async () => {
		const dir = await dataDirWithSecrets();
		const file = path.join(dir, 'pictor.json');
		await fs.writeFile(file, JSON.stringify({ variants: { tiny: 'w=10,f=png', thumbnail: 'w=50,h=50,fit=cover' } }));
		const c = await config(['--data', dir, '--config', file]);
		const v = findKey(c.json, 'variants');
		assert.equal(v.tiny, 'w=10,f=png');
		assert.equal(v.thumbnail, 'w=50,h=50,fit=cover');
		assert.equal(v.public, 'f=auto');
	});
});

describe('errors', () => {
	for (const [args, word] of [
		[['serve', '--bogus-flag'], 'bogus-flag'],
		[['config', '--bogus-flag'], 'bogus-flag'],
		[['sign', '/img/x/public', '--bogus-flag'], 'bogus-flag'],
		[['no-such-command'], 'no-such-command'],
		[['config', '--max-side', 'abc'], 'max'],
		[['config', '--workers', '-3'], 'workers'],
		[['config', '--log-level', 'loud'], 'log'],
		[['config', '--max-side'], 'max-side'],
	]) {
		test(`pictor ${args.join(' ')} -> non-zero exit, message on stderr`, { timeout: T }, async () => {
			const dir = await L.tmpDir();
			const argv = ['serve', 'config', 'sign'].includes(args[0]) ? [args[0], '--data', dir, ...args.slice(1)] : args;
			const r = await L.runCli(argv);
			assert.notEqual(r.code, 0, `exit 0 for ${args.join(' ')}`);
			assert.equal(r.signal, null, `killed by ${r.signal}`);
			assert.ok(r.stderr.toLowerCase().includes(word.toLowerCase()), `stderr does not mention ${word}: ${r.stderr}`);
		});
	}

	test('a broken config file is an error', { timeout: T }, async () => {
		const dir = await L.tmpDir();
		const file = path.join(dir, 'bad.json');
		await fs.writeFile(file, '{"max_side": ');
		const r = await L.runCli(['config', '--data', dir, '--config', file]);
		assert.notEqual(r.code, 0);
		assert.ok(r.stderr.length > 0);
		const r2 = await L.runCli(['config', '--data', dir, '--config', path.join(dir, 'missing.json')]);
		assert.notEqual(r2.code, 0, 'a missing config file is an error');
	});

	// The second serve loads its models before it binds: on a loaded
	// machine that alone can take several seconds. One that served on the
	// same port would run until killed at the bound, and fail.
	test('serve on a port in use fails cleanly', { timeout: 3 * T }, async () => {
		const a = await L.startServer();
		try {
			const dir = await L.tmpDir();
			const r = await L.runCli(['serve', '--listen', a.addr, '--data', dir], { timeout: 60000 });
			assert.notEqual(r.code, 0);
			assert.equal(r.signal, null, `it must exit by itself, not serve on the same port: ${r.stderr.slice(0, 400)}`);
		} finally {
			await a.kill();
		}
	});
});

describe('serve', () => {
	let srv;
	after(async () => {
		await srv?.kill();
	});

	test('configured variants are served', { timeout: T }, async () => {
		const dir = await L.tmpDir();
		const file = path.join(dir, 'pictor.json');
		await fs.writeFile(file, JSON.stringify({ variants: { tiny: 'w=10,f=png' } }));
		srv = await L.startServer({ env: { PICTOR_CONFIG: file } });
		const up = await L.upload(srv, path.join(L.INPUTS, 'rgb.jpg'));
		assert.ok(up.record.variants.some((u) => u.endsWith(`/img/${up.record.id}/tiny`)), JSON.stringify(up.record.variants));
		const r = await L.req(srv, 'GET', `/img/${up.record.id}/tiny`);
		assert.equal(r.status, 200, L.show(r));
		const p = L.probe(r.body);
		assert.deepEqual([p.format, p.width], ['png', 10]);
		await srv.kill();
	});

	test('--admin-token and --public-url are used', { timeout: T }, async () => {
		srv = await L.startServer({ args: ['--admin-token', 'my-admin-token-5e8d2c9b7a1f4e3d6c0b9a8f', '--public-url', 'https://img.example.test'],
			adminToken: 'my-admin-token-5e8d2c9b7a1f4e3d6c0b9a8f' });
		const up = await L.upload(srv, path.join(L.INPUTS, 'rgb.jpg'));
		assert.equal(up.status, 201, L.show(up));
		assert.ok(up.record.variants.every((u) => u.startsWith('https://img.example.test/img/')), JSON.stringify(up.record.variants));
		await srv.kill();
	});

	test('the variants use the real port when listening on port 0', { timeout: T }, async () => {
		srv = await L.startServer();
		const up = await L.upload(srv, path.join(L.INPUTS, 'rgb.jpg'));
		assert.ok(up.record.variants[0].startsWith(`${srv.base}/img/`), JSON.stringify(up.record.variants));
		await srv.kill();
	});

	test('secrets.json is created with mode 0600', { timeout: T }, async () => {
		srv = await L.startServer();
		const st = await fs.stat(path.join(srv.dataDir, 'secrets.json'));
		assert.equal(st.mode & 0o777, 0o600);
		assert.match(srv.adminToken, /^[0-9a-f]{64}$/);
		assert.match(srv.signingKeys[0], /^[0-9a-f]{64}$/);
		await srv.kill();
	});

	test('SIGTERM: clean exit 0 within the drain timeout', { timeout: T }, async () => {
		srv = await L.startServer({ args: ['--drain-timeout', '3'] });
		const up = await L.upload(srv, path.join(L.INPUTS, 'rgb.jpg'));
		assert.equal(up.status, 201);
		// a keep-alive connection stays open; shutdown must not wait for it
		const h = await L.req(srv, 'GET', '/healthz');
		assert.equal(h.status, 200);
		// Waiting on the idle connection would end in the drain timeout,
		// which exits 1 with "drain timeout" in the log: the exit status
		// and the log say so without timing the shutdown (a loaded
		// machine may take seconds to schedule it).
		const code = await srv.stop(15000 * L.TIME_SCALE);
		const log = srv.logText();
		assert.equal(code, 0, `exit code ${code} (${JSON.stringify(srv.exitInfo)}); log:\n${log.split('\n').slice(-4).join('\n')}`);
		assert.doesNotMatch(log, /drain timeout/);
		assert.match(log, /"msg":"stopped"/);
		// and it comes back with its data
		srv = await L.startServer({ dataDir: srv.dataDir });
		const g = await L.api(srv, 'GET', `/v1/images/${up.record.id}`);
		assert.equal(g.status, 200, L.show(g));
		assert.equal(await srv.stop(), 0);
	});

	test('SIGTERM lets an in-flight request finish, then exits 0', { timeout: 5 * T }, async () => {
		// ten daemon starts and AVIF renders: minutes on a busy machine
		// repeated: the end of a transform racing with the drain is the case
		for (let i = 0; i < 10; i++) {
			srv = await L.startServer({ args: ['--drain-timeout', '5'] });
			const big = await L.upload(srv, path.join(L.INPUTS, 'png16.png'));
			assert.equal(big.status, 201);
			let settled = false;
			const inflight = L.req(srv, 'GET', `/img/${big.record.id}/w=${300 - i},f=avif,q=90`)
				.finally(() => { settled = true; });
			// The signal must find the request accepted (on a busy machine
			// the connection may not even be open after a fixed sleep):
			// wait until a worker holds it, or it has already finished.
			for (const end = Date.now() + 5000; !settled && Date.now() < end;) {
				const m = await L.req(srv, 'GET', '/metrics');
				if (/^pictor_worker_load [1-9]/m.test(m.text)) break;
				await L.sleep(5);
			}
			await L.sleep(10 * i);
			const t0 = performance.now();
			const code = srv.stop();
			const r = await inflight.catch((e) => ({ status: 0, error: e }));
			assert.ok(r.status === 200 || r.status === 503, `in-flight request: ${r.status} ${r.error ?? ''}`);
			const c = await code;
			const tail = srv.logText().split('\n').slice(-4).join('\n');
			assert.equal(c, 0, `round ${i}: exit code ${c} ${performance.now() - t0 < 5000 ? 'well before the drain timeout' : ''}; log:\n${tail}`);
		}
	});
});
