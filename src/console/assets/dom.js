// dom.js - building DOM without markup strings.
//
// Server data is only ever placed with textContent, attribute setters and
// createElement: no innerHTML anywhere in the console, so a filename such
// as `<img src=x onerror=...>` stays text.

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, kids) {
	for (const k of kids) {
		if (k === null || k === undefined || k === false) continue;
		if (Array.isArray(k)) append(el, k);
		else if (k instanceof Node) el.appendChild(k);
		else el.appendChild(document.createTextNode(String(k)));
	}
}

// Properties set as DOM properties rather than attributes.
const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'selected',
	'multiple', 'readOnly', 'required', 'indeterminate']);

function apply(el, props) {
	if (!props) return;
	for (const [k, v] of Object.entries(props)) {
		if (v === null || v === undefined || v === false && !PROPS.has(k)) continue;
		if (k === 'class') el.setAttribute('class', v);
		else if (k === 'text') el.textContent = String(v);
		else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
		else if (PROPS.has(k)) el[k] = v;
		else el.setAttribute(k, v === true ? '' : String(v));
	}
}

// h('button', {class: 'x', onclick: fn}, 'text', child, [more])
export function h(tag, props, ...kids) {
	const el = document.createElement(tag);
	apply(el, props);
	append(el, kids);
	return el;
}

export function svg(tag, props, ...kids) {
	const el = document.createElementNS(SVG_NS, tag);
	apply(el, props);
	append(el, kids);
	return el;
}

export function clear(el) {
	while (el.firstChild) el.removeChild(el.firstChild);
	return el;
}

export function replace(el, ...kids) {
	clear(el);
	append(el, kids);
	return el;
}

let uid = 0;
export const nextId = (p = 'f') => `${p}-${++uid}`;

export function fmtBytes(n) {
	if (n === null || n === undefined || !Number.isFinite(Number(n))) return '—';
	n = Number(n);
	if (n < 1024) return `${n} B`;
	if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
	if (n < 1024 * 1024 * 1024) return `${(n / 1048576).toFixed(1)} MB`;
	return `${(n / 1073741824).toFixed(2)} GB`;
}

export function fmtNum(n) {
	if (n === null || n === undefined || !Number.isFinite(Number(n))) return '—';
	return Number(n).toLocaleString('en-US');
}

export function fmtTime(s) {
	if (!s) return '—';
	const d = new Date(s);
	if (Number.isNaN(d.getTime())) return String(s);
	return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

// The live region every page reports to ("Deleted 3 images").
export function announce(msg, kind = 'ok') {
	const t = document.getElementById('toast');
	if (!t) return;
	replace(t, h('p', { class: `toast-msg toast-${kind}` }, msg));
	clearTimeout(announce.timer);
	announce.timer = setTimeout(() => clear(t), 6000);
}

// An error box with the API's message and code.
export function errorBox(err, title = 'Something went wrong') {
	const msg = err && err.message ? err.message : String(err);
	const code = err && err.code ? err.code : null;
	return h('div', { class: 'error', role: 'alert' },
		h('strong', null, `${title}: `), msg, code ? h('span', { class: 'code' }, ` (${code})`) : null);
}

export function loading(text = 'Loading…') {
	return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

export function empty(text) {
	return h('p', { class: 'empty' }, text);
}

export function statusBadge(status) {
	const s = ['approved', 'flagged', 'blocked', 'pending'].includes(status) ? status : 'unknown';
	return h('span', { class: `badge badge-${s}` }, status || 'unknown');
}

// A modal confirmation on a native <dialog>; resolves true or false.
export function confirmDialog(title, body, okLabel = 'Delete', danger = true) {
	return new Promise((resolve) => {
		const id = nextId('dlg');
		const ok = h('button', { type: 'submit', value: 'ok', class: danger ? 'btn danger' : 'btn primary' }, okLabel);
		const cancel = h('button', { type: 'submit', value: 'cancel', class: 'btn', formnovalidate: true }, 'Cancel');
		const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': id },
			h('form', { method: 'dialog' },
				h('h2', { id }, title),
				h('p', null, body),
				h('div', { class: 'actions' }, cancel, ok)));
		dlg.addEventListener('close', () => {
			resolve(dlg.returnValue === 'ok');
			dlg.remove();
		});
		document.body.appendChild(dlg);
		dlg.showModal();
		cancel.focus();
	});
}

// Horizontal bars in HTML (real text, scales to any width).
// items: [{label, value, cls}]; max: the full-bar value.
export function bars(items, { max, format = fmtNum, label } = {}) {
	const top = max ?? Math.max(1, ...items.map((i) => Number(i.value) || 0));
	const list = h('ul', { class: 'bars', 'aria-label': label || null });
	for (const it of items) {
		const v = Number(it.value) || 0;
		const fill = h('span', { class: `bar-fill ${it.cls || ''}` });
		fill.style.width = `${Math.max(0, Math.min(100, (v / top) * 100))}%`;
		list.appendChild(h('li', { class: 'bar' },
			h('span', { class: 'bar-label' }, it.label),
			h('span', { class: 'bar-track', 'aria-hidden': 'true' }, fill),
			h('span', { class: 'bar-value' }, format(v))));
	}
	return list;
}

// Is the keyboard event aimed at a text field (shortcuts stay out)?
export function typing(e) {
	const t = e.target;
	if (!t || !t.tagName) return false;
	const tag = t.tagName;
	return tag === 'TEXTAREA' || tag === 'SELECT' || t.isContentEditable ||
		(tag === 'INPUT' && !['checkbox', 'radio', 'button', 'submit'].includes(t.type));
}
