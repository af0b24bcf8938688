// images.js - the images grid (#/images) and an image's page (#/images/<id>).

import {
	h, replace, clear, errorBox, loading, empty, announce, fmtBytes, fmtNum, fmtTime,
	statusBadge, confirmDialog, bars, nextId,
} from './dom.js';
import { api, get, qs, can, ApiError } from './api.js';

const STATUSES = ['approved', 'flagged', 'blocked', 'pending'];
const PER_PAGE = 48;
// The grid's thumbnails: GET /v1/images/{id}/thumbnail, a 240x240 WebP
// kept in the result cache (rendered by the upload), shown for every
// moderation status to a session that may read images.
export const thumbUrl = (id) => `/v1/images/${encodeURIComponent(id)}/thumbnail`;
// The first cards of a page start loading at once; later ones when near.
const EAGER = 24;

// Delivery options written as Cloudflare writes them (width=320,fit=cover).
export function optionString(o, skip = []) {
	if (typeof o === 'string') {
		return o.split(',').filter((kv) => kv && !skip.includes(kv.split('=')[0])).join(',');
	}
	const out = [];
	for (const [k, v] of Object.entries(o || {})) {
		if (skip.includes(k) || v === null || v === undefined || v === '') continue;
		if (typeof v === 'object') {
			for (const [sk, sv] of Object.entries(v)) {
				if (sv !== null && sv !== undefined && typeof sv !== 'object') out.push(`${k}.${sk}=${sv}`);
			}
		} else out.push(`${k}=${v}`);
	}
	return out.join(',');
}

// A delivery URL for an image, signed by the server when the image needs
// it: GET /v1/images/{id}/url.
export async function deliveryUrl(id, { variant, options, ttl = 3600 } = {}) {
	const r = await get(`/v1/images/${encodeURIComponent(id)}/url${qs({ variant, options, ttl })}`);
	return r.url;
}

// An <img> that shows a placeholder naming the reason when it fails.
export function thumb(src, alt, note, cls = 'thumb', eager = false) {
	const box = h('span', { class: `${cls}-box` });
	if (!src) {
		box.appendChild(h('span', { class: 'thumb-none' }, note || 'no preview'));
		return box;
	}
	const img = h('img', { class: cls, src, alt, loading: eager ? 'eager' : 'lazy', decoding: 'async', width: 240, height: 240 });
	img.addEventListener('error', () => {
		replace(box, h('span', { class: 'thumb-none' }, note || 'preview unavailable'));
	}, { once: true });
	box.appendChild(img);
	return box;
}

// --- the grid ------------------------------------------------------------------

export async function imagesPage(root, { params, stillHere }) {
	const state = {
		status: STATUSES.includes(params.get('status')) ? params.get('status') : '',
		search: params.get('search') || '',
		token: null,
		loaded: 0,
		busy: false,
		selected: new Set(),
	};
	const canDelete = can('images:delete');

	const searchIn = h('input', { id: 'img-search', type: 'search', name: 'search', value: state.search, placeholder: 'Filename or metadata', autocomplete: 'off' });
	const statusSel = h('select', { id: 'img-status', name: 'status' },
		h('option', { value: '' }, 'All statuses'),
		STATUSES.map((s) => h('option', { value: s, selected: s === state.status }, s)));
	const filters = h('form', { class: 'toolbar', role: 'search', 'aria-label': 'Filter images' },
		h('div', { class: 'field' }, h('label', { for: 'img-search' }, 'Search'), searchIn),
		h('div', { class: 'field' }, h('label', { for: 'img-status' }, 'Status'), statusSel),
		h('button', { type: 'submit', class: 'btn' }, 'Apply'));

	const selCount = h('span', { class: 'sel-count', 'aria-live': 'polite' }, '');
	const delBtn = h('button', { type: 'button', class: 'btn danger', disabled: true, onclick: deleteSelected }, 'Delete selected');
	const selAll = h('button', { type: 'button', class: 'btn', onclick: selectAll }, 'Select all shown');
	const clearSel = h('button', { type: 'button', class: 'btn', onclick: () => setAll(false) }, 'Clear selection');
	const bulk = canDelete ? h('div', { class: 'bulkbar' }, selAll, clearSel, delBtn, selCount) : null;

	const grid = h('ul', { class: 'grid', 'aria-label': 'Images, newest first' });
	const status = h('div', { class: 'list-status' });
	const more = h('button', { type: 'button', class: 'btn', hidden: true, onclick: () => loadMore() }, 'Load more');
	const sentinel = h('div', { class: 'sentinel', 'aria-hidden': 'true' });

	replace(root,
		h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Images'),
			can('images:write') ? h('a', { class: 'btn primary', href: '#/upload' }, 'Upload') : null),
		filters, bulk, grid, status, h('div', { class: 'more' }, more), sentinel);

	function hashFor() {
		return `#/images${qs({ status: state.status, search: state.search })}`;
	}

	filters.addEventListener('submit', (e) => {
		e.preventDefault();
		apply();
	});
	statusSel.addEventListener('change', apply);

	function apply() {
		state.status = statusSel.value;
		state.search = searchIn.value.trim();
		history.replaceState(null, '', hashFor());
		reset();
		loadMore();
	}

	function reset() {
		state.token = null;
		state.loaded = 0;
		state.done = false;
		state.selected.clear();
		clear(grid);
		updateSel();
	}

	function updateSel() {
		if (!canDelete) return;
		const n = state.selected.size;
		selCount.textContent = n ? `${n} selected` : '';
		delBtn.disabled = n === 0;
		delBtn.textContent = n ? `Delete selected (${n})` : 'Delete selected';
	}

	function setAll(on) {
		for (const cb of grid.querySelectorAll('input[type=checkbox]')) {
			cb.checked = on;
			if (on) state.selected.add(cb.value);
			else state.selected.delete(cb.value);
		}
		updateSel();
	}
	function selectAll() {
		setAll(true);
	}

	async function deleteSelected() {
		const ids = [...state.selected];
		if (!ids.length) return;
		const ok = await confirmDialog(`Delete ${ids.length} image${ids.length > 1 ? 's' : ''}?`,
			'The originals, their records and every cached variant are removed. This cannot be undone.',
			`Delete ${ids.length}`);
		if (!ok) return;
		delBtn.disabled = true;
		const failed = [];
		let done = 0;
		for (const id of ids) {
			try {
				await api('DELETE', `/v1/images/${encodeURIComponent(id)}`);
				done++;
				state.selected.delete(id);
				const li = grid.querySelector(`li[data-id="${CSS.escape(id)}"]`);
				if (li) li.remove();
			} catch (e) {
				failed.push(`${id}: ${e.message}`);
			}
		}
		updateSel();
		if (failed.length) {
			status.appendChild(errorBox({ message: failed.join('; ') }, `${failed.length} could not be deleted`));
		}
		announce(`Deleted ${done} image${done === 1 ? '' : 's'}${failed.length ? `, ${failed.length} failed` : ''}`, failed.length ? 'error' : 'ok');
		if (!grid.children.length) {
			reset();
			loadMore();
		}
	}

	function cardFor(rec, eager) {
		const name = rec.filename || rec.id;
		const link = h('a', { class: 'card-link', href: `#/images/${encodeURIComponent(rec.id)}` },
			thumb(thumbUrl(rec.id), '', 'preview unavailable', 'thumb', eager),
			h('span', { class: 'card-name' }, name));
		const li = h('li', { class: 'tile', 'data-id': rec.id }, link,
			h('div', { class: 'tile-meta' }, statusBadge(rec.status),
				h('span', { class: 'tile-size' }, rec.width && rec.height ? `${rec.width}×${rec.height}` : '')));
		if (canDelete) {
			const cid = nextId('sel');
			const cb = h('input', { type: 'checkbox', id: cid, value: rec.id, class: 'tile-check' });
			cb.addEventListener('change', () => {
				if (cb.checked) state.selected.add(rec.id);
				else state.selected.delete(rec.id);
				updateSel();
			});
			li.appendChild(h('div', { class: 'tile-select' }, cb, h('label', { for: cid }, 'Select ', h('span', { class: 'visually-hidden' }, name))));
		}
		return li;
	}

	async function loadMore() {
		if (state.busy || state.done) return;
		state.busy = true;
		more.hidden = true;
		const gen = state.gen = (state.gen || 0) + 1;
		replace(status, loading(state.loaded ? 'Loading more…' : 'Loading images…'));
		try {
			const r = await get(`/v1/images${qs({
				per_page: PER_PAGE, continuation_token: state.token, status: state.status,
				search: state.search,
			})}`);
			if (!stillHere() || gen !== state.gen) return;
			const imgs = Array.isArray(r.images) ? r.images : [];
			const frag = document.createDocumentFragment();
			imgs.forEach((rec, i) => frag.appendChild(cardFor(rec, !state.loaded && i < EAGER)));
			grid.appendChild(frag);
			state.loaded += imgs.length;
			state.token = r.continuation_token || null;
			state.done = !state.token;
			clear(status);
			if (!state.loaded) {
				status.appendChild(empty(state.status || state.search
					? 'No image matches these filters.'
					: 'No images yet.'));
				if (!state.status && !state.search && can('images:write')) status.appendChild(h('p', null, h('a', { href: '#/upload' }, 'Upload the first ones')));
			} else {
				status.appendChild(h('p', { class: 'count' }, `${fmtNum(state.loaded)} shown${state.done ? '' : ', more below'}`));
			}
			more.hidden = state.done;
		} catch (e) {
			if (!stillHere() || gen !== state.gen) return;
			replace(status, errorBox(e, 'Images could not be loaded'));
			more.hidden = false;
			more.textContent = 'Try again';
		} finally {
			if (gen === state.gen) state.busy = false;
		}
	}

	const io = new IntersectionObserver((entries) => {
		if (entries.some((e) => e.isIntersecting) && state.loaded) loadMore();
	}, { rootMargin: '600px' });
	io.observe(sentinel);

	await loadMore();
	return () => io.disconnect();
}

// --- one image -------------------------------------------------------------------

export async function detailPage(root, { id, setTitle, stillHere }) {
	replace(root, loading('Loading the image…'));
	let rec;
	try {
		rec = await get(`/v1/images/${encodeURIComponent(id)}`);
	} catch (e) {
		replace(root, h('h1', { tabindex: '-1' }, 'Image'), errorBox(e, 'This image could not be loaded'),
			h('p', null, h('a', { href: '#/images' }, 'Back to the images')));
		return;
	}
	if (!stillHere()) return;
	setTitle(rec.filename || rec.id);

	const head = h('div', { class: 'page-head' });
	const preview = h('div', { class: 'preview' });
	const facts = h('dl', { class: 'facts' });
	const sections = h('div', { class: 'detail-sections' });
	replace(root,
		h('p', { class: 'crumbs' }, h('a', { href: '#/images' }, '← Images')),
		head,
		h('div', { class: 'detail' },
			h('div', { class: 'detail-main' }, preview, facts),
			sections));

	function drawHead() {
		const del = can('images:delete')
			? h('button', { type: 'button', class: 'btn danger', onclick: remove }, 'Delete')
			: null;
		replace(head, h('h1', { tabindex: '-1', class: 'filename' }, rec.filename || rec.id), statusBadge(rec.status), del);
	}

	function drawFacts() {
		const rows = [
			['ID', rec.id], ['Uploaded', fmtTime(rec.uploaded)], ['Width', rec.width ? `${rec.width} px` : '—'],
			['Height', rec.height ? `${rec.height} px` : '—'], ['Format', rec.format || '—'],
			['Bytes', rec.bytes !== undefined ? `${fmtNum(rec.bytes)} (${fmtBytes(rec.bytes)})` : '—'],
			['Frames', rec.frames ?? '—'], ['SHA-256', rec.sha256 || '—'],
			['Signed URLs', rec.requireSignedURLs ? 'required' : 'not required'],
		];
		clear(facts);
		for (const [k, v] of rows) {
			facts.appendChild(h('div', { class: 'fact' }, h('dt', null, k), h('dd', { class: k === 'SHA-256' || k === 'ID' ? 'mono' : null }, String(v))));
		}
	}

	async function drawPreview() {
		replace(preview, loading('Loading the preview…'));
		let src = null;
		let note = null;
		try {
			if (rec.status === 'approved') src = await deliveryUrl(rec.id, { options: 'w=1200,h=900,fit=scale-down,f=auto', ttl: 3600 });
			else src = `/v1/images/${encodeURIComponent(rec.id)}/blob`;
		} catch (e) {
			note = `preview unavailable: ${e.message}`;
		}
		if (!stillHere()) return;
		const alt = `Preview of ${rec.filename || rec.id}`;
		clear(preview);
		if (!src) {
			preview.appendChild(h('p', { class: 'thumb-none' }, note));
			return;
		}
		const img = h('img', { class: 'preview-img', src, alt });
		if (rec.width && rec.height) {
			img.width = rec.width;
			img.height = rec.height;
		}
		img.addEventListener('error', () => replace(preview, h('p', { class: 'thumb-none' }, 'the preview could not be shown by this browser')), { once: true });
		preview.appendChild(img);
		if (rec.status !== 'approved') preview.appendChild(h('p', { class: 'help' }, `The original is shown: a ${rec.status} image is not delivered.`));
	}

	async function remove() {
		const ok = await confirmDialog('Delete this image?', `"${rec.filename || rec.id}" and every cached variant of it are removed. This cannot be undone.`);
		if (!ok) return;
		try {
			await api('DELETE', `/v1/images/${encodeURIComponent(rec.id)}`);
			announce('Image deleted');
			location.hash = '#/images';
		} catch (e) {
			head.appendChild(errorBox(e, 'Not deleted'));
		}
	}

	function update(r) {
		rec = r;
		drawHead();
		drawFacts();
	}

	drawHead();
	drawFacts();
	drawPreview();
	sections.appendChild(metadataSection(rec, update));
	sections.appendChild(signingSection(() => rec, update));
	sections.appendChild(scoresSection(rec));
	sections.appendChild(signedUrlSection(rec));
	sections.appendChild(variantsSection(rec, stillHere));
	sections.appendChild(auditSection(rec, stillHere));
}

function section(title, ...kids) {
	const id = nextId('sec');
	return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...kids);
}

// Metadata: a JSON object of at most 1024 bytes, checked as it is typed.
export function checkMeta(text) {
	let v;
	try {
		v = JSON.parse(text.trim() === '' ? '{}' : text);
	} catch (e) {
		return { error: `not valid JSON: ${e.message}` };
	}
	if (v === null || typeof v !== 'object' || Array.isArray(v)) return { error: 'metadata must be a JSON object, like {"owner": "alice"}' };
	const n = new TextEncoder().encode(JSON.stringify(v)).length;
	if (n > 1024) return { error: `metadata is ${n} bytes; at most 1024 are allowed` };
	return { value: v };
}

function metadataSection(rec, update) {
	const editable = can('images:write');
	const ta = h('textarea', {
		id: 'meta-edit', rows: 8, spellcheck: 'false', readOnly: !editable,
		'aria-describedby': 'meta-msg', class: 'mono',
	});
	ta.value = JSON.stringify(rec.meta || {}, null, 2);
	const msg = h('div', { id: 'meta-msg', class: 'field-msg', 'aria-live': 'polite' });
	const save = h('button', { type: 'submit', class: 'btn primary' }, 'Save metadata');
	const form = h('form', { class: 'meta-form', novalidate: true },
		h('label', { for: 'meta-edit' }, 'Metadata (JSON object)'), ta, msg,
		editable ? h('div', { class: 'actions' }, save) : null);
	ta.addEventListener('input', () => {
		const c = checkMeta(ta.value);
		ta.setAttribute('aria-invalid', c.error ? 'true' : 'false');
		replace(msg, c.error ? h('span', { class: 'invalid' }, c.error) : '');
		save.disabled = !!c.error;
	});
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		const c = checkMeta(ta.value);
		if (c.error) {
			replace(msg, h('span', { class: 'invalid' }, c.error));
			ta.focus();
			return;
		}
		save.disabled = true;
		try {
			const r = await api('PATCH', `/v1/images/${encodeURIComponent(rec.id)}`, { metadata: c.value });
			update(r);
			ta.value = JSON.stringify(r.meta || {}, null, 2);
			replace(msg, h('span', { class: 'valid' }, 'Saved.'));
			announce('Metadata saved');
		} catch (err) {
			ta.setAttribute('aria-invalid', 'true');
			replace(msg, errorBox(err, 'Not saved'));
		} finally {
			save.disabled = false;
		}
	});
	return section('Metadata', form);
}

function signingSection(getRec, update) {
	const editable = can('images:write');
	const cb = h('input', { type: 'checkbox', id: 'sign-toggle', role: 'switch', checked: !!getRec().requireSignedURLs, disabled: !editable });
	const msg = h('div', { class: 'field-msg', 'aria-live': 'polite' });
	cb.addEventListener('change', async () => {
		const want = cb.checked;
		cb.disabled = true;
		clear(msg);
		try {
			const r = await api('PATCH', `/v1/images/${encodeURIComponent(getRec().id)}`, { requireSignedURLs: want });
			update(r);
			cb.checked = !!r.requireSignedURLs;
			replace(msg, h('span', { class: 'valid' }, r.requireSignedURLs ? 'Delivery now needs a signed URL.' : 'Delivery no longer needs a signature.'));
		} catch (e) {
			cb.checked = !want;
			replace(msg, errorBox(e, 'Not changed'));
		} finally {
			cb.disabled = false;
		}
	});
	return section('Signed URLs',
		h('div', { class: 'switch' }, cb, h('label', { for: 'sign-toggle' }, 'Require signed URLs for delivery')),
		msg);
}

function scoresSection(rec) {
	const m = rec.moderation;
	if (!m || !m.scores) return section('Moderation scores', empty(rec.status === 'pending' ? 'Not classified yet.' : 'This image has no moderation scores.'));
	const items = Object.entries(m.scores).sort((a, b) => b[1] - a[1])
		.map(([k, v]) => ({ label: k, value: v, cls: 'fill-score' }));
	const info = [m.verdict ? `verdict ${m.verdict}` : null, m.rule ? `rule "${m.rule}"` : null, m.model ? `model ${m.model}` : null].filter(Boolean).join(', ');
	return section('Moderation scores',
		bars(items, { max: 1, format: (v) => v.toFixed(3), label: 'Class scores from 0 to 1' }),
		info ? h('p', { class: 'help' }, info) : null);
}

function signedUrlSection(rec) {
	const kindVar = h('input', { type: 'radio', name: 'su-kind', id: 'su-kind-var', value: 'variant', checked: true });
	const kindOpt = h('input', { type: 'radio', name: 'su-kind', id: 'su-kind-opt', value: 'options' });
	const varSel = h('select', { id: 'su-variant' }, h('option', { value: 'public' }, 'public'));
	const optIn = h('input', { id: 'su-options', type: 'text', value: 'w=800,f=auto', spellcheck: 'false', disabled: true });
	const ttl = h('input', { id: 'su-ttl', type: 'number', min: 1, max: 31536000, value: 3600, 'aria-describedby': 'su-ttl-help' });
	const out = h('div', { class: 'su-out', 'aria-live': 'polite' });
	const go = h('button', { type: 'submit', class: 'btn primary' }, 'Make URL');
	const form = h('form', { class: 'su-form', novalidate: true },
		h('fieldset', null, h('legend', null, 'Deliver'),
			h('div', { class: 'radio' }, kindVar, h('label', { for: 'su-kind-var' }, 'a named variant')),
			h('div', { class: 'radio' }, kindOpt, h('label', { for: 'su-kind-opt' }, 'options'))),
		h('div', { class: 'field' }, h('label', { for: 'su-variant' }, 'Variant'), varSel),
		h('div', { class: 'field' }, h('label', { for: 'su-options' }, 'Options'), optIn),
		h('div', { class: 'field' }, h('label', { for: 'su-ttl' }, 'Valid for (seconds)'), ttl,
			h('span', { id: 'su-ttl-help', class: 'help' }, 'from now; 3600 is an hour')),
		h('div', { class: 'actions' }, go),
		out);
	const sync = () => {
		varSel.disabled = !kindVar.checked;
		optIn.disabled = !kindOpt.checked;
	};
	kindVar.addEventListener('change', sync);
	kindOpt.addEventListener('change', sync);
	get('/v1/variants').then((r) => {
		const names = Object.keys(r.variants || {}).sort();
		if (!names.length) return;
		replace(varSel, names.map((n) => h('option', { value: n, selected: n === 'public' }, n)));
	}).catch((e) => out.appendChild(errorBox(e, 'Variants could not be listed')));
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		const t = Number(ttl.value);
		if (!Number.isInteger(t) || t < 1) {
			replace(out, errorBox({ message: 'the time to live is a whole number of seconds, 1 or more' }, 'Cannot make the URL'));
			ttl.focus();
			return;
		}
		go.disabled = true;
		try {
			const q = kindVar.checked ? { variant: varSel.value } : { options: optIn.value.trim() };
			const r = await get(`/v1/images/${encodeURIComponent(rec.id)}/url${qs({ ...q, ttl: t })}`);
			const abs = new URL(r.url, location.href).href;
			const field = h('input', { id: 'su-url', type: 'text', readOnly: true, value: abs, class: 'mono', 'aria-label': 'URL' });
			const copy = h('button', { type: 'button', class: 'btn', onclick: () => copyText(field) }, 'Copy');
			replace(out,
				h('div', { class: 'copy-row' }, field, copy),
				h('p', { class: 'help' }, r.signed ? `Signed; expires ${fmtTime(r.expires_at)}.` : 'Not signed: this image and variant are public.',
					' ', h('a', { href: abs, target: '_blank', rel: 'noopener' }, 'Open')));
		} catch (err) {
			replace(out, errorBox(err, 'Cannot make the URL'));
		} finally {
			go.disabled = false;
		}
	});
	return section('Signed URL', form);
}

async function copyText(field) {
	try {
		await navigator.clipboard.writeText(field.value);
	} catch {
		field.select();
		if (!document.execCommand('copy')) {
			announce('Copy failed: select the URL and copy it by hand', 'error');
			return;
		}
	}
	announce('URL copied');
}

const FORMATS = [['avif', 'AVIF'], ['webp', 'WebP'], ['jpeg', 'JPEG']];

function variantsSection(rec, stillHere) {
	const body = h('div', null, loading('Loading the variants…'));
	const sec = section('Variants', body);
	if (rec.status !== 'approved') {
		replace(body, empty(`Variants are not delivered while the image is ${rec.status}.`));
		return sec;
	}
	get('/v1/variants').then((r) => {
		if (!stillHere()) return;
		const vs = Object.entries(r.variants || {}).sort(([a], [b]) => a.localeCompare(b));
		clear(body);
		if (!vs.length) {
			body.appendChild(empty('No named variants.'));
			return;
		}
		const table = h('table', { class: 'variants-table' },
			h('caption', { class: 'visually-hidden' }, 'Each named variant in AVIF, WebP and JPEG, with its size'),
			h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Variant'), FORMATS.map(([, l]) => h('th', { scope: 'col' }, l)))));
		const tb = h('tbody');
		for (const [name, v] of vs) {
			const opts = optionString(v.options || {}, ['format', 'f']);
			const row = h('tr', null, h('th', { scope: 'row' }, h('span', { class: 'mono' }, name), h('div', { class: 'help mono' }, opts || 'original size')));
			for (const [f, label] of FORMATS) {
				const cell = h('td', { class: 'vcell' }, h('span', { class: 'help' }, '…'));
				row.appendChild(cell);
				renderVariant(cell, rec, `${opts ? `${opts},` : ''}f=${f}`, `${name} as ${label}`);
			}
			tb.appendChild(row);
		}
		table.appendChild(tb);
		body.appendChild(h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Variants of this image' }, table));
	}).catch((e) => replace(body, errorBox(e, 'Variants could not be listed')));
	return sec;
}

// Fetch once for the byte count, then show the same URL from the HTTP cache.
async function renderVariant(cell, rec, options, alt) {
	try {
		const url = await deliveryUrl(rec.id, { options, ttl: 3600 });
		const res = await fetch(url, { credentials: 'same-origin' });
		if (!res.ok) {
			let msg = `${res.status}`;
			try { msg = (await res.json()).errors[0].message; } catch { /* not JSON */ }
			throw new ApiError(res.status, 'delivery', msg);
		}
		const n = (await res.blob()).size;
		const img = h('img', { class: 'vimg', src: url, alt });
		replace(cell, img, h('div', { class: 'vsize' }, fmtBytes(n), h('span', { class: 'visually-hidden' }, ` (${n} bytes)`)));
		cell.dataset.bytes = String(n);
	} catch (e) {
		replace(cell, h('span', { class: 'invalid' }, e.message));
	}
}

function auditSection(rec, stillHere) {
	const body = h('div', null, loading('Loading the history…'));
	const sec = section('History', body);
	const draw = (entries) => {
		clear(body);
		if (!entries.length) {
			body.appendChild(empty('No recorded changes.'));
			return;
		}
		const ol = h('ol', { class: 'timeline' });
		for (const e of entries) {
			const who = e.actor ? (e.actor.name || e.actor.id) : (e.who || '');
			const change = describeChange(e);
			ol.appendChild(h('li', null,
				h('time', { datetime: e.at || e.when || '' }, fmtTime(e.at || e.when)),
				h('div', null, h('strong', null, e.action || 'review'), who ? ` by ${who}` : ''),
				change ? h('div', { class: 'mono change' }, change) : null,
				e.note ? h('div', { class: 'note' }, `Note: ${e.note}`) : null));
		}
		body.appendChild(ol);
	};
	if (can('admin')) {
		get(`/v1/audit${qs({ image: rec.id, per_page: 200 })}`).then((r) => {
			if (stillHere()) draw(Array.isArray(r.entries) ? r.entries : []);
		}).catch((e) => replace(body, errorBox(e, 'The history could not be loaded')));
	} else {
		draw(Array.isArray(rec.audit) ? rec.audit : []);
	}
	return sec;
}

function short(v) {
	if (v === null || v === undefined) return '—';
	if (typeof v !== 'object') return String(v);
	const s = JSON.stringify(v);
	return s.length > 160 ? `${s.slice(0, 157)}…` : s;
}

function describeChange(e) {
	const b = e.before ?? undefined;
	const a = e.after ?? undefined;
	if (b === undefined && a === undefined) return '';
	if (b && a && typeof b === 'object' && typeof a === 'object' && 'status' in a && Object.keys(a).length <= 2) {
		return `${b.status ?? '—'} → ${a.status}`;
	}
	if (b === undefined) return short(a);
	if (a === undefined) return `was ${short(b)}`;
	return `${short(b)} → ${short(a)}`;
}

export { STATUSES };
