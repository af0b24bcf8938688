// harness.spec.mjs - the browser harness checks itself: the daemon behind
// baseURL and the admin token, the loopback-only guard (a request off
// loopback is aborted and recorded, in further contexts too), the host
// resolver rules (a name that the system resolves to 127.0.0.1 is still
// "not found" inside chromium), and axe-core running in a page.
import dns from 'node:dns/promises';
import os from 'node:os';
import { test, expect, axeViolations, isLoopbackHost } from './fixtures.mjs';

test('baseURL is the daemon and the admin token is accepted', async ({ page, request, adminRequest }) => {
	const res = await page.goto('/healthz');
	expect(res.status()).toBe(200);
	expect((await request.get('/v1/images')).status()).toBe(401);
	const list = await adminRequest.get('/v1/images');
	expect(list.status()).toBe(200);
	expect((await list.json()).success).toBe(true);
});

test('isLoopbackHost', () => {
	for (const h of ['127.0.0.1', '127.255.0.9', 'localhost', 'LOCALHOST', '[::1]'])
		expect(isLoopbackHost(h), h).toBe(true);
	for (const h of ['128.0.0.1', '127.0.0.256', '127.0.0', 'localhost.example', '[::2]', '0.0.0.0', 'example.com', '10.0.0.1'])
		expect(isLoopbackHost(h), h).toBe(false);
});

test('a request off loopback is aborted and recorded', async ({ page, offLoopback }) => {
	await page.goto('/healthz');
	const outcome = await page.evaluate(() => new Promise((resolve) => {
		const img = new Image();
		img.onload = () => resolve('loaded');
		img.onerror = () => resolve('error');
		img.src = 'http://203.0.113.9/x.png';
	}));
	expect(outcome).toBe('error');
	const fetched = await page.evaluate(() => fetch('http://example.com/').then(() => 'ok', () => 'refused'));
	expect(fetched).toBe('refused');
	expect(offLoopback).toEqual(['http://203.0.113.9/x.png', 'http://example.com/']);
	// Both were expected here: the guard would otherwise fail this test.
	offLoopback.length = 0;
});

test('a further context has the same guard and the same baseURL', async ({ newContext, offLoopback }) => {
	const ctx = await newContext({ viewport: { width: 400, height: 300 } });
	const page = await ctx.newPage();
	expect((await page.goto('/healthz')).status()).toBe(200);
	const fetched = await page.evaluate(() => fetch('http://198.51.100.7/').then(() => 'ok', () => 'refused'));
	expect(fetched).toBe('refused');
	expect(offLoopback).toEqual(['http://198.51.100.7/']);
	offLoopback.length = 0;
});

test('the host resolver answers "not found" for every name but localhost', async ({ browser, pictor }) => {
	// A context of our own, without the route guard: only the resolver
	// rules stand between the page and the name.
	const name = os.hostname();
	const addrs = await dns.lookup(name, { all: true }).catch(() => []);
	test.skip(!addrs.some((a) => a.address === '127.0.0.1'),
		`${name} does not resolve to 127.0.0.1 here, so it cannot show the rule`);
	const ctx = await browser.newContext();
	try {
		const page = await ctx.newPage();
		const ok = await page.goto(`http://localhost:${pictor.port}/healthz`);
		expect(ok.status()).toBe(200);
		const err = await page.goto(`http://${name}:${pictor.port}/healthz`).then(() => null, (e) => e);
		expect(err?.message ?? 'loaded').toContain('net::ERR_NAME_NOT_RESOLVED');
	} finally {
		await ctx.close();
	}
});

test('axe-core runs in a page', async ({ page }) => {
	await page.goto('/healthz');
	await page.setContent('<!doctype html><html lang="en"><title>t</title><main><img src="/healthz"></main></html>');
	const v = await axeViolations(page, { options: { runOnly: ['image-alt'] } });
	expect(v.map((x) => x.id)).toEqual(['image-alt']);
});
