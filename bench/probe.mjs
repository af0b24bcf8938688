// probe.mjs URL SECONDS INTERVAL_MS - GET URL every INTERVAL_MS for SECONDS
// from one process (cheap enough not to steal the server's CPU) and print
// each request's latency in seconds, one per line.
const [url, secs, every] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4] || 50)];
const end = Date.now() + secs * 1000;
while (Date.now() < end) {
	const t0 = performance.now();
	const r = await fetch(url);
	await r.arrayBuffer();
	console.log(((performance.now() - t0) / 1000).toFixed(6));
	await new Promise((res) => setTimeout(res, every));
}
