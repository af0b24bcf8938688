// variants.js - #/variants: list, create, edit and delete managed
// variants, with a live preview on a chosen image. The API's validation
// messages are shown next to the field they name.

import { h, replace, clear, errorBox, loading, empty, announce, fmtBytes, confirmDialog } from './dom.js';
import { api, get, qs, can } from './api.js';
import { optionString, deliveryUrl } from './images.js';

const FITS = ['', 'scale-down', 'contain', 'cover', 'crop', 'pad', 'squeeze'];
const FORMATS = ['', 'auto', 'avif', 'webp', 'jpeg', 'png'];
const NUMERIC = /^-?\d+(\.\d+)?$/;
// Option names (and aliases) that have their own field.
const ALIAS = { width: 'width', w: 'width', height: 'height', h: 'height', fit: 'fit', quality: 'quality', q: 'quality', format: 'format', f: 'format' };

export async function variantsPage(root, { stillHere }) {
	const writable = can('variants:write');
	const listBox = h('div', null, loading('Loading the variants…'));
	const formBox = h('div');
	replace(root,
		h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Variants')),
		h('div', { class: 'variants-layout' },
			h('section', { class: 'card', 'aria-labelledby': 'vl-h' }, h('h2', { id: 'vl-h' }, 'Named variants'), listBox),
			formBox));

	let variants = {};

	async function refresh() {
		try {
			const r = await get('/v1/variants');
			if (!stillHere()) return;
			variants = r.variants || {};
			drawList();
		} catch (e) {
			replace(listBox, errorBox(e, 'Variants could not be listed'));
		}
	}

	function drawList() {
		const names = Object.keys(variants).sort();
		if (!names.length) {
			replace(listBox, empty('No variants yet.'));
			return;
		}
		const tb = h('tbody');
		for (const n of names) {
			const v = variants[n];
			const managed = v.source !== 'config';
			const acts = h('td', { class: 'row-actions' });
			if (writable && managed) {
				acts.appendChild(h('button', { type: 'button', class: 'btn', onclick: () => form.edit(n, v) }, 'Edit ', h('span', { class: 'visually-hidden' }, n)));
				acts.appendChild(h('button', { type: 'button', class: 'btn danger', onclick: () => remove(n) }, 'Delete ', h('span', { class: 'visually-hidden' }, n)));
			} else if (!managed) {
				acts.appendChild(h('span', { class: 'help' }, 'from the configuration file'));
			}
			tb.appendChild(h('tr', { 'data-variant': n },
				h('th', { scope: 'row', class: 'mono' }, n),
				h('td', { class: 'mono opts' }, optionString(v.options) || '—'),
				h('td', null, v.neverRequireSignedURLs ? 'never signed' : 'as the image'),
				acts));
		}
		replace(listBox, h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Named variants' }, h('table', { class: 'list-table' },
			h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Options'),
				h('th', { scope: 'col' }, 'Signed URLs'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
			tb)));
	}

	async function remove(n) {
		const ok = await confirmDialog(`Delete the variant "${n}"?`, 'Its URLs answer 404 from then on, for every image.');
		if (!ok) return;
		try {
			await api('DELETE', `/v1/variants/${encodeURIComponent(n)}`);
			announce(`Variant "${n}" deleted`);
			if (form.editing === n) form.reset();
			await refresh();
		} catch (e) {
			announce(`Not deleted: ${e.message}`, 'error');
			listBox.prepend(errorBox(e, 'Not deleted'));
		}
	}

	const form = variantForm(refresh, stillHere, writable);
	formBox.appendChild(form.el);
	await refresh();
	return form.stop;
}

function field(id, label, input, help) {
	const msg = h('div', { id: `${id}-msg`, class: 'field-msg', 'aria-live': 'polite' });
	input.id = id;
	input.setAttribute('aria-describedby', `${id}-msg${help ? ` ${id}-help` : ''}`);
	return {
		input, msg,
		el: h('div', { class: 'field' }, h('label', { for: id }, label), input,
			help ? h('div', { id: `${id}-help`, class: 'help' }, help) : null, msg),
		set(err) {
			input.setAttribute('aria-invalid', err ? 'true' : 'false');
			replace(msg, err ? h('span', { class: 'invalid' }, err) : '');
		},
	};
}

function variantForm(onSaved, stillHere, writable) {
	const f = {
		id: field('v-id', 'Name', h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', required: true }), 'letters, digits, _ and -'),
		width: field('v-width', 'Width', h('input', { type: 'number', min: 1, max: 8192, inputmode: 'numeric' })),
		height: field('v-height', 'Height', h('input', { type: 'number', min: 1, max: 8192, inputmode: 'numeric' })),
		fit: field('v-fit', 'Fit', h('select', null, FITS.map((x) => h('option', { value: x }, x || '(default)')))),
		quality: field('v-quality', 'Quality', h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'off' }), '1-100, or high, medium-high, medium-low, low'),
		format: field('v-format', 'Format', h('select', null, FORMATS.map((x) => h('option', { value: x }, x || '(as the request accepts)')))),
		extra: field('v-extra', 'More options', h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'blur=5,sharpen=1' }), 'as in a URL: name=value, comma separated'),
	};
	const nrs = h('input', { type: 'checkbox', id: 'v-nrs' });
	const formMsg = h('div', { class: 'form-msg', 'aria-live': 'polite' });
	const title = h('h2', { id: 'vf-h' }, 'New variant');
	const save = h('button', { type: 'submit', class: 'btn primary' }, 'Create variant');
	const cancel = h('button', { type: 'button', class: 'btn', hidden: true, onclick: () => reset() }, 'Cancel editing');

	const imgSel = h('select', { id: 'pv-image' }, h('option', { value: '' }, 'Loading images…'));
	const pvBox = h('div', { class: 'pv-box', 'aria-live': 'polite' }, empty('Choose an image to preview.'));
	const preview = h('section', { class: 'card', 'aria-labelledby': 'pv-h' },
		h('h2', { id: 'pv-h' }, 'Live preview'),
		h('div', { class: 'field' }, h('label', { for: 'pv-image' }, 'Image'), imgSel),
		pvBox);

	const form = h('form', { class: 'variant-form', novalidate: true },
		title,
		f.id.el,
		h('div', { class: 'field-row' }, f.width.el, f.height.el),
		h('div', { class: 'field-row' }, f.fit.el, f.quality.el, f.format.el),
		f.extra.el,
		h('div', { class: 'switch' }, nrs, h('label', { for: 'v-nrs' }, 'Never require signed URLs')),
		formMsg,
		h('div', { class: 'actions' }, save, cancel));
	const el = h('div', { class: 'variant-side' },
		writable ? h('section', { class: 'card', 'aria-labelledby': 'vf-h' }, form) : null,
		preview);

	const state = { editing: null, timer: null, seq: 0 };

	function options() {
		const o = {};
		const num = (x) => (NUMERIC.test(x) ? Number(x) : x);
		for (const k of ['width', 'height']) if (f[k].input.value !== '') o[k] = num(f[k].input.value.trim());
		if (f.fit.input.value) o.fit = f.fit.input.value;
		if (f.quality.input.value.trim()) o.quality = num(f.quality.input.value.trim());
		if (f.format.input.value) o.format = f.format.input.value;
		for (const kv of f.extra.input.value.split(',')) {
			const t = kv.trim();
			if (!t) continue;
			const eq = t.indexOf('=');
			if (eq <= 0) o[t] = true;
			else o[t.slice(0, eq).trim()] = num(t.slice(eq + 1).trim());
		}
		return o;
	}

	function clearErrors() {
		for (const x of Object.values(f)) x.set(null);
		clear(formMsg);
	}

	// Put an API error next to the field it names.
	function showError(e, toForm = true) {
		const m = /option "([^"]+)"/.exec(e.message || '');
		let target = null;
		if (e.code === 'invalid_id' || e.code === 'already_exists') target = f.id;
		else if (m) target = f[ALIAS[m[1]]] || f.extra;
		if (target) {
			target.set(`${e.message}`);
			return target;
		}
		if (toForm) replace(formMsg, errorBox(e, 'Not saved'));
		return null;
	}

	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		clearErrors();
		const o = options();
		if (!Object.keys(o).length) {
			f.width.set('set at least one option');
			f.width.input.focus();
			return;
		}
		save.disabled = true;
		try {
			const body = { options: o, neverRequireSignedURLs: nrs.checked };
			if (state.editing) {
				await api('PATCH', `/v1/variants/${encodeURIComponent(state.editing)}`, body);
				announce(`Variant "${state.editing}" saved`);
			} else {
				const id = f.id.input.value.trim();
				const r = await api('POST', '/v1/variants', { id, ...body });
				announce(`Variant "${id}" created`);
				edit(id, r.variant || { options: o, neverRequireSignedURLs: nrs.checked }, false);
			}
			replace(formMsg, h('span', { class: 'valid' }, 'Saved.'));
			await onSaved();
		} catch (e) {
			const t = showError(e);
			(t ? t.input : save).focus();
		} finally {
			save.disabled = false;
		}
	});

	function fill(o) {
		const rest = [];
		const vals = {};
		const src = typeof o === 'string'
			? Object.fromEntries(o.split(',').filter(Boolean).map((kv) => [kv.split('=')[0], kv.split('=').slice(1).join('=')]))
			: (o || {});
		for (const [k, v] of Object.entries(src)) {
			const to = ALIAS[k];
			if (to && vals[to] === undefined) vals[to] = String(v);
			else rest.push(`${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`);
		}
		for (const k of ['width', 'height', 'fit', 'quality', 'format']) f[k].input.value = vals[k] ?? '';
		f.extra.input.value = rest.join(',');
	}

	function edit(name, v, focus = true) {
		clearErrors();
		state.editing = name;
		f.id.input.value = name;
		f.id.input.readOnly = true;
		fill(v.options);
		nrs.checked = !!v.neverRequireSignedURLs;
		title.textContent = `Edit "${name}"`;
		save.textContent = 'Save changes';
		cancel.hidden = false;
		if (focus) f.width.input.focus();
		schedule();
	}

	function reset() {
		clearErrors();
		state.editing = null;
		form.reset();
		f.id.input.readOnly = false;
		title.textContent = 'New variant';
		save.textContent = 'Create variant';
		cancel.hidden = true;
		schedule();
	}

	function schedule() {
		clearTimeout(state.timer);
		state.timer = setTimeout(renderPreview, 350);
	}
	form.addEventListener('input', schedule);
	form.addEventListener('change', schedule);
	imgSel.addEventListener('change', schedule);

	async function renderPreview() {
		const image = imgSel.value;
		if (!image) return;
		const o = options();
		const text = optionString(o) || 'w=600';
		const seq = ++state.seq;
		replace(pvBox, loading('Rendering…'));
		try {
			const url = await deliveryUrl(image, { options: text, ttl: 600 });
			const res = await fetch(url, { credentials: 'same-origin' });
			if (seq !== state.seq || !stillHere()) return;
			if (!res.ok) {
				let err = { message: `the server answered ${res.status}`, code: `http_${res.status}` };
				try {
					const b = await res.json();
					if (b.errors && b.errors[0]) err = b.errors[0];
				} catch { /* not JSON */ }
				throw err;
			}
			const n = (await res.blob()).size;
			if (seq !== state.seq) return;
			for (const x of Object.values(f)) if (x !== f.id) x.set(null);
			const img = h('img', { class: 'pv-img', src: url, alt: `Preview of the options ${text}` });
			replace(pvBox, img, h('p', { class: 'help' }, h('span', { class: 'mono' }, text), ` · ${fmtBytes(n)}`));
		} catch (e) {
			if (seq !== state.seq) return;
			const t = e && e.message ? showError(e, false) : null;
			replace(pvBox, errorBox(e, 'No preview'));
			if (t) t.input.setAttribute('aria-invalid', 'true');
		}
	}

	get(`/v1/images${qs({ status: 'approved', per_page: 50 })}`).then((r) => {
		const imgs = Array.isArray(r.images) ? r.images : [];
		if (!imgs.length) {
			replace(imgSel, h('option', { value: '' }, 'No approved image to preview on'));
			return;
		}
		replace(imgSel, imgs.map((x) => h('option', { value: x.id }, x.filename || x.id)));
		schedule();
	}).catch((e) => {
		replace(imgSel, h('option', { value: '' }, 'Images could not be listed'));
		pvBox.appendChild(errorBox(e, 'No images'));
	});

	return {
		el,
		edit,
		reset,
		get editing() { return state.editing; },
		stop() { clearTimeout(state.timer); },
	};
}
