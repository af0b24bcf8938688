// lib.mjs - helpers of Pictor's end-to-end suite (Node 20 built-ins only).
//
// startServer() runs the daemon on a free loopback port with a fresh data
// directory; upload()/req()/api() talk to it; probe() reads the dimensions,
// format and frame count of JPEG/PNG/WebP/GIF/AVIF bytes; decodePng() and
// encodePng() let tests compare and create pixels; exif() reads the tags a
// delivered image carries. Every spawned daemon is killed when the test
// process exits, whatever happens.

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.resolve(process.env.PICTOR_BIN || path.join(ROOT, 'pictor'));
export const CORPUS = path.resolve(process.env.PICTOR_CORPUS || path.join(ROOT, 'build', 'corpus'));
export const INPUTS = path.join(ROOT, 'tests', 'data', 'inputs');
// The classifier model installed by `make models`; moderation is on by
// default and the daemon refuses to start without it.
export const MODELS = path.resolve(process.env.PICTOR_MODELS || path.join(ROOT, 'models'));
// Slower builds (sanitizers) may scale every time limit with PICTOR_TIME_SCALE.
export const TIME_SCALE = Number(process.env.PICTOR_TIME_SCALE || (/asan/.test(BIN) ? 3 : 1)) || 1;
// Sanitizer builds carry shadow memory and a quarantine: absolute memory
// limits scale too (growth limits do not).
export const MEM_SCALE = /asan/.test(BIN) ? 4 : 1;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');
export const input = (name) => fs.readFileSync(path.join(INPUTS, name));

// ---------------------------------------------------------------------------
// Processes and temporary directories are cleaned up on exit.

const liveProcs = new Set();
const tmpDirs = new Set();
process.on('exit', () => {
	for (const p of liveProcs) {
		try { p.kill('SIGKILL'); } catch { /* gone */ }
	}
	if (!process.env.PICTOR_KEEP_DATA) {
		for (const d of tmpDirs) {
			try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
		}
	}
});
for (const sig of ['SIGINT', 'SIGTERM']) {
	process.on(sig, () => process.exit(130));
}
// Under the test runner: once a file's tests are done, daemons a failed
// test left running are killed, or their pipes would keep the file's
// process (and so the whole run) alive for ever.
if (process.env.NODE_TEST_CONTEXT) {
	const { after } = await import('node:test');
	after(() => {
		for (const p of liveProcs) {
			try { p.kill('SIGKILL'); } catch { /* gone */ }
		}
	});
}

export async function tmpDir(prefix = 'pictor-e2e-') {
	const d = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
	tmpDirs.add(d);
	return d;
}

export function binExists() {
	try {
		fs.accessSync(BIN, fs.constants.X_OK);
		return true;
	} catch {
		return false;
	}
}

// PICTOR_E2E_BLOB (an s3:// location; `make s3` sets it) runs the suite
// with originals in that bucket: each data directory gets a prefix of its
// own under the location's, so daemons never share (or delete) each
// other's blobs, and the CLI run on a data directory finds its server's.
export const S3 = (process.env.PICTOR_E2E_BLOB || '').startsWith('s3://');
export function blobFor(dataDir) {
	if (!S3 || !dataDir) return {};
	const [loc, query] = process.env.PICTOR_E2E_BLOB.split('?');
	const where = `${loc.replace(/\/+$/, '')}/${path.basename(path.resolve(dataDir))}`;
	return { PICTOR_BLOB: query ? `${where}?${query}` : where };
}

// Environment for the daemon: ours without PICTOR_* (so the suite's own
// variables never configure it), plus the blob store of dataDir under
// PICTOR_E2E_BLOB, plus the overrides.
function daemonEnv(extra = {}, dataDir = null) {
	const env = {};
	for (const [k, v] of Object.entries(process.env)) {
		if (!k.startsWith('PICTOR_')) env[k] = v;
	}
	env.PICTOR_MODELS = MODELS;
	return { ...env, ...blobFor(dataDir), ...extra };
}

// With PICTOR_TEST_PG set (tests/pg/run.sh), daemons and CLI commands keep
// their records in that PostgreSQL database: one schema per data directory,
// so a restart on the same directory finds them and tests never share keys.
function pgEnv(dataDir, args, env) {
	const base = process.env.PICTOR_TEST_PG;
	if (!base || !dataDir || args.includes('--meta') || env.PICTOR_META) return env;
	const schema = pgSchema(dataDir);
	const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', base,
		'-c', `CREATE SCHEMA IF NOT EXISTS ${schema}`], { encoding: 'utf8' });
	if (r.status !== 0) throw new Error(`psql: ${r.stderr || r.error}`);
	return { ...env, PICTOR_META: `${base}${base.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}` };
}

// ---------------------------------------------------------------------------
// The stores a data directory's daemon actually uses, for tests that look
// behind Pictor's back: originals under <data>/blobs/ or in the bucket
// (PICTOR_E2E_BLOB), records in <data>/meta/data.mdb or in the data
// directory's PostgreSQL schema (PICTOR_TEST_PG). Bucket requests go
// through curl's own SigV4 signer, independent of Pictor's.

export const PG = !!process.env.PICTOR_TEST_PG;
// Both external stores at once: the second run of the whole suite.
export const EXTERNAL = S3 || PG;

export function pgSchema(dataDir) {
	return 'e2e_' + sha256(path.resolve(dataDir)).slice(0, 16);
}

// Run SQL in dataDir's schema; returns psql's unaligned output.
export function pgQuery(dataDir, sql) {
	const r = spawnSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', process.env.PICTOR_TEST_PG,
		'-c', `SET search_path TO ${pgSchema(dataDir)}`, '-c', sql], { encoding: 'utf8', maxBuffer: 1 << 28 });
	if (r.status !== 0) throw new Error(`psql: ${r.stderr || r.error}`);
	return r.stdout;
}

// Every byte the metadata store holds for dataDir: the LMDB file, or each
// key and value of the schema's table.
export function storeBytes(dataDir) {
	if (!PG) return fs.readFileSync(path.join(dataDir, 'meta', 'data.mdb'));
	const hex = pgQuery(dataDir, "SELECT encode(k, 'hex') || encode(v, 'hex') FROM pictor_kv");
	return Buffer.from(hex.replace(/\s+/g, ''), 'hex');
}

// The bucket, key prefix and endpoint of dataDir's originals.
export function s3Where(dataDir) {
	const u = new URL(blobFor(dataDir).PICTOR_BLOB.replace(/^s3:/, 'http:'));
	return { bucket: u.hostname, prefix: u.pathname.replace(/^\/+/, ''), endpoint: u.searchParams.get('endpoint') };
}
export function s3ObjectUrl(dataDir, sha) {
	const w = s3Where(dataDir);
	return `${w.endpoint}/${w.bucket}/${w.prefix}/blobs/${sha.slice(0, 2)}/${sha.slice(2, 4)}/${sha}`;
}

// One request to the bucket signed by curl: {status, body (string)}.
export function s3curl(method, url, body = null, { binary = false } = {}) {
	const args = ['-s', '-m', '20', '-w', '\n%{http_code}',
		...(method === 'HEAD' ? ['--head'] : ['-X', method]),
		'--aws-sigv4', 'aws:amz:us-east-1:s3',
		'--user', `${process.env.AWS_ACCESS_KEY_ID}:${process.env.AWS_SECRET_ACCESS_KEY}`,
		'-H', `x-amz-content-sha256: ${sha256(body ?? Buffer.alloc(0))}`];
	let file = null;
	if (body) {
		// --upload-file: curl signs what it sends, with no Content-Type
		file = path.join(os.tmpdir(), `pictor-s3curl-${process.pid}-${sha256(body).slice(0, 16)}`);
		fs.writeFileSync(file, body);
		args.push('--upload-file', file);
	}
	args.push(url);
	// binary: the body as a Buffer (an original's bytes), else as text
	const r = spawnSync('curl', args, { maxBuffer: 1 << 28 });
	if (file) fs.rmSync(file, { force: true });
	const nl = r.stdout.lastIndexOf(10);
	const out = r.stdout.subarray(0, Math.max(nl, 0));
	return { status: Number(r.stdout.subarray(nl + 1).toString()), body: binary ? out : out.toString('utf8'), stderr: String(r.stderr) };
}

// Where the data directory's file store keeps the original sha.
export function blobFile(dataDir, sha) {
	return path.join(dataDir, 'blobs', sha.slice(0, 2), sha.slice(2, 4), sha);
}

// The SHA-256 names of the originals stored for dataDir.
export function blobNames(dataDir) {
	if (!S3) return walk(path.join(dataDir, 'blobs')).map((f) => path.basename(f)).sort();
	const w = s3Where(dataDir);
	const names = [];
	let token = '';
	for (;;) {
		const q = `list-type=2&prefix=${encodeURIComponent(`${w.prefix}/blobs/`)}` +
			(token ? `&continuation-token=${encodeURIComponent(token)}` : '');
		const r = s3curl('GET', `${w.endpoint}/${w.bucket}?${q}`);
		if (r.status !== 200) throw new Error(`bucket listing: ${r.status} ${r.body}`);
		for (const m of r.body.matchAll(/<Key>([^<]*)<\/Key>/g)) names.push(path.basename(m[1]));
		const next = r.body.match(/<NextContinuationToken>([^<]*)<\/NextContinuationToken>/);
		if (!/<IsTruncated>true<\/IsTruncated>/.test(r.body) || !next) break;
		token = next[1];
	}
	return names.sort();
}

// Remove (or replace with other bytes) an original behind Pictor's back.
export function blobDelete(dataDir, sha) {
	if (!S3) {
		fs.unlinkSync(blobFile(dataDir, sha));
		return;
	}
	const r = s3curl('DELETE', s3ObjectUrl(dataDir, sha));
	if (r.status !== 204 && r.status !== 200) throw new Error(`bucket delete: ${r.status} ${r.body}`);
}
export function blobPut(dataDir, sha, bytes) {
	if (!S3) {
		const f = blobFile(dataDir, sha);
		fs.mkdirSync(path.dirname(f), { recursive: true });
		fs.writeFileSync(f, bytes);
		return;
	}
	const r = s3curl('PUT', s3ObjectUrl(dataDir, sha), bytes);
	if (r.status !== 200) throw new Error(`bucket put: ${r.status} ${r.body}`);
}

// startServer({args, env, dataDir, adminToken, signingKeys, startTimeout})
export async function startServer(opts = {}) {
	if (!binExists()) throw new Error(`PICTOR_BIN ${BIN} is not an executable; run make`);
	const dataDir = opts.dataDir ?? (await tmpDir());
	const args = ['serve', '--listen', '127.0.0.1:0', '--data', dataDir, ...(opts.args ?? [])];
	const proc = spawn(BIN, args, {
		env: daemonEnv(pgEnv(dataDir, args, opts.env ?? {}), dataDir),
		cwd: dataDir,
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	liveProcs.add(proc);
	const logs = [];
	const stdout = [];
	let exitInfo = null;
	const exited = new Promise((resolve) => {
		proc.on('exit', (code, signal) => {
			exitInfo = { code, signal };
			liveProcs.delete(proc);
			resolve(exitInfo);
		});
	});
	proc.on('error', () => {});

	let onListening;
	const listening = new Promise((resolve) => { onListening = resolve; });
	let errBuf = '';
	proc.stderr.setEncoding('utf8');
	proc.stderr.on('data', (chunk) => {
		errBuf += chunk;
		let nl;
		while ((nl = errBuf.indexOf('\n')) >= 0) {
			const line = errBuf.slice(0, nl);
			errBuf = errBuf.slice(nl + 1);
			if (!line.trim()) continue;
			let rec;
			try {
				rec = JSON.parse(line);
			} catch {
				rec = { raw: line };
			}
			logs.push(rec);
			if (rec && rec.msg === 'listening' && typeof rec.addr === 'string') onListening(rec.addr);
		}
	});
	proc.stdout.setEncoding('utf8');
	proc.stdout.on('data', (c) => stdout.push(c));

	const limit = (opts.startTimeout ?? 20000) * TIME_SCALE;
	let timer;
	const addr = await Promise.race([
		listening,
		exited.then((e) => {
			throw new Error(`pictor exited (code ${e.code}, signal ${e.signal}) before listening; ` +
				`args ${JSON.stringify(args)}; stderr:\n${logText(logs, errBuf)}`);
		}),
		new Promise((_, rej) => {
			timer = setTimeout(() => rej(new Error(
				`pictor did not log "listening" within ${limit} ms; stderr:\n${logText(logs, errBuf)}`)), limit);
		}),
	]).catch((e) => {
		try { proc.kill('SIGKILL'); } catch { /* gone */ }
		throw e;
	}).finally(() => clearTimeout(timer));

	let secrets = {};
	try {
		secrets = JSON.parse(await fsp.readFile(path.join(dataDir, 'secrets.json'), 'utf8'));
	} catch { /* the tests that need it fail with a clear message */ }

	const server = {
		addr,
		port: Number(addr.slice(addr.lastIndexOf(':') + 1)),
		base: `http://${addr}`,
		dataDir,
		args,
		adminToken: opts.adminToken ?? secrets.admin_token,
		signingKeys: opts.signingKeys ?? secrets.signing_keys,
		secrets,
		proc,
		pid: proc.pid,
		logs,
		stdout,
		exited,
		get exitInfo() { return exitInfo; },
		get running() { return exitInfo === null; },
		// SIGTERM, wait for the exit; SIGKILL after `timeoutMs`. Returns the
		// exit code (null when it died of a signal).
		async stop(timeoutMs = 15000 * TIME_SCALE) {
			if (exitInfo) return exitInfo.code;
			proc.kill('SIGTERM');
			let t;
			const res = await Promise.race([
				exited,
				new Promise((r) => { t = setTimeout(() => r(null), timeoutMs); }),
			]);
			clearTimeout(t);
			if (res === null) {
				proc.kill('SIGKILL');
				await exited;
				throw new Error(`pictor did not exit within ${timeoutMs} ms of SIGTERM (killed)`);
			}
			return res.code;
		},
		async kill() {
			if (!exitInfo) {
				try { proc.kill('SIGKILL'); } catch { /* gone */ }
			}
			return exited;
		},
		auth() {
			return { Authorization: `Bearer ${server.adminToken}` };
		},
		logText() {
			return logText(logs, errBuf);
		},
	};
	return server;
}

function logText(logs, rest = '') {
	return logs.map((l) => (l.raw !== undefined ? l.raw : JSON.stringify(l))).join('\n') + rest;
}

// ---------------------------------------------------------------------------
// HTTP

// req(server, method, path, {headers, body, auth, timeout}) -> {status,
// headers, body (Buffer), json, text, ms}
export async function req(server, method, urlPath, opts = {}) {
	const headers = { ...(opts.auth ? server.auth() : {}), ...(opts.headers ?? {}) };
	const t0 = performance.now();
	const res = await fetch(server.base + urlPath, {
		method,
		headers,
		body: opts.body,
		redirect: 'manual',
		signal: AbortSignal.timeout((opts.timeout ?? 60000) * TIME_SCALE),
	});
	const body = Buffer.from(await res.arrayBuffer());
	const ms = performance.now() - t0;
	const text = body.toString('utf8');
	let json;
	try {
		json = JSON.parse(text);
	} catch { /* not JSON */ }
	return { status: res.status, headers: res.headers, body, text, json, ms, method, url: urlPath };
}

// api(server, method, path, jsonBody?) with the admin token.
export function api(server, method, urlPath, jsonBody, opts = {}) {
	const o = { ...opts, auth: opts.auth ?? true };
	if (jsonBody !== undefined) {
		o.headers = { 'Content-Type': 'application/json', ...(opts.headers ?? {}) };
		o.body = typeof jsonBody === 'string' ? jsonBody : JSON.stringify(jsonBody);
	}
	return req(server, method, urlPath, o);
}

// Short description of a response for assertion messages.
export function show(res) {
	const t = res.json !== undefined ? JSON.stringify(res.json) : res.body.length > 300
		? `<${res.body.length} bytes>` : res.text;
	return `${res.method} ${res.url} -> ${res.status} ${t.slice(0, 600)}`;
}

export function errCode(res) {
	return res.json?.errors?.[0]?.code;
}
export function errMessage(res) {
	return res.json?.errors?.[0]?.message;
}

// upload(server, bytes|path, {id, metadata, requireSignedURLs, filename, raw,
// contentType, headers, auth})
export async function upload(server, data, opts = {}) {
	let bytes = data;
	let filename = opts.filename;
	if (typeof data === 'string') {
		bytes = await fsp.readFile(data);
		filename ??= path.basename(data);
	}
	bytes = Buffer.from(bytes.buffer ?? bytes, bytes.byteOffset ?? 0, bytes.byteLength ?? bytes.length);
	filename ??= 'upload.bin';
	const meta = opts.metadata === undefined ? undefined
		: typeof opts.metadata === 'string' ? opts.metadata : JSON.stringify(opts.metadata);
	const headers = { ...(opts.auth === false ? {} : server.auth()), ...(opts.headers ?? {}) };
	let res;
	if (opts.raw) {
		const q = new URLSearchParams();
		if (opts.id !== undefined) q.set('id', opts.id);
		if (opts.filename !== undefined || typeof data === 'string') q.set('filename', filename);
		if (opts.requireSignedURLs !== undefined) q.set('requireSignedURLs', String(opts.requireSignedURLs));
		if (meta !== undefined) q.set('metadata', meta);
		const qs = q.toString();
		res = await req(server, 'POST', '/v1/images' + (qs ? '?' + qs : ''), {
			headers: { 'Content-Type': opts.contentType ?? 'application/octet-stream', ...headers },
			body: bytes,
			timeout: opts.timeout,
		});
	} else {
		const fd = new FormData();
		fd.append('file', new Blob([bytes], { type: opts.contentType ?? 'application/octet-stream' }), filename);
		if (opts.id !== undefined) fd.append('id', opts.id);
		if (meta !== undefined) fd.append('metadata', meta);
		if (opts.requireSignedURLs !== undefined) fd.append('requireSignedURLs', String(opts.requireSignedURLs));
		res = await req(server, 'POST', '/v1/images', { headers, body: fd, timeout: opts.timeout });
	}
	res.record = res.json?.result;
	res.sent = bytes;
	return res;
}

// listAll(server, perPage) -> every record, page by page, in server order.
export async function listAll(server, perPage = 100, pages = []) {
	const out = [];
	let token = null;
	for (let i = 0; i < 100000; i++) {
		const q = new URLSearchParams({ per_page: String(perPage) });
		if (token) q.set('continuation_token', token);
		const res = await api(server, 'GET', '/v1/images?' + q);
		if (res.status !== 200) throw new Error(`listing failed: ${show(res)}`);
		const images = res.json.result.images;
		pages.push(images);
		out.push(...images);
		token = res.json.result.continuation_token;
		if (!token) return out;
		if (images.length === 0) throw new Error('empty page with a continuation token');
	}
	throw new Error('listing never ends');
}

// A raw HTTP/1.1 request over a plain socket, for what fetch cannot express:
// a declared Content-Length with `Expect: 100-continue`, chunked bodies, and
// reading the answer of a server that refuses a body before reading it (like
// curl, it stops sending as soon as an answer arrives).
// -> {status, headers (lower-case keys), body, json, continued, error, ms}
export function rawRequest(server, method, urlPath, { headers = {}, body = null, expectContinue = false,
	chunked = false, timeout = 30000 } = {}) {
	return new Promise((resolve) => {
		const t0 = performance.now();
		const result = { status: 0, headers: {}, body: Buffer.alloc(0), continued: false, error: null, sentBytes: 0 };
		let done = false;
		let inbuf = Buffer.alloc(0);
		let head = null; // parsed final response head
		let answered = false; // any response bytes seen
		const sock = net.connect({ host: server.addr.slice(0, server.addr.lastIndexOf(':')), port: server.port });
		const finish = (extra = {}) => {
			if (done) return;
			done = true;
			clearTimeout(timer);
			Object.assign(result, extra, { ms: performance.now() - t0 });
			try { result.json = JSON.parse(result.body.toString('utf8')); } catch { /* not JSON */ }
			sock.destroy();
			resolve(result);
		};
		const timer = setTimeout(() => finish({ error: 'timeout' }), timeout * TIME_SCALE);

		let sending = false;
		const sendBody = () => {
			if (sending || !body) return;
			sending = true;
			let off = 0;
			// one chunk at a time, so that an early answer is seen before a write
			// hits the closed socket
			const step = () => {
				if (done || answered) return;
				if (off >= body.length) {
					if (chunked) sock.write('0\r\n\r\n');
					return;
				}
				const part = body.subarray(off, off + 16384);
				off += part.length;
				result.sentBytes = off;
				const data = chunked ? Buffer.concat([Buffer.from(part.length.toString(16) + '\r\n'), part,
					Buffer.from('\r\n')]) : part;
				// a short pause after each chunk: libuv reads before it writes
				// when both are ready, so an answer that arrives with the
				// server's close is read before a write fails with EPIPE
				sock.write(data, (err) => {
					if (!err) setTimeout(step, 1);
				});
			};
			step();
		};

		const tryParse = () => {
			for (;;) {
				if (!head) {
					const end = inbuf.indexOf('\r\n\r\n');
					if (end < 0) return;
					const lines = inbuf.subarray(0, end).toString('latin1').split('\r\n');
					inbuf = inbuf.subarray(end + 4);
					const status = Number(lines[0].split(' ')[1]);
					const hs = {};
					for (const l of lines.slice(1)) {
						const i = l.indexOf(':');
						if (i > 0) hs[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
					}
					if (status === 100) {
						result.continued = true;
						answered = false;
						sendBody();
						continue;
					}
					head = { status, headers: hs };
					result.status = status;
					result.headers = hs;
				}
				const cl = head.headers['content-length'];
				if (method === 'HEAD' || head.status === 204 || head.status === 304) return finish({ body: Buffer.alloc(0) });
				if (cl !== undefined) {
					if (inbuf.length >= Number(cl)) return finish({ body: inbuf.subarray(0, Number(cl)) });
					return;
				}
				if (/chunked/i.test(head.headers['transfer-encoding'] ?? '')) {
					const parts = [];
					let o = 0;
					for (;;) {
						const nl = inbuf.indexOf('\r\n', o);
						if (nl < 0) return;
						const n = parseInt(inbuf.subarray(o, nl).toString('latin1'), 16);
						if (inbuf.length < nl + 2 + n + 2) return;
						if (n === 0) return finish({ body: Buffer.concat(parts) });
						parts.push(inbuf.subarray(nl + 2, nl + 2 + n));
						o = nl + 2 + n + 2;
					}
				}
				return; // until close
			}
		};

		sock.on('data', (d) => {
			answered = true;
			inbuf = Buffer.concat([inbuf, d]);
			tryParse();
		});
		sock.on('end', () => {
			if (head) finish({ body: inbuf });
			else finish({ error: 'connection closed without an answer' });
		});
		sock.on('error', (e) => {
			// EPIPE/ECONNRESET after an answer: keep what we got
			if (head) finish({ body: inbuf, error: head && !done ? e.code : null });
			else finish({ error: e.code || String(e) });
		});
		sock.on('connect', () => {
			const h = { Host: server.addr, Connection: 'close', ...headers };
			if (body && !chunked) h['Content-Length'] = String(body.length);
			if (body && chunked) h['Transfer-Encoding'] = 'chunked';
			if (expectContinue) h.Expect = '100-continue';
			let txt = `${method} ${urlPath} HTTP/1.1\r\n`;
			for (const [k, v] of Object.entries(h)) txt += `${k}: ${v}\r\n`;
			sock.write(txt + '\r\n');
			if (!expectContinue) sendBody();
		});
	});
}

// ---------------------------------------------------------------------------
// Signing (Cloudflare's scheme)

export function sign(urlPath, key, exp) {
	return crypto.createHmac('sha256', key).update(`${urlPath}?exp=${exp}`).digest('hex');
}
export function signedPath(urlPath, key, exp) {
	return `${urlPath}?exp=${exp}&sig=${sign(urlPath, key, exp)}`;
}
export const now = () => Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------------------
// Running the CLI

// The --data of a command line ("--data DIR" or "--data=DIR"), or null.
function dataArg(args) {
	for (let i = 0; i < args.length; i++) {
		if (args[i] === '--data' && i + 1 < args.length) return args[i + 1];
		if (String(args[i]).startsWith('--data=')) return args[i].slice(7);
	}
	return null;
}

export function runCli(args, { env = {}, cwd, timeout = 20000, input } = {}) {
	return new Promise((resolve, reject) => {
		const data = args.indexOf('--data');
		const p = spawn(BIN, args, {
			env: daemonEnv(pgEnv(data >= 0 ? args[data + 1] : null, args, env), dataArg(args)),
			cwd: cwd ?? os.tmpdir(),
			stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
		});
		liveProcs.add(p);
		const out = [];
		const err = [];
		p.stdout.on('data', (c) => out.push(c));
		p.stderr.on('data', (c) => err.push(c));
		if (input !== undefined) p.stdin.end(input);
		const timer = setTimeout(() => p.kill('SIGKILL'), timeout * TIME_SCALE);
		p.on('error', (e) => {
			clearTimeout(timer);
			liveProcs.delete(p);
			reject(e);
		});
		p.on('close', (code, signal) => {
			clearTimeout(timer);
			liveProcs.delete(p);
			resolve({
				code, signal,
				stdout: Buffer.concat(out).toString('utf8'),
				stderr: Buffer.concat(err).toString('utf8'),
			});
		});
	});
}

// ---------------------------------------------------------------------------
// Process memory

export function procStatus(pid) {
	const txt = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
	const kb = (name) => {
		const m = txt.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'));
		return m ? Number(m[1]) : NaN;
	};
	return { rssKB: kb('VmRSS'), hwmKB: kb('VmHWM'), threads: Number(txt.match(/^Threads:\s+(\d+)/m)?.[1]) };
}

// Every regular file under dir, as paths relative to dir.
export function walk(dir) {
	const out = [];
	const rec = (d, rel) => {
		let ents;
		try {
			ents = fs.readdirSync(d, { withFileTypes: true });
		} catch (e) {
			if (e.code === 'ENOENT') return;
			throw e;
		}
		for (const e of ents) {
			const p = path.join(d, e.name);
			const r = rel ? `${rel}/${e.name}` : e.name;
			if (e.isDirectory()) rec(p, r);
			else out.push(r);
		}
	};
	rec(dir, '');
	return out.sort();
}

// ---------------------------------------------------------------------------
// Image headers: probe(bytes) -> {format, width, height, frames, ...}

const be16 = (b, o) => b.readUInt16BE(o);
const be32 = (b, o) => b.readUInt32BE(o);

export function sniff(buf) {
	if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
	if (buf.length >= 8 && buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
	if (buf.length >= 6 && /^GIF8[79]a$/.test(buf.subarray(0, 6).toString('latin1'))) return 'gif';
	if (buf.length >= 12 && buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WEBP') return 'webp';
	if (buf.length >= 12 && buf.toString('latin1', 4, 8) === 'ftyp') {
		const brands = [];
		const size = be32(buf, 0);
		brands.push(buf.toString('latin1', 8, 12));
		for (let o = 16; o + 4 <= Math.min(size, buf.length); o += 4) brands.push(buf.toString('latin1', o, o + 4));
		if (brands.includes('avif') || brands.includes('avis')) return 'avif';
		if (brands.some((b) => ['heic', 'heix', 'heim', 'heis', 'mif1', 'msf1'].includes(b))) return 'heic';
	}
	if (buf.length >= 4 && (buf.toString('latin1', 0, 4) === 'II*\0' || buf.toString('latin1', 0, 4) === 'MM\0*')) return 'tiff';
	if (/^\s*(<\?xml|<svg)/i.test(buf.subarray(0, 256).toString('latin1'))) return 'svg';
	return null;
}

export function probe(buf) {
	const format = sniff(buf);
	switch (format) {
	case 'jpeg': return { format, ...probeJpeg(buf) };
	case 'png': return { format, ...probePng(buf) };
	case 'gif': return { format, ...probeGif(buf) };
	case 'webp': return { format, ...probeWebp(buf) };
	case 'avif': case 'heic': return { format, ...probeIsobmff(buf) };
	default: return { format };
	}
}

function probeJpeg(b) {
	let o = 2;
	while (o + 4 <= b.length) {
		if (b[o] !== 0xff) throw new Error(`JPEG: no marker at ${o}`);
		let m = b[o + 1];
		if (m === 0xff) { o++; continue; }
		if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) { o += 2; continue; }
		const len = be16(b, o + 2);
		if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
			return {
				height: be16(b, o + 5), width: be16(b, o + 7), bitDepth: b[o + 4], components: b[o + 9],
				progressive: m === 0xc2, frames: 1,
			};
		}
		if (m === 0xda || m === 0xd9) break;
		o += 2 + len;
	}
	throw new Error('JPEG: no SOF marker');
}

function pngChunks(b) {
	const out = [];
	let o = 8;
	while (o + 8 <= b.length) {
		const len = be32(b, o);
		const type = b.toString('latin1', o + 4, o + 8);
		out.push({ type, data: b.subarray(o + 8, o + 8 + len) });
		o += 12 + len;
		if (type === 'IEND') break;
	}
	return out;
}

function probePng(b) {
	const chunks = pngChunks(b);
	const ihdr = chunks.find((c) => c.type === 'IHDR');
	if (!ihdr) throw new Error('PNG: no IHDR');
	const d = ihdr.data;
	const actl = chunks.find((c) => c.type === 'acTL');
	return {
		width: be32(d, 0), height: be32(d, 4), bitDepth: d[8], colorType: d[9], interlace: d[12],
		alpha: d[9] === 4 || d[9] === 6 || chunks.some((c) => c.type === 'tRNS'),
		frames: actl ? be32(actl.data, 0) : 1,
	};
}

// GIF: logical screen size, and the number of image descriptors.
function probeGif(b) {
	const width = b.readUInt16LE(6);
	const height = b.readUInt16LE(8);
	let o = 13;
	if (b[10] & 0x80) o += 3 * (1 << ((b[10] & 7) + 1));
	let frames = 0;
	const skipSubBlocks = () => {
		while (o < b.length) {
			const n = b[o++];
			if (n === 0) return;
			o += n;
		}
	};
	while (o < b.length) {
		const t = b[o++];
		if (t === 0x3b) break;
		if (t === 0x21) {
			o++; // label
			skipSubBlocks();
		} else if (t === 0x2c) {
			frames++;
			const flags = b[o + 8];
			o += 9;
			if (flags & 0x80) o += 3 * (1 << ((flags & 7) + 1));
			o++; // LZW minimum code size
			skipSubBlocks();
		} else {
			throw new Error(`GIF: unexpected block 0x${t.toString(16)} at ${o - 1}`);
		}
	}
	return { width, height, frames };
}

export function riffChunks(b) {
	const out = [];
	let o = 12;
	const end = Math.min(b.length, 8 + b.readUInt32LE(4));
	while (o + 8 <= end) {
		const type = b.toString('latin1', o, o + 4);
		const len = b.readUInt32LE(o + 4);
		out.push({ type, data: b.subarray(o + 8, o + 8 + len) });
		o += 8 + len + (len & 1);
	}
	return out;
}

function probeWebp(b) {
	const chunks = riffChunks(b);
	const frames = chunks.filter((c) => c.type === 'ANMF').length || 1;
	const x = chunks.find((c) => c.type === 'VP8X');
	if (x) {
		const d = x.data;
		return {
			width: 1 + d.readUIntLE(4, 3), height: 1 + d.readUIntLE(7, 3), frames,
			animated: Boolean(d[0] & 0x02), alpha: Boolean(d[0] & 0x10),
		};
	}
	const vp8 = chunks.find((c) => c.type === 'VP8 ');
	if (vp8) {
		const d = vp8.data;
		if (d[3] !== 0x9d || d[4] !== 0x01 || d[5] !== 0x2a) throw new Error('WebP: bad VP8 start code');
		return { width: d.readUInt16LE(6) & 0x3fff, height: d.readUInt16LE(8) & 0x3fff, frames, alpha: false };
	}
	const vp8l = chunks.find((c) => c.type === 'VP8L');
	if (vp8l) {
		const d = vp8l.data;
		if (d[0] !== 0x2f) throw new Error('WebP: bad VP8L signature');
		const bits = d.readUInt32LE(1);
		return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff), frames, alpha: Boolean((bits >>> 28) & 1) };
	}
	throw new Error('WebP: no VP8/VP8L/VP8X chunk');
}

// ISOBMFF (AVIF/HEIC): the `ispe` property of the primary item.
function probeIsobmff(b) {
	const boxes = (start, end) => {
		const out = [];
		let o = start;
		while (o + 8 <= end) {
			let size = be32(b, o);
			const type = b.toString('latin1', o + 4, o + 8);
			let hdr = 8;
			if (size === 1) {
				size = Number(b.readBigUInt64BE(o + 8));
				hdr = 16;
			} else if (size === 0) {
				size = end - o;
			}
			if (size < hdr) break;
			out.push({ type, start: o + hdr, end: Math.min(o + size, end) });
			o += size;
		}
		return out;
	};
	const top = boxes(0, b.length);
	const meta = top.find((x) => x.type === 'meta');
	if (!meta) throw new Error('ISOBMFF: no meta box');
	const inMeta = boxes(meta.start + 4, meta.end); // FullBox
	let primary = null;
	const pitm = inMeta.find((x) => x.type === 'pitm');
	if (pitm) primary = b[pitm.start] === 0 ? be16(b, pitm.start + 4) : be32(b, pitm.start + 4);
	const iprp = inMeta.find((x) => x.type === 'iprp');
	if (!iprp) throw new Error('ISOBMFF: no iprp');
	const inIprp = boxes(iprp.start, iprp.end);
	const ipco = inIprp.find((x) => x.type === 'ipco');
	const props = ipco ? boxes(ipco.start, ipco.end) : [];
	const ispeOf = (p) => ({ width: be32(b, p.start + 4), height: be32(b, p.start + 8) });
	let assoc = [];
	for (const ipma of inIprp.filter((x) => x.type === 'ipma')) {
		const version = b[ipma.start];
		const flags = b.readUIntBE(ipma.start + 1, 3);
		let o = ipma.start + 4;
		const n = be32(b, o);
		o += 4;
		for (let i = 0; i < n; i++) {
			const item = version < 1 ? be16(b, o) : be32(b, o);
			o += version < 1 ? 2 : 4;
			const cnt = b[o++];
			const idx = [];
			for (let j = 0; j < cnt; j++) {
				if (flags & 1) { idx.push(be16(b, o) & 0x7fff); o += 2; } else { idx.push(b[o] & 0x7f); o += 1; }
			}
			if (primary === null || item === primary) assoc = assoc.concat(idx);
		}
	}
	let dims = null;
	for (const i of assoc) {
		const p = props[i - 1];
		if (p && p.type === 'ispe') { dims = ispeOf(p); break; }
	}
	if (!dims) {
		const all = props.filter((p) => p.type === 'ispe').map(ispeOf);
		if (!all.length) throw new Error('ISOBMFF: no ispe');
		dims = all.sort((x, y) => y.width * y.height - x.width * x.height)[0];
	}
	const rot = assoc.map((i) => props[i - 1]).find((p) => p && p.type === 'irot');
	const angle = rot ? (b[rot.start] & 3) * 90 : 0;
	const animated = top.some((x) => x.type === 'moov');
	return { ...dims, rotation: angle, frames: 1, animated };
}

// ---------------------------------------------------------------------------
// PNG pixels

// decodePng(bytes) -> {width, height, channels, data} with 8-bit samples;
// non-interlaced PNG of any colour type (16-bit samples keep the high byte).
export function decodePng(buf) {
	const chunks = pngChunks(buf);
	const h = probePng(buf);
	if (h.interlace) throw new Error('decodePng: interlaced PNG not supported');
	const { width, height, bitDepth, colorType } = h;
	const spp = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType];
	const bitsPP = spp * bitDepth;
	const bpp = Math.max(1, bitsPP >> 3);
	const stride = Math.ceil((width * bitsPP) / 8);
	const raw = zlib.inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
	const cur = Buffer.alloc(stride);
	let prev = Buffer.alloc(stride);
	const plte = chunks.find((c) => c.type === 'PLTE')?.data;
	const trns = chunks.find((c) => c.type === 'tRNS')?.data;
	const channels = colorType === 3 ? (trns ? 4 : 3) : spp;
	const out = Buffer.alloc(width * height * channels);
	let o = 0;
	for (let y = 0; y < height; y++) {
		const ft = raw[o++];
		for (let i = 0; i < stride; i++) {
			const x = raw[o++];
			const a = i >= bpp ? cur[i - bpp] : 0;
			const b = prev[i];
			const c = i >= bpp ? prev[i - bpp] : 0;
			let v;
			switch (ft) {
			case 0: v = x; break;
			case 1: v = x + a; break;
			case 2: v = x + b; break;
			case 3: v = x + ((a + b) >> 1); break;
			case 4: {
				const p = a + b - c;
				const pa = Math.abs(p - a);
				const pb = Math.abs(p - b);
				const pc = Math.abs(p - c);
				v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
				break;
			}
			default: throw new Error(`decodePng: bad filter ${ft}`);
			}
			cur[i] = v & 0xff;
		}
		for (let xq = 0; xq < width; xq++) {
			const dst = (y * width + xq) * channels;
			if (colorType === 3) {
				const bitPos = xq * bitDepth;
				const idx = (cur[bitPos >> 3] >> (8 - bitDepth - (bitPos & 7))) & ((1 << bitDepth) - 1);
				out[dst] = plte[idx * 3];
				out[dst + 1] = plte[idx * 3 + 1];
				out[dst + 2] = plte[idx * 3 + 2];
				if (trns) out[dst + 3] = idx < trns.length ? trns[idx] : 255;
			} else if (bitDepth === 8 || bitDepth === 16) {
				const bps = bitDepth >> 3;
				for (let ch = 0; ch < spp; ch++) out[dst + ch] = cur[(xq * spp + ch) * bps];
			} else {
				const bitPos = xq * bitDepth;
				const v = (cur[bitPos >> 3] >> (8 - bitDepth - (bitPos & 7))) & ((1 << bitDepth) - 1);
				out[dst] = Math.round((v * 255) / ((1 << bitDepth) - 1));
			}
		}
		prev = Buffer.from(cur);
	}
	return { width, height, channels, data: out };
}

const crcTable = (() => {
	const t = new Uint32Array(256);
	for (let n = 0; n < 256; n++) {
		let c = n;
		for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
		t[n] = c >>> 0;
	}
	return t;
})();
function crc32(buf) {
	let c = 0xffffffff;
	for (const x of buf) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
	return (c ^ 0xffffffff) >>> 0;
}

// encodePng(width, height, data, channels = 3) -> PNG bytes (8-bit).
export function encodePng(width, height, data, channels = 3) {
	const ct = { 1: 0, 2: 4, 3: 2, 4: 6 }[channels];
	const rows = Buffer.alloc((width * channels + 1) * height);
	for (let y = 0; y < height; y++) {
		rows[y * (width * channels + 1)] = 0;
		Buffer.from(data.buffer, data.byteOffset + y * width * channels, width * channels)
			.copy(rows, y * (width * channels + 1) + 1);
	}
	const chunk = (type, d) => {
		const len = Buffer.alloc(4);
		len.writeUInt32BE(d.length);
		const td = Buffer.concat([Buffer.from(type, 'latin1'), d]);
		const crc = Buffer.alloc(4);
		crc.writeUInt32BE(crc32(td));
		return Buffer.concat([len, td, crc]);
	};
	const ihdr = Buffer.alloc(13);
	ihdr.writeUInt32BE(width, 0);
	ihdr.writeUInt32BE(height, 4);
	ihdr[8] = 8;
	ihdr[9] = ct;
	return Buffer.concat([
		Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
		chunk('IHDR', ihdr),
		chunk('IDAT', zlib.deflateSync(rows)),
		chunk('IEND', Buffer.alloc(0)),
	]);
}

// A distinct RGB test picture: gradients plus a pattern derived from `seed`.
export function makePng(width, height, seed = 0) {
	const d = Buffer.alloc(width * height * 3);
	const rnd = crypto.createHash('sha256').update(String(seed)).digest();
	for (let y = 0; y < height; y++) {
		for (let x = 0; x < width; x++) {
			const i = (y * width + x) * 3;
			d[i] = (x * 255) / Math.max(1, width - 1);
			d[i + 1] = (y * 255) / Math.max(1, height - 1);
			d[i + 2] = rnd[(x >> 3) % 32] ^ rnd[(y >> 3) % 32];
		}
	}
	return encodePng(width, height, d, 3);
}

// Mean absolute difference over the first 3 channels of two decoded images.
export function meanAbsDiff(a, b) {
	if (a.width !== b.width || a.height !== b.height) throw new Error('meanAbsDiff: size mismatch');
	let sum = 0;
	let n = 0;
	const ch = Math.min(3, a.channels, b.channels);
	for (let p = 0; p < a.width * a.height; p++) {
		for (let c = 0; c < ch; c++) {
			sum += Math.abs(a.data[p * a.channels + c] - b.data[p * b.channels + c]);
			n++;
		}
	}
	return sum / n;
}

// Rotate a decoded image 90 degrees clockwise.
export function rot90cw(img) {
	const { width: w, height: h, channels: c, data } = img;
	const out = Buffer.alloc(data.length);
	for (let y = 0; y < w; y++) {
		for (let x = 0; x < h; x++) {
			const src = ((h - 1 - x) * w + y) * c;
			const dst = (y * h + x) * c;
			data.copy(out, dst, src, src + c);
		}
	}
	return { width: h, height: w, channels: c, data: out };
}

// ---------------------------------------------------------------------------
// EXIF

// The TIFF/EXIF block of an image (JPEG APP1, WebP EXIF, PNG eXIf), or null.
export function exifBlock(buf) {
	const fmt = sniff(buf);
	if (fmt === 'jpeg') {
		let o = 2;
		while (o + 4 <= buf.length && buf[o] === 0xff) {
			const m = buf[o + 1];
			if (m === 0xda || m === 0xd9) break;
			const len = be16(buf, o + 2);
			if (m === 0xe1 && buf.toString('latin1', o + 4, o + 10) === 'Exif\0\0') return buf.subarray(o + 10, o + 2 + len);
			o += 2 + len;
		}
		return null;
	}
	if (fmt === 'webp') {
		const c = riffChunks(buf).find((x) => x.type === 'EXIF');
		if (!c) return null;
		return c.data.toString('latin1', 0, 6) === 'Exif\0\0' ? c.data.subarray(6) : c.data;
	}
	if (fmt === 'png') {
		const c = pngChunks(buf).find((x) => x.type === 'eXIf');
		return c ? c.data : null;
	}
	return null;
}

// exif(bytes) -> null or {tags: Map(tag -> value|true) of IFD0, gps: bool,
// orientation: number|undefined}
export function exif(buf) {
	const t = exifBlock(buf);
	if (!t || t.length < 8) return null;
	const le = t.toString('latin1', 0, 2) === 'II';
	const u16 = (o) => (le ? t.readUInt16LE(o) : t.readUInt16BE(o));
	const u32 = (o) => (le ? t.readUInt32LE(o) : t.readUInt32BE(o));
	const ifd0 = u32(4);
	const tags = new Map();
	if (ifd0 + 2 <= t.length) {
		const n = u16(ifd0);
		for (let i = 0; i < n; i++) {
			const e = ifd0 + 2 + i * 12;
			if (e + 12 > t.length) break;
			const tag = u16(e);
			const type = u16(e + 2);
			const count = u32(e + 4);
			tags.set(tag, type === 3 && count === 1 ? u16(e + 8) : true);
		}
	}
	return { tags, gps: tags.has(0x8825), orientation: tags.get(0x0112) };
}

// --- moderation and webhook tests ---
// (node:http and gif.mjs are imported where used, so these helpers stay
// apart from the rest of the file.)

// Poll fn until it returns something truthy, which it answers; throws after
// ms (scaled by TIME_SCALE), polling every step ms.
export async function waitFor(fn, ms = 30000, step = 100) {
	const end = Date.now() + ms * TIME_SCALE;
	for (;;) {
		const v = await fn();
		if (v) return v;
		if (Date.now() > end) throw new Error('timed out waiting');
		await sleep(step);
	}
}

// A webhook receiver on loopback at url. answer(n, ev) gives the status
// for the n-th request (from 0; ev is its JSON body), or null to leave it
// hanging until close(). Requests land in got as { ev, body, headers, at,
// status }, their events alone in events.
export async function webhookReceiver(answer = () => 200) {
	const http = (await import('node:http')).default;
	const got = [];
	const events = [];
	const hanging = [];
	const srv = http.createServer((rq, rs) => {
		const chunks = [];
		rq.on('data', (c) => chunks.push(c));
		rq.on('end', () => {
			const body = Buffer.concat(chunks).toString('utf8');
			const ev = JSON.parse(body);
			const status = answer(got.length, ev);
			got.push({ ev, body, headers: rq.headers, at: Date.now(), status });
			events.push(ev);
			if (status === null) {
				hanging.push(rs);
				return;
			}
			rs.writeHead(status);
			rs.end();
		});
	});
	await new Promise((r) => srv.listen(0, '127.0.0.1', r));
	return {
		url: `http://127.0.0.1:${srv.address().port}/hook`,
		got,
		events,
		close: async () => {
			for (const rs of hanging) rs.destroy();
			srv.closeAllConnections();
			await new Promise((r) => srv.close(r));
		},
	};
}

// An animated GIF of corpus photos, each rendered by server s as a
// 224x224 GIF (the classifier's input size): frame i is names[order[i]].
export async function corpusGif(s, names, order) {
	const { gifFrame, joinGif } = await import('./gif.mjs');
	const frames = [];
	for (const name of names) {
		const up = await upload(s, path.join(CORPUS, name));
		if (up.status !== 201) throw new Error(`upload of ${name}: ${show(up)}`);
		const r = await req(s, 'GET', `/cdn-cgi/image/w=224,h=224,fit=cover,f=gif/${up.record.id}`);
		if (r.status !== 200) throw new Error(`GIF of ${name}: ${show(r)}`);
		frames.push(gifFrame(r.body));
	}
	const gif = joinGif(order.map((i) => frames[i]));
	if (probe(gif).frames !== order.length) throw new Error('the joined GIF has the wrong frame count');
	return gif;
}

// ---------------------------------------------------------------------------
// More of the stores behind Pictor's back (see blobNames/blobPut above):
// an original's bytes, and one key written straight into the metadata
// store (LMDB's own mdb_load, or SQL on the data directory's schema).

// The stored bytes of an original (a Buffer), or null when it is absent.
export function blobGet(dataDir, sha) {
	if (!S3) {
		try {
			return fs.readFileSync(blobFile(dataDir, sha));
		} catch (e) {
			if (e.code === 'ENOENT') return null;
			throw e;
		}
	}
	const r = s3curl('GET', s3ObjectUrl(dataDir, sha), null, { binary: true });
	if (r.status === 404) return null;
	if (r.status !== 200) throw new Error(`bucket get: ${r.status} ${r.stderr}`);
	return r.body;
}

// Set one key of a stopped daemon's metadata store to a text value.
export function metaPut(dataDir, key, value) {
	if (PG) {
		const lit = (s) => `convert_to('${String(s).replace(/'/g, "''")}', 'UTF8')`;
		pgQuery(dataDir, `INSERT INTO pictor_kv (k, v) VALUES (${lit(key)}, ${lit(value)}) ` +
			'ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v');
		return;
	}
	const dump = `VERSION=3\nformat=print\ntype=btree\nHEADER=END\n ${key}\n ${value}\nDATA=END\n`;
	const r = spawnSync('mdb_load', [path.join(dataDir, 'meta')], { input: dump, encoding: 'utf8' });
	if (r.status !== 0) throw new Error(`mdb_load: ${r.stderr || r.error}`);
}
