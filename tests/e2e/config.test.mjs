// Configuration that cannot silently go wrong: typos in the file, the
// environment and the flags are errors with a suggestion and the place;
// values with units; --show-origin; serve --check; the data-directory
// lock; make run LISTEN= DATA=; the bind error; CLI messages that say what
// to do.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 60000 * L.TIME_SCALE;

async function writeConfig(obj) {
	const dir = await L.tmpDir();
	const file = path.join(dir, 'pictor.json');
	await fs.writeFile(file, typeof obj === 'string' ? obj : JSON.stringify(obj, null, 2) + '\n');
	return { dir, file };
}

describe('typos are errors with a suggestion and the place', () => {
	// [what, argv (after the command), env, expected stderr parts]
	const cases = [
		['file key', async () => {
			const { dir, file } = await writeConfig('{\n  "listen": "127.0.0.1:0",\n  "dta": "/srv/img"\n}\n');
			return [['--data', dir, '--config', file], {}, [`${file}:3`, 'unknown key "dta"', 'did you mean "data"?']];
		}],
		['env variable', async () => {
			const dir = await L.tmpDir();
			return [['--data', dir], { PICTOR_DTA: '/srv/img' }, ['PICTOR_DTA', 'did you mean "PICTOR_DATA"?']];
		}],
		['flag', async () => {
			const dir = await L.tmpDir();
			return [['--data', dir, '--dta', '/srv/img'], {}, ['unknown option "--dta"', 'did you mean "--data"?', '--help']];
		}],
		['file value', async () => {
			const { dir, file } = await writeConfig('{\n  "max_upload_bytes": "32Q"\n}\n');
			return [['--data', dir, '--config', file], {}, [`${file}:2`, 'max_upload_bytes', '32M']];
		}],
		['env value', async () => {
			const dir = await L.tmpDir();
			return [['--data', dir], { PICTOR_MODERATION: 'maybe' }, ['PICTOR_MODERATION', 'on, off']];
		}],
		['flag value', async () => {
			const dir = await L.tmpDir();
			return [['--data', dir, '--moderation-mode', 'asnc'], {}, ['--moderation-mode', 'sync or async', 'did you mean "async"?']];
		}],
		['configured variant', async () => {
			const { dir, file } = await writeConfig('{\n  "variants": {\n    "small": "widht=300"\n  }\n}\n');
			return [['--data', dir, '--config', file], {}, [`${file}:3`, 'variant "small"', 'did you mean "width"?']];
		}],
		['moderation policy', async () => {
			const dir = await L.tmpDir();
			return [['--data', dir, '--moderation-policy', 'block: prn>=0.5'], {}, ['flag --moderation-policy', 'unknown class "prn"', 'MODERATION.md']];
		}],
	];
	for (const [what, make] of cases) {
		for (const cmd of ['config', 'serve']) {
			test(`${what}: pictor ${cmd} exits 2 and says where`, { timeout: T }, async () => {
				const [args, env, parts] = await make();
				const r = await L.runCli([cmd, ...args], { env, timeout: 15000 });
				assert.equal(r.code, 2, `exit ${r.code} ${r.signal ?? ''}: ${r.stderr}`);
				for (const p of parts) assert.ok(r.stderr.includes(p), `stderr lacks ${JSON.stringify(p)}: ${r.stderr}`);
				// The data directory was not touched: nothing started.
				assert.deepEqual(await fs.readdir(args[1]).then((l) => l.filter((f) => f !== 'pictor.json')), []);
			});
		}
	}
});

describe('values and origins', () => {
	test('sizes, durations and booleans in every source', { timeout: T }, async () => {
		const { dir, file } = await writeConfig({ max_upload_bytes: '8M', conn_timeout: '2m', moderation_placeholder: true,
			flexible_variants: 'off' });
		const r = await L.runCli(['config', '--data', dir, '--config', file, '--upload-memory', '1G', '--drain-timeout=1m'],
			{ env: { PICTOR_CONN_MEMORY: '128K', PICTOR_MODERATION: 'off' } });
		assert.equal(r.code, 0, r.stderr);
		const c = JSON.parse(r.stdout);
		assert.equal(c.max_upload_bytes, 8 * 1024 * 1024);
		assert.equal(c.conn_timeout, 120);
		assert.equal(c.upload_memory, 1024 ** 3);
		assert.equal(c.drain_timeout, 60);
		assert.equal(c.conn_memory, 128 * 1024);
		assert.equal(c.moderation, false);
		assert.equal(c.moderation_placeholder, true);
		assert.equal(c.flexible_variants, false);
	});

	test('pictor config shows resolved values; --show-origin says where each came from', { timeout: T }, async () => {
		const { dir, file } = await writeConfig('{\n  "queue": 7,\n  "variants": {\n    "tiny": "w=10"\n  }\n}\n');
		const env = { PICTOR_MAX_SIDE: '2222', PICTOR_ADMIN_TOKEN: 'env-secret-admin-token' };
		const args = ['--data', dir, '--config', file, '--max-frames', '9', '--signing-keys', 'flag-secret-key'];
		const j = await L.runCli(['config', ...args], { env });
		assert.equal(j.code, 0, j.stderr);
		const c = JSON.parse(j.stdout);
		assert.ok(Number.isInteger(c.workers) && c.workers >= 1, `workers resolved to a count: ${c.workers}`);
		assert.equal(c.public_url, 'http://127.0.0.1:8080');
		assert.match(c.moderation_policy, /block.*porn>=/, 'the default policy text');

		const r = await L.runCli(['config', '--show-origin', ...args], { env });
		assert.equal(r.code, 0, r.stderr);
		const lines = new Map(r.stdout.trim().split('\n').map((l) => {
			const [origin, kv] = l.split('\t');
			const eq = kv.indexOf('=');
			return [kv.slice(0, eq), { origin, value: kv.slice(eq + 1) }];
		}));
		assert.deepEqual(lines.get('queue'), { origin: `${file}:2`, value: '7' });
		assert.deepEqual(lines.get('max_side'), { origin: 'env PICTOR_MAX_SIDE', value: '2222' });
		assert.deepEqual(lines.get('max_frames'), { origin: 'flag --max-frames', value: '9' });
		assert.deepEqual(lines.get('listen'), { origin: 'default', value: '"127.0.0.1:8080"' });
		assert.deepEqual(lines.get('variants.tiny'), { origin: `${file}:4`, value: '"w=10"' });
		assert.equal(lines.get('variants.public').origin, 'default');
		assert.equal(lines.get('admin_token').origin, 'env PICTOR_ADMIN_TOKEN');
		assert.equal(lines.get('signing_keys').origin, 'flag --signing-keys');
		for (const s of ['env-secret-admin-token', 'flag-secret-key']) {
			assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), `secret ${s} shown`);
		}
		assert.equal(lines.get('admin_token').value, '"***"');
	});

	test('meta: lmdb by default; a PostgreSQL URI is shown with its passwords masked; anything else is refused', { timeout: T }, async () => {
		const dir = await L.tmpDir();
		let r = await L.runCli(['config', '--data', dir, '--meta', 'lmdb']);
		assert.equal(r.code, 0, r.stderr);
		assert.equal(JSON.parse(r.stdout).meta, 'lmdb');
		const uri = 'postgres://pictor:pw-in-uri@db.example:5432/pictor?sslmode=require&password=pw-in-query';
		r = await L.runCli(['config', '--show-origin', '--data', dir], { env: { PICTOR_META: uri } });
		assert.equal(r.code, 0, r.stderr);
		assert.match(r.stdout, /^env PICTOR_META\tmeta="postgres:\/\/pictor:\*\*\*@db\.example:5432\/pictor\?sslmode=require&password=\*\*\*"$/m);
		r = await L.runCli(['config', '--data', dir, '--meta', "host=db.example password='p w' dbname=pictor"]);
		assert.equal(r.code, 0, r.stderr);
		assert.equal(JSON.parse(r.stdout).meta, 'host=db.example password=*** dbname=pictor');
		assert.ok(!/pw-in|p w/.test(r.stdout + r.stderr));
		r = await L.runCli(['config', '--data', dir, '--meta', 'mysql://u:secretpw@h/db']);
		assert.equal(r.code, 2);
		assert.match(r.stderr, /meta is neither lmdb nor a PostgreSQL connection URI/);
		assert.ok(!r.stderr.includes('secretpw'));
	});
});

describe('the blob store setting', () => {
	test('S3 credentials are masked; --check refuses a bad location or missing credentials', { timeout: T }, async () => {
		const dir = await L.tmpDir();
		const loc = 's3://pictor-bucket/pre?endpoint=http://127.0.0.1:9&path_style=1';
		let r = await L.runCli(['config', '--data', dir, '--blob', loc, '--s3-access-key-id', 'AKIDSHOWN',
			'--s3-secret-access-key', 'secret-never-shown'], { env: { PICTOR_S3_SESSION_TOKEN: 'token-never-shown' } });
		assert.equal(r.code, 0, r.stderr);
		const cfg = JSON.parse(r.stdout);
		assert.equal(cfg.blob, loc);
		assert.equal(cfg.s3_secret_access_key, '***');
		assert.equal(cfg.s3_session_token, '***');
		assert.ok(!/never-shown/.test(r.stdout + r.stderr));
		// (under make s3 every command gets its own bucket prefix instead)
		if (!L.S3) assert.equal(JSON.parse((await L.runCli(['config', '--data', dir])).stdout).blob, 'file');

		r = await L.runCli(['config', '--data', dir, '--blob', 'ftp://x']);
		assert.equal(r.code, 2);
		assert.match(r.stderr, /blob "ftp:\/\/x" is neither file nor s3:/);
		const noKeys = { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' };
		r = await L.runCli(['serve', '--check', '--moderation', 'off', '--data', dir, '--blob', 's3://x'], { env: noKeys });
		assert.equal(r.code, 2);
		assert.match(r.stderr, /blob store: bucket name/);
		r = await L.runCli(['serve', '--check', '--moderation', 'off', '--data', dir, '--blob', loc], { env: noKeys });
		assert.equal(r.code, 2);
		assert.match(r.stderr, /blob store: no S3 credentials/);
		r = await L.runCli(['serve', '--check', '--moderation', 'off', '--data', dir, '--blob', loc],
			{ env: { AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'k' } });
		assert.equal(r.code, 0, r.stderr);
	});
});

describe('serve --check', () => {
	test('valid: exit 0, nothing created; invalid: exit 2 with the reason', { timeout: T }, async () => {
		const base = await L.tmpDir();
		const data = path.join(base, 'not', 'yet');
		const ok = await L.runCli(['serve', '--check', '--data', data]);
		assert.equal(ok.code, 0, ok.stderr);
		assert.match(ok.stdout, /configuration ok/);
		assert.match(ok.stdout, /model loaded/);
		assert.deepEqual(await fs.readdir(base), [], '--check creates nothing');

		const bad = await L.runCli(['serve', '--check', '--data', data, '--models', path.join(base, 'nope')]);
		assert.equal(bad.code, 2);
		assert.match(bad.stderr, /classifier/);

		const file = path.join(base, 'file');
		await fs.writeFile(file, 'x');
		const notDir = await L.runCli(['serve', '--check', '--data', path.join(file, 'sub'), '--moderation', 'off']);
		assert.equal(notDir.code, 2);
		assert.ok(notDir.stderr.includes('--data'), notDir.stderr);
	});
});

describe('one daemon per data directory', () => {
	test('a second serve on the same --data refuses; the first keeps serving', { timeout: T }, async () => {
		const a = await L.startServer({ args: ['--moderation', 'off'] });
		try {
			const r = await L.runCli(['serve', '--listen', '127.0.0.1:0', '--data', a.dataDir, '--moderation', 'off'],
				{ timeout: 10000 });
			assert.equal(r.code, 1, `exit ${r.code} ${r.signal}: ${r.stderr}`);
			assert.match(r.stderr, /is in use by another pictor process \(pid \d+\)/);
			assert.match(r.stderr, /--data/);
			assert.equal((await L.req(a, 'GET', '/readyz')).status, 200);
			// Read-only tools are fine beside it.
			const s = await L.runCli(['sign', '/img/x/public', '--data', a.dataDir]);
			assert.equal(s.code, 0, s.stderr);
		} finally {
			await a.kill();
		}
		// Released with the process: a new daemon takes the directory.
		const b = await L.startServer({ dataDir: a.dataDir, args: ['--moderation', 'off'] });
		await b.kill();
	});

	test('a bind failure names the address and the setting', { timeout: T }, async () => {
		const a = await L.startServer({ args: ['--moderation', 'off'] });
		try {
			const dir = await L.tmpDir();
			const r = await L.runCli(['serve', '--data', dir, '--moderation', 'off'], { env: { PICTOR_LISTEN: a.addr }, timeout: 10000 });
			assert.equal(r.code, 1);
			assert.ok(r.stderr.includes(`cannot listen on \\"${a.addr}\\"`), r.stderr);
			assert.ok(r.stderr.includes('set by env PICTOR_LISTEN'), r.stderr);
			assert.ok(r.stderr.includes('--listen'), r.stderr);
		} finally {
			await a.kill();
		}
	});

	test('a missing parent of the data directory is created', { timeout: T }, async () => {
		const base = await L.tmpDir();
		// The later --data wins over the one startServer gives.
		const s = await L.startServer({ dataDir: base, args: ['--data', path.join(base, 'a', 'b', 'c'), '--moderation', 'off'] });
		await s.kill();
		assert.ok((await fs.readdir(path.join(base, 'a', 'b', 'c'))).includes('secrets.json'));
	});
});

describe('make run', () => {
	test('LISTEN= and DATA= choose the address and the directory', { timeout: 3 * T }, async () => {
		const data = path.join(await L.tmpDir(), 'var');
		const env = {};
		for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PICTOR_')) env[k] = v;
		// As a user runs it: make builds ./pictor if needed (BIN= is left
		// alone: pointing it at a sanitizer build would relink that binary
		// from the plain objects).
		const p = spawn('make', ['-s', '--no-print-directory', 'run', 'LISTEN=127.0.0.1:0', `DATA=${data}`, 'ARGS=--moderation off'],
		{ cwd: L.ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
		let out = '';
		const addr = await new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`no "listening" line: ${out}`)), 120000 * L.TIME_SCALE);
			const on = (c) => {
				out += c;
				const m = out.match(/"msg":"listening","addr":"([^"]+)"/);
				if (m) {
					clearTimeout(timer);
					resolve(m[1]);
				}
			};
			p.stdout.on('data', on);
			p.stderr.on('data', on);
			p.on('exit', (code) => reject(new Error(`make exited ${code}: ${out}`)));
		});
		try {
			assert.match(addr, /^127\.0\.0\.1:\d+$/);
			assert.notEqual(addr, '127.0.0.1:8080');
			const r = await fetch(`http://${addr}/healthz`);
			assert.equal(r.status, 200);
			assert.ok((await fs.readdir(data)).includes('secrets.json'), 'DATA= is the data directory');
		} finally {
			process.kill(-p.pid, 'SIGTERM');
		}
	});
});

describe('command-line messages that say what to do', () => {
	test('unknown commands and flags suggest the nearest and --help', { timeout: T }, async () => {
		let r = await L.runCli(['srve']);
		assert.equal(r.code, 2);
		assert.match(r.stderr, /unknown command "srve"; did you mean "serve"\?/);
		assert.match(r.stderr, /pictor --help/);
		r = await L.runCli(['--verison']);
		assert.equal(r.code, 2);
		assert.match(r.stderr, /did you mean "--version"\?/);
		r = await L.runCli(['sign', '/img/x/public', '--tll', '60']);
		assert.equal(r.code, 2);
		assert.match(r.stderr, /unknown option "--tll"; did you mean "--ttl"\?/);
		assert.match(r.stderr, /pictor sign --help/);
		r = await L.runCli(['classify', '--jsno', 'x.jpg']);
		assert.equal(r.code, 2);
		assert.match(r.stderr, /did you mean "--json"\?/);
		// One piece of advice, once.
		assert.equal(r.stderr.split('--help').length, 2, r.stderr);
	});

	test('-v, -V, --version and version print the version; version --help prints help', { timeout: T }, async () => {
		for (const a of [['-v'], ['-V'], ['--version'], ['version']]) {
			const r = await L.runCli(a);
			assert.equal(r.code, 0, `${a}: ${r.stderr}`);
			assert.match(r.stdout, /^pictor \d+\.\d+\.\d+\n/);
		}
		const h = await L.runCli(['version', '--help']);
		assert.equal(h.code, 0);
		assert.match(h.stdout, /^usage: pictor version/);
	});

	test('sign and classify outside the data and checkout directories name --data and --models', { timeout: T }, async () => {
		const cwd = await L.tmpDir();
		let r = await L.runCli(['sign', '/img/x/public'], { cwd });
		assert.equal(r.code, 1);
		assert.match(r.stderr, /no secrets file/);
		assert.match(r.stderr, /--data/);
		// Without --models the model is found next to the binary; a wrong one says what to do.
		r = await L.runCli(['classify', path.join(L.INPUTS, 'rgb.jpg')], { cwd, env: { PICTOR_MODELS: '' } });
		assert.equal(r.code, 0, r.stderr);
		r = await L.runCli(['classify', path.join(L.INPUTS, 'rgb.jpg')], { cwd, env: { PICTOR_MODELS: path.join(cwd, 'models') } });
		assert.equal(r.code, 2);
		assert.match(r.stderr, /no classifier model in ".*models" \(from env PICTOR_MODELS\)/);
		assert.match(r.stderr, /--models/);
		assert.ok(!/moderation off/.test(r.stderr), 'no advice that does not apply to classify');
	});

	test('--models takes the models root or the model\'s own directory', { timeout: T }, async () => {
		const file = path.join(L.INPUTS, 'rgb.jpg');
		const root = await L.runCli(['classify', '--json', '--models', L.MODELS, file]);
		const own = await L.runCli(['classify', '--json', '--models', path.join(L.MODELS, 'nsfwjs-mobilenet-v2-mid'), file]);
		assert.equal(root.code, 0, root.stderr);
		assert.equal(own.code, 0, own.stderr);
		assert.deepEqual(JSON.parse(own.stdout).scores, JSON.parse(root.stdout).scores);
	});
});
