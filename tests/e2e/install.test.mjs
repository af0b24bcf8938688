// Installation: `make install DESTDIR=... PREFIX=/usr` lays out exactly the
// expected tree; man pages match --help; the installed binary classifies
// from `/` with its installed model; the example configuration's defaults
// are accepted; bash completion completes commands and flags; `make
// uninstall` removes it all. And `make deb`, installed with apt-get, run as
// user pictor, removed (deb test: root only, see tests/deb/run.sh).

import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import * as L from './lib.mjs';

const run = promisify(execFile);
const T = 300000 * L.TIME_SCALE;
const IMAGE = path.join(L.INPUTS, 'cmyk.jpg');
const binRel = path.relative(L.ROOT, L.BIN);
// Nothing here runs on the suite's stores: the installed and packaged
// binaries run with PICTOR_* cleared (cleanEnv), on their embedded
// defaults, so a run on S3 + PostgreSQL would only repeat this one.
const sameAsEmbedded = L.EXTERNAL && 'installation and packaging never use the suite\'s S3/PostgreSQL stores (PICTOR_* cleared); the embedded run covers them';

// The environment without PICTOR_*: nothing may point the binary at models.
function cleanEnv() {
	return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PICTOR_')));
}

const make = (args) => run('make', ['--no-print-directory', `BIN=${binRel}`, '-o', binRel, ...args],
	{ cwd: L.ROOT, env: cleanEnv(), maxBuffer: 1 << 24 });

function commands(bin) {
	const help = execFileSync(bin, ['--help'], { encoding: 'utf8' });
	return help.split('commands:\n')[1].split('\n\n')[0].split('\n').map((l) => l.trim().split(/\s+/)[0]);
}

// The text of a generated man page: what sits between .nf and .fi, unescaped.
function manText(file) {
	const roff = fs.readFileSync(file, 'utf8');
	const body = roff.slice(roff.indexOf('\n.nf\n') + 5, roff.indexOf('\n.fi\n'));
	return body.split('\n').map((l) => l.replace(/^\\&/, '').replace(/\\e/g, '\\')).join('\n');
}

test('make install: the tree, man pages = --help, classify from /, uninstall', { skip: sameAsEmbedded, timeout: T }, async () => {
	const dest = await L.tmpDir('pictor-install-');
	await make(['install', `DESTDIR=${dest}`, 'PREFIX=/usr']);
	const cmds = commands(L.BIN);
	const models = L.walk(path.join(L.ROOT, 'models')).map((f) => `usr/share/pictor/models/${f}`);
	const docs = fs.readdirSync(path.join(L.ROOT, 'docs')).filter((f) => f.endsWith('.md'))
		.map((f) => `usr/share/doc/pictor/${f}`);
	const want = [
		'etc/pictor/pictor.env',
		'usr/bin/pictor',
		'usr/lib/systemd/system/pictor.service',
		'usr/share/bash-completion/completions/pictor',
		'usr/share/doc/pictor/README.md',
		'usr/share/doc/pictor/examples/pictor.env',
		'usr/share/man/man1/pictor.1',
		...cmds.map((c) => `usr/share/man/man1/pictor-${c}.1`),
		...docs, ...models,
	].sort();
	assert.deepEqual(L.walk(dest), want);
	assert.equal(fs.statSync(path.join(dest, 'usr/bin/pictor')).mode & 0o777, 0o755);
	const unit = fs.readFileSync(path.join(dest, 'usr/lib/systemd/system/pictor.service'), 'utf8');
	assert.match(unit, /^ExecStart=\/usr\/bin\/pictor serve --data \/var\/lib\/pictor$/m);
	assert.match(unit, /^EnvironmentFile=-\/etc\/pictor\/pictor.env$/m);
	for (const line of ['Type=notify', 'ProtectSystem=strict', 'ReadWritePaths=/var/lib/pictor', 'NoNewPrivileges=yes',
		'PrivateTmp=yes', 'ProtectHome=yes', 'SystemCallFilter=@system-service', 'ExecReload=/bin/kill -HUP $MAINPID']) {
		assert.ok(unit.split('\n').includes(line), `unit lacks ${line}`);
	}

	// man pages cannot drift from --help
	const bin = path.join(dest, 'usr/bin/pictor');
	assert.equal(manText(path.join(dest, 'usr/share/man/man1/pictor.1')),
		execFileSync(bin, ['--help'], { encoding: 'utf8' }).replace(/\n$/, ''));
	for (const c of cmds) {
		const help = execFileSync(bin, [c, '--help'], { encoding: 'utf8' }).replace(/\n$/, '');
		assert.equal(manText(path.join(dest, `usr/share/man/man1/pictor-${c}.1`)), help, `pictor-${c}.1 differs from --help`);
	}

	// the installed binary finds its installed model from any directory
	const cl = spawnSync(bin, ['classify', '--json', IMAGE], { cwd: '/', env: cleanEnv(), encoding: 'utf8' });
	assert.equal(cl.status, 0, cl.stderr);
	assert.ok(JSON.parse(cl.stdout).verdict, cl.stdout);
	const cfg = spawnSync(bin, ['config', '--data', dest], { cwd: '/', env: cleanEnv(), encoding: 'utf8' });
	assert.match(cfg.stdout, new RegExp(`"models": "${dest}/usr/bin/../share/pictor/models"`));

	// every default of the example configuration is accepted as it stands
	const env = fs.readFileSync(path.join(dest, 'etc/pictor/pictor.env'), 'utf8');
	const vars = Object.fromEntries([...env.matchAll(/^#(PICTOR_[A-Z0-9_]+)=(.+)$/gm)].map((m) => [m[1], m[2]]));
	assert.ok(Object.keys(vars).length > 20, env);
	const ok = spawnSync(bin, ['config', '--data', dest], { cwd: '/', env: { ...cleanEnv(), ...vars }, encoding: 'utf8' });
	assert.equal(ok.status, 0, ok.stderr);

	// bash completion asks the binary
	const comp = (words) => execFileSync('bash', ['-c',
		`. ${dest}/usr/share/bash-completion/completions/pictor; COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _pictor; echo "\${COMPREPLY[*]}"`],
	{ encoding: 'utf8' }).trim();
	assert.deepEqual(comp(`${bin} ba`).split(' '), ['backup']);
	assert.ok(comp(`${bin} fsck --r`).split(' ').includes('--repair'));

	await make(['uninstall', `DESTDIR=${dest}`, 'PREFIX=/usr']);
	assert.deepEqual(L.walk(dest), []);
});

const canDeb = process.getuid?.() === 0 &&
	['dpkg-deb', 'dpkg-shlibdeps', 'apt-get', 'flock', 'setpriv', 'curl'].every((t) =>
		spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);

test('make deb: apt-get install, run as pictor against /etc/pictor, remove', {
	timeout: 2 * T,
	skip: sameAsEmbedded || (/asan/.test(L.BIN) ? 'a sanitizer build is not packaged'
		: !canDeb ? 'needs root, dpkg-deb, dpkg-shlibdeps, apt-get, flock, setpriv and curl' : false),
}, async (t) => {
	const { stdout } = await make(['deb']);
	const deb = stdout.trim().split('\n').pop();
	assert.match(deb, /pictor_[0-9.]+_[a-z0-9]+\.deb$/);
	// one run at a time on a shared machine
	const r = spawnSync('flock', ['-w', '900', path.join(os.tmpdir(), 'pictor-deb-test.lock'),
		'bash', path.join(L.ROOT, 'tests/deb/run.sh'), path.join(L.ROOT, deb), IMAGE], { encoding: 'utf8', env: cleanEnv() });
	if (r.status === 77) {
		t.skip(r.stdout.trim());
		return;
	}
	assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
	for (const step of ['installed', 'classify from /', 'served as pictor', 'removed and purged']) {
		assert.match(r.stdout, new RegExp(`^ok: .*${step}`, 'm'));
	}
});
