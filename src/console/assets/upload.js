// upload.js - #/upload: many files by drag and drop or a picker, a
// progress bar each, then each outcome, with retry for failures.

import { h, replace, clear, errorBox, announce, fmtBytes, statusBadge, nextId } from './dom.js';
import { upload, can } from './api.js';
import { checkMeta } from './images.js';

const PARALLEL = 3;

export function uploadPage(root) {
	const picker = h('input', { type: 'file', id: 'file-input', multiple: true, accept: 'image/*', class: 'visually-hidden' });
	const pick = h('button', { type: 'button', class: 'btn primary', onclick: () => picker.click() }, 'Choose files');
	const zone = h('div', { class: 'dropzone', id: 'dropzone', 'aria-describedby': 'drop-help' },
		h('p', { id: 'drop-help' }, 'Drop images here, or ', pick, h('label', { for: 'file-input', class: 'visually-hidden' }, 'Images to upload'), picker),
		h('p', { class: 'help' }, 'JPEG, PNG, WebP, GIF, AVIF, HEIC or TIFF; many at once.'));

	const metaIn = h('textarea', { id: 'up-meta', rows: 2, class: 'mono', spellcheck: 'false', placeholder: '{"owner": "alice"}', 'aria-describedby': 'up-meta-msg' });
	const metaMsg = h('div', { id: 'up-meta-msg', class: 'field-msg', 'aria-live': 'polite' });
	const signIn = h('input', { type: 'checkbox', id: 'up-signed' });
	const opts = h('details', { class: 'up-opts' },
		h('summary', null, 'Options for the next files'),
		h('div', { class: 'field' }, h('label', { for: 'up-meta' }, 'Metadata (JSON object, optional)'), metaIn, metaMsg),
		h('div', { class: 'switch' }, signIn, h('label', { for: 'up-signed' }, 'Require signed URLs')));
	metaIn.addEventListener('input', () => {
		const c = checkMeta(metaIn.value);
		metaIn.setAttribute('aria-invalid', c.error ? 'true' : 'false');
		replace(metaMsg, c.error ? h('span', { class: 'invalid' }, c.error) : '');
	});

	const summary = h('p', { class: 'up-summary', 'aria-live': 'polite' });
	const list = h('ul', { class: 'uploads', 'aria-label': 'Uploads' });
	replace(root,
		h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Upload')),
		zone, opts, summary, list);

	const queue = [];
	let running = 0;
	const tally = { done: 0, failed: 0, total: 0 };

	function fields() {
		const c = checkMeta(metaIn.value);
		if (c.error) return { error: c.error };
		const f = {};
		if (metaIn.value.trim()) f.metadata = JSON.stringify(c.value);
		if (signIn.checked) f.requireSignedURLs = 'true';
		return { fields: f };
	}

	function add(files) {
		const f = fields();
		if (f.error) {
			opts.open = true;
			replace(metaMsg, h('span', { class: 'invalid' }, `${f.error}; nothing was uploaded`));
			metaIn.focus();
			return;
		}
		for (const file of files) {
			const item = entry(file, f.fields);
			list.appendChild(item.li);
			tally.total++;
			queue.push(item);
		}
		pump();
		say();
	}

	function say() {
		const pending = tally.total - tally.done - tally.failed;
		summary.textContent = tally.total
			? `${tally.done} uploaded, ${tally.failed} failed${pending ? `, ${pending} in progress` : ''}`
			: '';
	}

	function pump() {
		while (running < PARALLEL && queue.length) {
			const item = queue.shift();
			running++;
			item.run().finally(() => {
				running--;
				say();
				pump();
				if (!running && !queue.length) announce(`Uploads finished: ${tally.done} uploaded, ${tally.failed} failed`, tally.failed ? 'error' : 'ok');
			});
		}
	}

	function entry(file, flds) {
		const pid = nextId('prog');
		const bar = h('progress', { id: pid, max: 1, value: 0 });
		const state = h('div', { class: 'up-state' }, 'Waiting…');
		const li = h('li', { class: 'upload' },
			h('div', { class: 'up-head' }, h('label', { for: pid, class: 'up-name' }, file.name), h('span', { class: 'help' }, fmtBytes(file.size))),
			bar, state);
		const item = {
			li,
			async run() {
				replace(state, 'Uploading…');
				li.className = 'upload';
				bar.hidden = false;
				bar.value = 0;
				try {
					const { record } = await upload(file, flds, (p) => {
						bar.value = p;
						if (p >= 1) state.textContent = 'Checking…';
					});
					bar.value = 1;
					bar.hidden = true;
					tally.done++;
					li.classList.add(`up-${record.status}`);
					replace(state, outcome(record));
				} catch (e) {
					bar.hidden = true;
					tally.failed++;
					li.classList.add('up-error');
					const retry = h('button', {
						type: 'button', class: 'btn', onclick: () => {
							tally.failed--;
							queue.push(item);
							replace(state, 'Waiting…');
							pump();
							say();
						},
					}, 'Retry ', h('span', { class: 'visually-hidden' }, file.name));
					const blocked = e.code === 'content_blocked';
					const mod = blocked && e.result && e.result.moderation;
					replace(state,
						blocked ? statusBadge('blocked') : null,
						mod ? topScores(mod) : null,
						errorBox(e, blocked ? 'Refused' : 'Failed'),
						blocked ? null : retry);
				}
			},
		};
		return item;
	}

	// The three highest scores of a verdict, or null.
	function topScores(mod) {
		const scores = mod && mod.scores && typeof mod.scores === 'object'
			? Object.entries(mod.scores).sort((a, b) => b[1] - a[1]).slice(0, 3)
			: [];
		return scores.length
			? h('span', { class: 'scores' }, ' top scores: ', scores.map(([k, v], i) => [i ? ', ' : '', h('span', { class: 'score' }, `${k} ${Number(v).toFixed(3)}`)]))
			: null;
	}

	function outcome(rec) {
		return h('div', { class: 'up-outcome' },
			statusBadge(rec.status),
			' ',
			h('a', { href: `#/images/${encodeURIComponent(rec.id)}` }, 'Open'),
			topScores(rec.moderation),
			rec.moderation && rec.moderation.rule && rec.status !== 'approved' ? h('span', { class: 'help' }, ` (rule "${rec.moderation.rule}")`) : null);
	}

	picker.addEventListener('change', () => {
		add([...picker.files]);
		picker.value = '';
	});
	for (const ev of ['dragenter', 'dragover']) {
		zone.addEventListener(ev, (e) => {
			e.preventDefault();
			zone.classList.add('over');
		});
	}
	zone.addEventListener('dragleave', () => zone.classList.remove('over'));
	zone.addEventListener('drop', (e) => {
		e.preventDefault();
		zone.classList.remove('over');
		const files = e.dataTransfer ? [...e.dataTransfer.files] : [];
		if (files.length) add(files);
	});
	// A drop outside the zone must not navigate away from the console.
	const stray = (e) => {
		if (!zone.contains(e.target)) e.preventDefault();
	};
	window.addEventListener('dragover', stray);
	window.addEventListener('drop', stray);
	if (!can('images:write')) clear(zone).appendChild(errorBox({ message: 'this token cannot upload' }));
	return () => {
		window.removeEventListener('dragover', stray);
		window.removeEventListener('drop', stray);
	};
}
