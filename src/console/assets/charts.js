// charts.js - small hand-drawn SVG charts.

import { h, svg, fmtNum } from './dom.js';

// Columns for a series (uploads per hour, oldest first). The SVG scales
// to its box; the labels are HTML so they stay legible at any width.
export function columns(values, { label, xStart = '', xEnd = '', unit = '' } = {}) {
	const vals = values.map((v) => Number(v) || 0);
	const max = Math.max(1, ...vals);
	const n = Math.max(1, vals.length);
	const W = n * 10;
	const H = 100;
	const total = vals.reduce((a, b) => a + b, 0);
	const chart = svg('svg', {
		class: 'columns', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img',
		'aria-label': `${label}: ${fmtNum(total)} in total, at most ${fmtNum(Math.max(...vals, 0))} in one hour`,
	});
	for (let i = 0; i <= 4; i++) {
		chart.appendChild(svg('line', { class: 'grid', x1: 0, x2: W, y1: (H * i) / 4, y2: (H * i) / 4 }));
	}
	vals.forEach((v, i) => {
		const bh = (v / max) * (H - 2);
		chart.appendChild(svg('rect', { class: 'col', x: i * 10 + 1.5, y: H - bh, width: 7, height: Math.max(bh, v ? 1 : 0) },
			svg('title', null, `${xLabel(i, n)}: ${fmtNum(v)}${unit}`)));
	});
	return h('figure', { class: 'chart' },
		h('div', { class: 'chart-box' },
			h('span', { class: 'chart-max', 'aria-hidden': 'true' }, fmtNum(max)),
			chart),
		h('div', { class: 'chart-axis', 'aria-hidden': 'true' }, h('span', null, xStart), h('span', null, xEnd)),
		h('figcaption', null, label));
}

function xLabel(i, n) {
	const ago = n - 1 - i;
	return ago === 0 ? 'this hour' : `${ago} h ago`;
}

// A ring showing a ratio from 0 to 1.
export function ring(ratio, label) {
	const r = Number.isFinite(Number(ratio)) ? Math.max(0, Math.min(1, Number(ratio))) : 0;
	const C = 2 * Math.PI * 40;
	const pct = `${(r * 100).toFixed(1)}%`;
	return h('figure', { class: 'ring' },
		svg('svg', { viewBox: '0 0 100 100', role: 'img', 'aria-label': `${label}: ${pct}` },
			svg('circle', { class: 'ring-bg', cx: 50, cy: 50, r: 40 }),
			svg('circle', {
				class: 'ring-fg', cx: 50, cy: 50, r: 40,
				'stroke-dasharray': `${(r * C).toFixed(2)} ${C.toFixed(2)}`, transform: 'rotate(-90 50 50)',
			}),
			svg('text', { x: 50, y: 56, 'text-anchor': 'middle', class: 'ring-text' }, pct)),
		h('figcaption', null, label));
}
