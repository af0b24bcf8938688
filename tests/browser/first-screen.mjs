// first-screen.mjs - the images page's first screen, timed in the page:
// from navigation start until the grid has its tiles (the list answered
// and nothing in <main> is still loading) and every thumbnail inside the
// viewport has loaded and been decoded (HTMLImageElement.decode()). Used
// by console-pages.spec.mjs (a printed figure) and bench/console.mjs.
// Call it right after page.goto('/admin/#/images').
//
// Resolves with { ms, tiles, inView, failed } (failed: thumbnails in view
// that did not load).
export function firstScreen(page, timeout = 60_000) {
	return page.evaluate(async (limit) => {
		const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
		for (;;) {
			if (document.querySelector('.grid .tile') && !document.querySelector('main .loading')) break;
			if (performance.now() > limit) throw new Error('the grid did not show');
			await frame();
		}
		const vh = window.innerHeight;
		const imgs = [...document.querySelectorAll('.tile img')].filter((i) => {
			const b = i.getBoundingClientRect();
			return b.top < vh && b.bottom > 0;
		});
		await Promise.all(imgs.map((i) => i.decode().catch(() => {})));
		await frame();
		return {
			ms: performance.now(),
			tiles: document.querySelectorAll('.grid .tile').length,
			inView: imgs.length,
			failed: imgs.filter((i) => !(i.complete && i.naturalWidth)).length,
		};
	}, timeout);
}
