// app.js - the console's shell: session, navigation, hash routes.
//
// Routes: #/signin, #/ (overview), #/images, #/upload, #/images/<id>,
// #/review, #/variants. A page is a function (main, params) that renders
// into <main> and may return a cleanup function, called when the route
// changes (to drop key handlers and observers).

import { h, replace, clear, errorBox, loading, announce, fmtNum, bars } from './dom.js';
import { session, can, loadSession, signIn, signOut, onSignedOut, get } from './api.js';
import { columns, ring } from './charts.js';
import { imagesPage, detailPage } from './images.js';
import { uploadPage } from './upload.js';
import { reviewPage } from './review.js';
import { variantsPage } from './variants.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');

// [hash, label, scope that shows it]
const SECTIONS = [
	['#/', 'Overview', 'stats:read'],
	['#/images', 'Images', 'images:read'],
	['#/upload', 'Upload', 'images:write'],
	['#/review', 'Review', 'moderation:review'],
	['#/variants', 'Variants', 'images:read'],
];

const ROUTES = [
	[/^\/signin$/, signinPage, null, 'Sign in'],
	[/^\/$/, overviewPage, 'stats:read', 'Overview'],
	[/^\/images$/, imagesPage, 'images:read', 'Images'],
	[/^\/upload$/, uploadPage, 'images:write', 'Upload'],
	[/^\/images\/([^/]+)$/, detailPage, 'images:read', 'Image'],
	[/^\/review$/, reviewPage, 'moderation:review', 'Review'],
	[/^\/variants$/, variantsPage, 'images:read', 'Variants'],
];

let cleanup = null;
let routeSeq = 0;
let wanted = null; // where to go after signing in

function parseHash() {
	const raw = location.hash.startsWith('#/') ? location.hash.slice(1) : '/';
	const q = raw.indexOf('?');
	const path = q < 0 ? raw : raw.slice(0, q);
	const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
	return { path: path || '/', params };
}

function renderNav() {
	clear(nav);
	if (!session.signedIn) return;
	const cur = parseHash().path;
	const list = h('ul', { class: 'nav-list' });
	for (const [href, label, scope] of SECTIONS) {
		if (!can(scope)) continue;
		const path = href.slice(1);
		const active = path === '/' ? cur === '/' : cur === path || cur.startsWith(`${path}/`);
		list.appendChild(h('li', null, h('a', { href, 'aria-current': active ? 'page' : null }, label)));
	}
	const out = h('button', { type: 'button', class: 'btn link signout', onclick: doSignOut }, 'Sign out');
	list.appendChild(h('li', { class: 'nav-out' }, out));
	nav.appendChild(list);
}

async function doSignOut() {
	try {
		await signOut();
	} catch (e) {
		announce(`Sign-out: ${e.message}`, 'error');
	}
	wanted = null;
	location.hash = '#/signin';
	announce('Signed out');
}

// The first page this session may see.
function home() {
	for (const [href, , scope] of SECTIONS) if (can(scope)) return href;
	return '#/signin';
}

async function route() {
	const at = ++routeSeq;
	if (cleanup) {
		try { cleanup(); } catch { /* the old page is gone anyway */ }
		cleanup = null;
	}
	const { path, params } = parseHash();
	if (!session.signedIn && path !== '/signin') {
		wanted = location.hash;
		location.replace('#/signin');
		return;
	}
	if (session.signedIn && path === '/signin') {
		location.replace(home());
		return;
	}
	renderNav();
	const hit = ROUTES.map((r) => [r, path.match(r[0])]).find(([, m]) => m);
	clear(main);
	if (!hit) {
		setTitle('Not found');
		main.appendChild(h('h1', { tabindex: '-1' }, 'Not found'));
		main.appendChild(h('p', null, 'There is no page here. ', h('a', { href: home() }, 'Go to the start')));
		focusHeading();
		return;
	}
	const [[, page, scope, title], m] = hit;
	setTitle(title);
	if (scope && !can(scope)) {
		if (path === '/' && home() !== '#/') {
			location.replace(home());
			return;
		}
		main.appendChild(h('h1', { tabindex: '-1' }, title));
		main.appendChild(errorBox({ message: `this session's token lacks the scope "${scope}"`, code: 'insufficient_scope' }, 'Not allowed'));
		focusHeading();
		return;
	}
	// A page may rewrite its own query (history.replaceState, no new
	// route): "still here" means no route ran since this one.
	const stillHere = () => at === routeSeq;
	try {
		const ret = await page(main, { params, id: m[1] ? decodeURIComponent(m[1]) : null, setTitle, stillHere });
		if (typeof ret === 'function') {
			if (stillHere()) cleanup = ret;
			else ret();
		}
	} catch (e) {
		if (!stillHere()) return;
		main.appendChild(errorBox(e, 'This page could not be shown'));
	}
	if (stillHere()) focusHeading();
}

let focusNext = false;
function focusHeading() {
	if (!focusNext) return;
	const a = document.activeElement;
	if (a && a !== main && a.isConnected && main.contains(a)) return;
	focusNext = false;
	const h1 = main.querySelector('h1');
	if (h1) {
		if (!h1.hasAttribute('tabindex')) h1.setAttribute('tabindex', '-1');
		h1.focus({ preventScroll: true });
	}
}

function setTitle(t) {
	document.title = `${t} · Pictor console`;
}

// --- sign-in -----------------------------------------------------------------

function signinPage(root) {
	const field = h('input', {
		id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false',
		required: true, 'aria-describedby': 'token-help',
	});
	const msg = h('div', { id: 'signin-msg', 'aria-live': 'polite' });
	const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Sign in');
	const form = h('form', { class: 'card signin', novalidate: true },
		h('h1', { tabindex: '-1' }, 'Sign in'),
		h('p', { id: 'token-help', class: 'help' },
			'Paste an API token. It is exchanged for a session cookie and not kept by this page.'),
		h('label', { for: 'token' }, 'API token'),
		field,
		msg,
		h('div', { class: 'actions' }, submit));
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		clear(msg);
		const token = field.value.trim();
		if (!token) {
			msg.appendChild(errorBox({ message: 'enter a token' }, 'Cannot sign in'));
			field.focus();
			return;
		}
		submit.disabled = true;
		submit.textContent = 'Signing in…';
		try {
			await signIn(token);
			field.value = '';
			const to = wanted && wanted !== '#/signin' ? wanted : home();
			wanted = null;
			announce('Signed in');
			focusNext = true;
			location.hash = to;
		} catch (err) {
			msg.appendChild(errorBox(err, 'Cannot sign in'));
			field.select();
		} finally {
			submit.disabled = false;
			submit.textContent = 'Sign in';
		}
	});
	replace(root, form);
	field.focus();
}

// --- overview ----------------------------------------------------------------

async function overviewPage(root, { stillHere }) {
	const body = h('div', { class: 'overview' }, loading('Loading statistics…'));
	const refresh = h('button', { type: 'button', class: 'btn', onclick: () => load() }, 'Refresh');
	replace(root,
		h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Overview'), refresh),
		body);
	focusHeading();
	async function load() {
		refresh.disabled = true;
		try {
			const s = await get('/v1/stats');
			if (!stillHere()) return;
			replace(body, ...overviewCards(s));
		} catch (e) {
			if (!stillHere()) return;
			replace(body, errorBox(e, 'Statistics could not be loaded'));
		} finally {
			refresh.disabled = false;
		}
	}
	await load();
}

function card(title, ...kids) {
	return h('section', { class: 'card' }, h('h2', null, title), ...kids);
}

function overviewCards(s) {
	const count = s.count || {};
	const st = s.status || {};
	const del = s.delivery || {};
	const mod = s.moderation || {};
	const perHour = Array.isArray(s.uploads_per_hour) ? s.uploads_per_hour : [];
	const allowed = Number(count.allowed);
	const allowedText = !Number.isFinite(allowed) || allowed >= 9007199254740991 ? 'no limit' : fmtNum(allowed);
	const statusItems = ['approved', 'flagged', 'blocked', 'pending'].map((k) => ({ label: k, value: st[k] || 0, cls: `fill-${k}` }));
	return [
		h('div', { class: 'stats-row' },
			stat('Images', fmtNum(count.current), `allowed: ${allowedText}`),
			stat('Requests/s', fmtNum(Math.round((Number(del.requests_per_second) || 0) * 100) / 100), 'delivery, now'),
			stat('Requests', fmtNum(del.requests_total), 'delivery, since start'),
			stat('Awaiting review', fmtNum((st.flagged || 0) + (st.pending || 0)), can('moderation:review') ? h('a', { href: '#/review' }, 'Open the queue') : 'flagged and pending')),
		h('div', { class: 'grid-2' },
			card('Images by status', bars(statusItems, { label: 'Images by status' })),
			card('Uploads per hour, last 24 hours', columns(perHour, { label: 'Uploads per hour', xStart: '24 h ago', xEnd: 'now' })),
			card('Cache hit ratio', ring(del.cache_hit_ratio, 'Delivery answers served from the result cache')),
			card('Moderation verdicts', bars(['approved', 'flagged', 'blocked'].map((k) => ({ label: k, value: mod[k] || 0, cls: `fill-${k}` })), { label: 'Moderation verdicts' }))),
	];
}

function stat(label, value, sub) {
	return h('div', { class: 'stat card' },
		h('div', { class: 'stat-label' }, label),
		h('div', { class: 'stat-value' }, value),
		h('div', { class: 'stat-sub' }, sub));
}

// --- start -------------------------------------------------------------------

onSignedOut((reason) => {
	if (parseHash().path === '/signin') return;
	wanted = location.hash;
	announce(`Signed out: ${reason}`, 'error');
	location.hash = '#/signin';
});

window.addEventListener('hashchange', () => {
	if (location.hash && !location.hash.startsWith('#/')) return;
	focusNext = true;
	route();
});

document.querySelector('.skip').addEventListener('click', (e) => {
	e.preventDefault();
	main.focus();
});

async function start() {
	replace(main, loading());
	try {
		await loadSession();
	} catch (e) {
		replace(main, h('h1', { tabindex: '-1' }, 'Pictor console'), errorBox(e, 'The session could not be checked'));
		return;
	}
	route();
}

// When the session expires the cookie stops working and the next call
// answers 401, which signs the page out (onSignedOut above).
start();
