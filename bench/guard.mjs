// bench/guard.mjs - one abusive client must not hurt the others.
//
// Starts ./pictor (default limits, moderation off) on loopback, uploads a
// photo, then measures a legitimate client on 127.0.0.9 requesting renders
// at a modest rate (BENCH_LEGIT_RPS, default 2/s):
//   - unloaded, uncached (a new width each time) and cached (a fixed set);
//   - during a flood from one address (127.0.1.1, BENCH_FLOOD_CONNS
//     connections, cache-busting options, as fast as it can);
//   - during a flood from 100 addresses (127.0.1.1-127.0.1.100, one
//     connection each).
// The flood runs in a child process, so the legitimate client's timings
// are not those of a load generator's busy event loop; the daemon logs to
// a file, so a full pipe never stalls it. The machine is shared: each
// flood phase alternates BENCH_ROUNDS times with an unloaded window of the
// same kind, and the ratio is taken against those unloaded windows.
// For each: the legitimate client's p50/p99 (as it saw them, and as the
// daemon's access log timed them) and its 429/503 counts, the flood's
// accepted renders a second against the per-client render limit, its
// 429/503 counts, and the daemon's peak RSS. Then the limiter's cost on
// cache hits: hit throughput from 16 connections (16 addresses) with the
// limiter on (limits high enough never to refuse) and off, in short
// alternating windows of the same run; the median of the pairs' ratios.
// The flood generator stands for remote machines, whose CPU is not the
// server's; on one machine it competes with the daemon for the cores.
// So every flood phase runs twice (BENCH_FLOOD_NICE, default "0,19"):
// with the generator at the legitimate client's priority, and at nice
// 19, where it gets only what the daemon leaves (docs/TESTING.md).
// Figures depend on the machine and its load; read the ratios.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const BIN = process.env.PICTOR_BIN || path.join(ROOT, 'pictor');
const PHOTO = process.env.BENCH_PHOTO || path.join(ROOT, 'build/corpus/Dune.jpg');
const SECS = Number(process.env.BENCH_SECONDS || 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 2);
const LEGIT_RPS = Number(process.env.BENCH_LEGIT_RPS || 2);
const FLOOD_CONNS = Number(process.env.BENCH_FLOOD_CONNS || 16);
const EXTRA = (process.env.BENCH_ARGS || '').split(' ').filter(Boolean);
// BENCH_ONLY: run only the flood phases whose name contains it, and
// skip the limiter's cost on hits (for investigating one case).
const ONLY = process.env.BENCH_ONLY || '';
const NICES = (process.env.BENCH_FLOOD_NICE ?? '0,19').split(',').filter(Boolean).map(Number);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function request(port, pathname, { from = '127.0.0.1', agent, method = 'GET', headers = {}, body } = {}) {
	return new Promise((resolve) => {
		const t0 = performance.now();
		const rq = http.request({ host: '127.0.0.1', port, path: pathname, method, headers,
			localAddress: from, agent: agent ?? false }, (res) => {
			res.on('data', () => {});
			res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0 }));
		});
		rq.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
		rq.setTimeout(60000, () => rq.destroy());
		if (body) rq.write(body);
		rq.end();
	});
}

// Child mode: the flood. argv: --flood PORT ID ADDRS CONNS SECS FIRST
if (process.argv[2] === '--flood') {
	const [port, id, addrs, conns, secs, first] = process.argv.slice(3);
	const codes = {};
	let n = Number(first), done = false;
	const loops = [];
	for (const from of addrs.split(',')) {
		const agent = new http.Agent({ keepAlive: true, maxSockets: Number(conns), localAddress: from });
		for (let c = 0; c < Number(conns); c++) {
			loops.push((async () => {
				while (!done) {
					// every request a new width and quality: never cached
					const k = n++;
					const w = 1000 + (k % 2000), q = 30 + (Math.floor(k / 2000) % 60);
					const r = await request(Number(port), `/img/${id}/w=${w},q=${q},f=jpeg`, { from, agent });
					codes[r.status] = (codes[r.status] ?? 0) + 1;
					if (r.status === 0) await sleep(10);
				}
			})());
		}
	}
	setTimeout(() => { done = true; }, Number(secs) * 1000);
	await Promise.all(loops);
	const cu = process.cpuUsage();
	codes.cpu_ms = Math.round((cu.user + cu.system) / 1000);
	process.stdout.write(JSON.stringify(codes));
	process.exit(0);
}

async function start(extra = []) {
	const data = fs.mkdtempSync(path.join(os.tmpdir(), 'pictor-bench-guard-'));
	const logPath = path.join(data, 'daemon.log');
	const log = fs.openSync(logPath, 'w');
	const p = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data', data, '--moderation', 'off',
		...EXTRA, ...extra], { stdio: ['ignore', 'ignore', log] });
	fs.closeSync(log);
	let exited = null;
	p.on('exit', (code) => { exited = code; });
	for (let i = 0; ; i++) {
		const m = /"msg":"listening","addr":"[^"]*:(\d+)"/.exec(fs.readFileSync(logPath, 'utf8'));
		if (m) {
			const secrets = JSON.parse(fs.readFileSync(path.join(data, 'secrets.json'), 'utf8'));
			return { p, port: Number(m[1]), data, logPath, token: secrets.admin_token };
		}
		if (exited !== null || i > 600) throw new Error(`pictor did not start: ${fs.readFileSync(logPath, 'utf8')}`);
		await sleep(50);
	}
}

function stop(srv) {
	srv.p.kill('SIGKILL');
	fs.rmSync(srv.data, { recursive: true, force: true });
}

function rss(pid) {
	try {
		const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
		return m ? Number(m[1]) / 1024 : 0;
	} catch { return 0; }
}

// The daemon's CPU time so far, in seconds (user + system, all threads).
function cpuSecs(pid) {
	try {
		const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
		const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
		return (Number(v[11]) + Number(v[12])) / 100;
	} catch { return 0; }
}

const pct = (a, q) => {
	if (!a.length) return NaN;
	const s = [...a].sort((x, y) => x - y);
	return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

// The daemon's own timing of the requests whose id starts with tag.
function serverMs(srv, tag) {
	const out = [];
	out.wait = [];
	for (const line of fs.readFileSync(srv.logPath, 'utf8').split('\n')) {
		if (!line.includes(`"request_id":"${tag}-`)) continue;
		try {
			const j = JSON.parse(line);
			if (j.status === 200) {
				out.push(j.ms);
				out.wait.push(j.wait_ms ?? 0);
			}
		} catch { /* a partial last line */ }
	}
	return out;
}

let bust = 0, tagSeq = 0;
async function legit(srv, id, cached, stop, tag) {
	const out = { ms: [], codes: {} };
	const agent = new http.Agent({ keepAlive: true, maxSockets: 4, localAddress: '127.0.0.9' });
	const pending = [];
	for (let i = 0; !stop.done; i++) {
		const w = cached ? 100 + (i % 8) : 100 + ((bust++ % 900) + 8);
		const headers = { 'X-Request-Id': `${tag}-${i}` };
		pending.push(request(srv.port, `/img/${id}/w=${w},f=jpeg`, { from: '127.0.0.9', agent, headers }).then((r) => {
			out.codes[r.status] = (out.codes[r.status] ?? 0) + 1;
			if (r.status === 200) out.ms.push(r.ms);
		}));
		await sleep(1000 / LEGIT_RPS);
	}
	await Promise.all(pending);
	agent.destroy();
	return out;
}

let floodFirst = 0;
function flood(srv, id, addrs, conns, secs, nice) {
	const first = floodFirst;
	floodFirst += 1000000;
	const args = [new URL(import.meta.url).pathname, '--flood', String(srv.port), id,
		addrs.join(','), String(conns), String(secs), String(first)];
	const child = nice ? spawn('nice', ['-n', String(nice), process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
		: spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
	let out = '';
	child.stdout.on('data', (c) => { out += c; });
	return new Promise((resolve) => child.on('exit', () => resolve({ codes: out ? JSON.parse(out) : {} })));
}

// Until the daemon's workers are idle (what a flood left queued is done).
async function settle(srv) {
	for (let i = 0; i < 200; i++) {
		const body = await new Promise((resolve) => {
			http.get({ host: '127.0.0.1', port: srv.port, path: '/metrics', agent: false }, (res) => {
				let t = '';
				res.on('data', (c) => { t += c; });
				res.on('end', () => resolve(t));
			}).on('error', () => resolve(''));
		});
		if (/^pictor_worker_load 0$/m.test(body)) return;
		await sleep(50);
	}
}

// One window: the legitimate client for secs, with or without a flood.
async function window(srv, id, cached, floodAddrs, conns, secs, nice) {
	const stop = { done: false };
	const tag = `legit-${++tagSeq}`;
	const fl = floodAddrs ? flood(srv, id, floodAddrs, conns, secs, nice) : null;
	const lg = legit(srv, id, cached, stop, tag);
	const t0 = performance.now(), c0 = cpuSecs(srv.p.pid);
	await sleep(secs * 1000);
	stop.done = true;
	const [l, f] = await Promise.all([lg, fl]);
	const cpu = cpuSecs(srv.p.pid) - c0;
	await settle(srv);
	return { l, f, cpu, secs: (performance.now() - t0) / 1000, server: serverMs(srv, tag) };
}

function merge(ws) {
	const l = { ms: [], codes: {} }, f = { codes: {} }, server = [];
	server.wait = [];
	let secs = 0, cpu = 0;
	for (const w of ws) {
		cpu += w.cpu;
		l.ms.push(...w.l.ms);
		server.push(...w.server);
		server.wait.push(...w.server.wait);
		for (const [k, v] of Object.entries(w.l.codes)) l.codes[k] = (l.codes[k] ?? 0) + v;
		if (w.f) for (const [k, v] of Object.entries(w.f.codes)) f.codes[k] = (f.codes[k] ?? 0) + v;
		secs += w.secs;
	}
	return { l, f, secs, cpu, server };
}

// A flood phase: ROUNDS times an unloaded window then a flooded one.
async function phase(srv, id, name, cached, floodAddrs, conns, nice) {
	if (ONLY && !name.includes(ONLY))
		return null;
	const base = [], loaded = [];
	let peak = 0;
	const sampler = setInterval(() => { peak = Math.max(peak, rss(srv.p.pid)); }, 200);
	const secs = SECS / ROUNDS;
	for (let i = 0; i < ROUNDS; i++) {
		base.push(await window(srv, id, cached, null, 0, secs));
		loaded.push(await window(srv, id, cached, floodAddrs, conns, secs, nice));
	}
	clearInterval(sampler);
	const b = merge(base), m = merge(loaded);
	const row = {
		phase: name,
		generator_nice: nice,
		unloaded_p50_ms: +pct(b.l.ms, 0.5).toFixed(1),
		unloaded_p99_ms: +pct(b.l.ms, 0.99).toFixed(1),
		legit_p50_ms: +pct(m.l.ms, 0.5).toFixed(1),
		legit_p99_ms: +pct(m.l.ms, 0.99).toFixed(1),
		legit_server_p99_ms: +pct(m.server, 0.99).toFixed(1),
		unloaded_server_p99_ms: +pct(b.server, 0.99).toFixed(1),
		legit_wait_p99_ms: +pct(m.server.wait, 0.99).toFixed(1),
		p99_ratio: +(pct(m.l.ms, 0.99) / pct(b.l.ms, 0.99)).toFixed(2),
		legit_200: m.l.codes[200] ?? 0,
		legit_429: m.l.codes[429] ?? 0,
		legit_503: m.l.codes[503] ?? 0,
		flood_accepted_per_s: +((m.f.codes[200] ?? 0) / m.secs).toFixed(1),
		flood_429: m.f.codes[429] ?? 0,
		flood_503: m.f.codes[503] ?? 0,
		peak_rss_mib: +peak.toFixed(0),
		daemon_cpu_cores: +(m.cpu / m.secs).toFixed(2),
		generator_cpu_cores: +((m.f.codes.cpu_ms ?? 0) / 1000 / m.secs).toFixed(2),
	};
	console.log(JSON.stringify(row));
	return row;
}

async function hitThroughput(srv, id, secs) {
	const stop = { done: false };
	let n = 0;
	const loops = [];
	for (let a = 0; a < 16; a++) {
		const from = `127.0.2.${a + 1}`;
		const agent = new http.Agent({ keepAlive: true, maxSockets: 1, localAddress: from });
		loops.push((async () => {
			while (!stop.done) {
				const r = await request(srv.port, `/img/${id}/w=120,f=jpeg`, { from, agent });
				if (r.status === 200) n++;
			}
		})());
	}
	await sleep(secs * 1000);
	stop.done = true;
	await Promise.all(loops);
	return n / secs;
}

async function upload(srv) {
	const bytes = fs.readFileSync(PHOTO);
	const r = await new Promise((resolve) => {
		const rq = http.request({ host: '127.0.0.1', port: srv.port, path: '/v1/images?filename=bench.jpg', method: 'POST',
			headers: { Authorization: `Bearer ${srv.token}`, 'Content-Type': 'image/jpeg', 'Content-Length': bytes.length } }, (res) => {
			let t = '';
			res.on('data', (c) => { t += c; });
			res.on('end', () => resolve(JSON.parse(t)));
		});
		rq.end(bytes);
	});
	return r.result.id;
}

const srv = await start();
try {
	const id = await upload(srv);
	console.log(`# photo ${path.basename(PHOTO)}, ${SECS}s a phase in ${ROUNDS} rounds, legit ${LEGIT_RPS}/s from 127.0.0.9, ` +
		`render limit per client: default (10/s, burst 100), workers ${os.cpus().length}, load ${os.loadavg()[0].toFixed(1)}`);
	for (let i = 0; i < 8; i++) await request(srv.port, `/img/${id}/w=${100 + i},f=jpeg`, { from: '127.0.0.9' });
	const one = ['127.0.1.1'];
	const hundred = Array.from({ length: 100 }, (_, i) => `127.0.1.${i + 1}`);
	for (const nice of NICES) {
		await phase(srv, id, 'flood 1 address, uncached', false, one, FLOOD_CONNS, nice);
		await phase(srv, id, 'flood 100 addresses, uncached', false, hundred, 1, nice);
		await phase(srv, id, 'flood 1 address, cached', true, one, FLOOD_CONNS, nice);
		await phase(srv, id, 'flood 100 addresses, cached', true, hundred, 1, nice);
	}
} finally {
	stop(srv);
}

// The limiter's cost on cache hits: on (limits high enough never to refuse) vs off.
if (ONLY)
	process.exit(0);
const on = await start(['--rate-limit', 'hit=1000000/s:1000000,render=1000000/s:1000000']);
const off = await start(['--rate-limit', 'hit=0/s:1,render=0/s:1,api=0/s:1,upload=0/s:1']);
try {
	const ids = [await upload(on), await upload(off)];
	await request(on.port, `/img/${ids[0]}/w=120,f=jpeg`);
	await request(off.port, `/img/${ids[1]}/w=120,f=jpeg`);
	// Short windows alternated many times, the ratio of each pair, and
	// their median: the machine's load changes from second to second.
	const pairs = Math.max(4, SECS);
	const r = { on: [], off: [], ratio: [] };
	for (let i = 0; i < pairs; i++) {
		const first = i % 2 ? 'on' : 'off';
		const a = await hitThroughput(first === 'on' ? on : off, first === 'on' ? ids[0] : ids[1], 1.5);
		const b = await hitThroughput(first === 'on' ? off : on, first === 'on' ? ids[1] : ids[0], 1.5);
		const [von, voff] = first === 'on' ? [a, b] : [b, a];
		r.on.push(von);
		r.off.push(voff);
		r.ratio.push(von / voff);
	}
	const med = (a) => pct(a, 0.5);
	console.log(JSON.stringify({ hits_per_s_limiter_on: +med(r.on).toFixed(0), hits_per_s_limiter_off: +med(r.off).toFixed(0),
		ratio_on_off_median_of_pairs: +med(r.ratio).toFixed(3), pairs }));
} finally {
	stop(on);
	stop(off);
}
