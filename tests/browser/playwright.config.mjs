// playwright.config.mjs - Pictor's browser tests: Playwright's runner
// driving Debian's chromium (/usr/bin/chromium, scripts/install-deps.sh),
// never a browser of Playwright's own (none can be downloaded).
//
// The host resolver maps every name but localhost and the loopback
// literals (127.*, ::1) to "not found", so a page can reach nothing but
// loopback even when the code under test is wrong (the rule also applies to
// IP literals, hence the EXCLUDEs); fixtures.mjs also aborts and fails any
// request to a host that is not strictly loopback (127.evil.example is not).
// One worker, no retries: a flaky test shows as a failure. Screenshots and
// traces of failures go to build/browser/.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from '@playwright/test';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const OUT = path.join(ROOT, 'build', 'browser');

export const CHROMIUM = process.env.PICTOR_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
	'--headless=new',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
	'--disable-default-apps',
	'--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.*, EXCLUDE ::1',
];

export default defineConfig({
	testDir: HERE,
	testMatch: '**/*.spec.mjs',
	outputDir: path.join(OUT, 'results'),
	workers: 1,
	fullyParallel: false,
	retries: 0,
	forbidOnly: true,
	timeout: 60_000,
	expect: { timeout: 10_000 },
	reporter: [['list']],
	use: {
		browserName: 'chromium',
		headless: true,
		launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS },
		screenshot: 'only-on-failure',
		trace: 'retain-on-failure',
		serviceWorkers: 'block',
		offline: false,
	},
});
