// review.js - #/review: the moderation queue, large, keyboard-driven.
//
// Keys: j or ↓ next, k or ↑ previous, a approve, b block, n note,
// x select for a bulk decision. A decision sends the status and ETag the
// reviewer saw; 409 conflict means someone else decided first, and the
// page says what won.

import { h, replace, clear, errorBox, loading, empty, announce, fmtTime, statusBadge, bars, typing, nextId } from './dom.js';
import { api, get, qs } from './api.js';

const PER_PAGE = 20;

export async function reviewPage(root, { params, stillHere }) {
	const status = params.get('status') === 'pending' ? 'pending' : 'flagged';
	const items = []; // {rec, el, note, check}
	let cur = 0;
	let token = null;
	let done = false;

	const tabs = h('nav', { class: 'tabs', 'aria-label': 'Queue' },
		['flagged', 'pending'].map((s) => h('a', { href: `#/review?status=${s}`, 'aria-current': s === status ? 'page' : null }, s)));
	const keys = h('p', { class: 'help keys', id: 'review-keys' },
		'Keys: ', kbd('j'), '/', kbd('↓'), ' next, ', kbd('k'), '/', kbd('↑'), ' previous, ',
		kbd('a'), ' approve, ', kbd('b'), ' block, ', kbd('n'), ' note, ', kbd('x'), ' select.');
	const msg = h('div', { class: 'review-msg', 'aria-live': 'assertive' });
	const selInfo = h('span', { class: 'sel-count' });
	const bulkA = h('button', { type: 'button', class: 'btn', disabled: true, onclick: () => bulk('approve') }, 'Approve selected');
	const bulkB = h('button', { type: 'button', class: 'btn danger', disabled: true, onclick: () => bulk('block') }, 'Block selected');
	const selAll = h('button', { type: 'button', class: 'btn', onclick: () => setAll(true) }, 'Select all');
	const bulkBar = h('div', { class: 'bulkbar' }, selAll, bulkA, bulkB, selInfo);
	const list = h('ol', { class: 'queue', 'aria-label': `${status} images, oldest first`, 'aria-describedby': 'review-keys' });
	const foot = h('div', { class: 'list-status' });
	const more = h('button', { type: 'button', class: 'btn', hidden: true, onclick: () => load() }, 'Load more');

	replace(root,
		h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Review queue')),
		tabs, keys, msg, bulkBar, list, foot, h('div', { class: 'more' }, more));

	function kbd(k) {
		return h('kbd', null, k);
	}

	function updateBulk() {
		const n = items.filter((i) => i.check.checked).length;
		selInfo.textContent = n ? `${n} selected` : '';
		bulkA.disabled = bulkB.disabled = n === 0;
		bulkA.textContent = n ? `Approve selected (${n})` : 'Approve selected';
		bulkB.textContent = n ? `Block selected (${n})` : 'Block selected';
	}

	function setAll(on) {
		for (const i of items) i.check.checked = on;
		updateBulk();
	}

	function setCurrent(i, focus = true) {
		if (!items.length) return;
		cur = Math.max(0, Math.min(items.length - 1, i));
		items.forEach((it, j) => {
			it.el.classList.toggle('current', j === cur);
			it.el.setAttribute('aria-current', j === cur ? 'true' : 'false');
		});
		if (focus) {
			items[cur].el.focus({ preventScroll: true });
			items[cur].el.scrollIntoView({ block: 'nearest' });
		}
		if (cur >= items.length - 3 && !done) load();
	}

	function itemFor(rec) {
		const name = rec.filename || rec.id;
		const nid = nextId('note');
		const cid = nextId('pick');
		const note = h('input', { id: nid, type: 'text', maxlength: 2000, class: 'note-in', autocomplete: 'off' });
		const check = h('input', { type: 'checkbox', id: cid });
		const m = rec.moderation || {};
		const scores = m.scores ? Object.entries(m.scores).sort((a, b) => b[1] - a[1]).map(([k, v]) => ({ label: k, value: v, cls: 'fill-score' })) : [];
		const img = h('img', { class: 'review-img', src: `/v1/images/${encodeURIComponent(rec.id)}/blob`, alt: `Image under review: ${name}`, decoding: 'async' });
		if (rec.width && rec.height) {
			img.width = rec.width;
			img.height = rec.height;
		}
		img.addEventListener('error', () => img.replaceWith(h('p', { class: 'thumb-none' }, 'this browser cannot show the original')), { once: true });
		const item = { rec, note, check };
		const approve = h('button', { type: 'button', class: 'btn primary', onclick: () => decide(item, 'approve') }, 'Approve');
		const block = h('button', { type: 'button', class: 'btn danger', onclick: () => decide(item, 'block') }, 'Block');
		item.el = h('li', { class: 'review-item', tabindex: '-1', 'data-id': rec.id, 'aria-label': name },
			h('div', { class: 'review-media' }, img),
			h('div', { class: 'review-side' },
				h('h2', { class: 'filename' }, h('a', { href: `#/images/${encodeURIComponent(rec.id)}` }, name)),
				h('p', null, statusBadge(rec.status), ' ', h('span', { class: 'help' }, `uploaded ${fmtTime(rec.uploaded)}`),
					m.rule ? h('span', { class: 'help' }, `, rule "${m.rule}"`) : null),
				scores.length ? bars(scores, { max: 1, format: (v) => v.toFixed(3), label: 'Class scores' }) : empty('No scores.'),
				h('div', { class: 'field' }, h('label', { for: nid }, 'Note'), note),
				h('div', { class: 'actions' }, approve, block,
					h('span', { class: 'pick' }, check, h('label', { for: cid }, 'Select'))),
				h('div', { class: 'item-msg', 'aria-live': 'polite' })));
		item.el.addEventListener('focusin', () => {
			const j = items.indexOf(item);
			if (j >= 0 && j !== cur) setCurrent(j, false);
		});
		check.addEventListener('change', updateBulk);
		note.addEventListener('keydown', (e) => {
			if (e.key === 'Escape') {
				e.preventDefault();
				item.el.focus();
			} else if (e.key === 'Enter') {
				e.preventDefault();
				item.el.focus();
			}
		});
		return item;
	}

	function drop(item) {
		const j = items.indexOf(item);
		if (j < 0) return;
		const hadFocus = item.el.contains(document.activeElement);
		items.splice(j, 1);
		item.el.remove();
		updateBulk();
		if (!items.length) {
			if (done) showEmpty();
			else load();
			if (hadFocus) root.querySelector('h1').focus();
			return;
		}
		setCurrent(j >= items.length ? items.length - 1 : j, hadFocus || j === cur);
	}

	function showEmpty() {
		replace(foot, empty(`The ${status} queue is empty.`));
	}

	// One decision. Returns 'ok', 'conflict' or 'error'.
	async function send(item, action) {
		const body = { action, expected_status: item.rec.status };
		const note = item.note.value.trim();
		if (note) body.note = note;
		const headers = item.rec.etag ? { 'If-Match': item.rec.etag } : {};
		const slot = item.el.querySelector('.item-msg');
		try {
			await api('POST', `/v1/images/${encodeURIComponent(item.rec.id)}/moderation`, body, { headers });
			return 'ok';
		} catch (e) {
			const name = item.rec.filename || item.rec.id;
			if (e.status === 409) {
				const now = e.result && e.result.status;
				if (now && now === item.rec.status) {
					// Still awaiting review, but changed since it was read:
					// take the new version and let the reviewer decide again.
					item.rec = e.result;
					replace(slot, errorBox({ message: `"${name}" changed since it was loaded; it has been reloaded, decide again`, code: e.code }, 'Conflict'));
					return 'conflict';
				}
				replace(msg, errorBox({ message: `someone else decided "${name}" first: it is now ${now || 'changed'}. ${e.message}`, code: e.code }, 'Already decided'));
				return 'gone';
			}
			replace(slot, errorBox(e, 'Not decided'));
			return 'error';
		}
	}

	async function decide(item, action) {
		if (item.busy) return;
		item.busy = true;
		item.el.classList.add('busy');
		const r = await send(item, action);
		item.busy = false;
		item.el.classList.remove('busy');
		const name = item.rec.filename || item.rec.id;
		if (r === 'ok') {
			clear(msg);
			announce(`${action === 'approve' ? 'Approved' : 'Blocked'} "${name}"`);
			drop(item);
		} else if (r === 'gone') {
			drop(item);
		}
	}

	async function bulk(action) {
		const chosen = items.filter((i) => i.check.checked);
		if (!chosen.length) return;
		bulkA.disabled = bulkB.disabled = true;
		let ok = 0;
		let gone = 0;
		let failed = 0;
		for (const item of chosen) {
			const r = await send(item, action);
			if (r === 'ok') ok++;
			else if (r === 'gone') gone++;
			else failed++;
			if (r === 'ok' || r === 'gone') drop(item);
		}
		updateBulk();
		const verb = action === 'approve' ? 'Approved' : 'Blocked';
		announce(`${verb} ${ok}${gone ? `, ${gone} already decided by someone else` : ''}${failed ? `, ${failed} failed` : ''}`, gone || failed ? 'error' : 'ok');
	}

	async function load() {
		if (load.busy || done) return;
		load.busy = true;
		more.hidden = true;
		replace(foot, loading(items.length ? 'Loading more…' : 'Loading the queue…'));
		try {
			const r = await get(`/v1/moderation/queue${qs({ status, per_page: PER_PAGE, continuation_token: token })}`);
			if (!stillHere()) return;
			const fresh = (Array.isArray(r.images) ? r.images : []).filter((rec) => !items.some((i) => i.rec.id === rec.id));
			for (const rec of fresh) {
				const it = itemFor(rec);
				items.push(it);
				list.appendChild(it.el);
			}
			token = r.continuation_token || null;
			done = !token;
			clear(foot);
			if (!items.length) showEmpty();
			more.hidden = done;
			if (items.length && !list.querySelector('.current')) setCurrent(0, false);
		} catch (e) {
			if (!stillHere()) return;
			replace(foot, errorBox(e, 'The queue could not be loaded'));
			more.hidden = false;
		} finally {
			load.busy = false;
		}
	}

	function onKey(e) {
		if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) return;
		if (document.querySelector('dialog[open]')) return;
		const it = items[cur];
		switch (e.key) {
		case 'j': case 'ArrowDown':
			setCurrent(cur + 1);
			break;
		case 'k': case 'ArrowUp':
			setCurrent(cur - 1);
			break;
		case 'a':
			if (it) decide(it, 'approve');
			break;
		case 'b':
			if (it) decide(it, 'block');
			break;
		case 'n':
			if (it) it.note.focus();
			break;
		case 'x':
			if (it) {
				it.check.checked = !it.check.checked;
				updateBulk();
			}
			break;
		default:
			return;
		}
		e.preventDefault();
	}
	document.addEventListener('keydown', onKey);
	await load();
	return () => document.removeEventListener('keydown', onKey);
}
