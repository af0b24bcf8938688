// api.js - the console's only door to the server.
//
// The session lives in an HttpOnly cookie the page cannot read; the CSRF
// token is kept here, in memory only, and re-read from
// GET /admin/api/session on every load. State-changing calls carry it in
// X-CSRF-Token. Answers use the Cloudflare envelope
// {success, errors:[{code, message}], result}.

export const session = { csrf: null, scopes: [], token_id: null, expires_at: null, signedIn: false };

export class ApiError extends Error {
	constructor(status, code, message, result = null) {
		super(message);
		this.status = status;
		this.code = code;
		this.result = result;
	}
}

const listeners = new Set();
export const onSignedOut = (fn) => listeners.add(fn);

function signedOut(reason) {
	const was = session.signedIn;
	setSession(null);
	if (was) for (const fn of listeners) fn(reason);
}

function setSession(r) {
	session.signedIn = !!r;
	session.csrf = r ? r.csrf_token : null;
	session.scopes = r && Array.isArray(r.scopes) ? r.scopes : [];
	session.token_id = r ? r.token_id : null;
	session.expires_at = r ? r.expires_at : null;
}

export function can(scope) {
	return session.scopes.includes('admin') || session.scopes.includes(scope);
}

async function envelope(res) {
	const type = res.headers.get('content-type') || '';
	let body = null;
	if (type.includes('json')) {
		try { body = await res.json(); } catch { body = null; }
	} else {
		await res.text().catch(() => '');
	}
	if (body && body.success !== false && res.ok) return body.result;
	const e = body && Array.isArray(body.errors) && body.errors[0];
	const code = e && e.code ? String(e.code) : `http_${res.status}`;
	const msg = e && e.message ? String(e.message) : `the server answered ${res.status} ${res.statusText}`.trim();
	return Promise.reject(new ApiError(res.status, code, msg, body ? body.result : null));
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export async function api(method, path, body, opts = {}) {
	const headers = { Accept: 'application/json', ...(opts.headers || {}) };
	if (UNSAFE.has(method) && session.csrf) headers['X-CSRF-Token'] = session.csrf;
	let payload;
	if (body !== undefined) {
		headers['Content-Type'] = 'application/json';
		payload = JSON.stringify(body);
	}
	let res;
	try {
		res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', signal: opts.signal });
	} catch (e) {
		if (e.name === 'AbortError') throw e;
		throw new ApiError(0, 'network_error', `the server could not be reached (${e.message})`);
	}
	try {
		return await envelope(res);
	} catch (e) {
		if (e instanceof ApiError && e.status === 401 && !opts.noSignOut) signedOut(e.message);
		throw e;
	}
}

export const get = (path, opts) => api('GET', path, undefined, opts);

export function qs(params) {
	const u = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) {
		if (v !== null && v !== undefined && v !== '') u.set(k, String(v));
	}
	const s = u.toString();
	return s ? `?${s}` : '';
}

// --- session ---------------------------------------------------------------

export async function loadSession() {
	try {
		setSession(await api('GET', '/admin/api/session', undefined, { noSignOut: true }));
	} catch (e) {
		setSession(null);
		if (!(e instanceof ApiError) || (e.status !== 401 && e.status !== 403)) throw e;
	}
	return session;
}

export async function signIn(token) {
	setSession(await api('POST', '/admin/api/session', { token }, { noSignOut: true }));
	return session;
}

export async function signOut() {
	try {
		await api('DELETE', '/admin/api/session', undefined, { noSignOut: true });
	} finally {
		signedOut('signed out');
	}
}

// --- uploads -----------------------------------------------------------------

// One multipart upload by XMLHttpRequest, for its upload progress events.
// Resolves with the record; rejects with an ApiError.
export function upload(file, fields, onProgress) {
	return new Promise((resolve, reject) => {
		const fd = new FormData();
		fd.append('file', file, file.name);
		for (const [k, v] of Object.entries(fields || {})) {
			if (v !== null && v !== undefined && v !== '') fd.append(k, v);
		}
		const xhr = new XMLHttpRequest();
		xhr.open('POST', '/v1/images');
		xhr.setRequestHeader('Accept', 'application/json');
		if (session.csrf) xhr.setRequestHeader('X-CSRF-Token', session.csrf);
		xhr.upload.addEventListener('progress', (e) => {
			if (e.lengthComputable) onProgress(e.loaded / e.total);
		});
		xhr.addEventListener('error', () => reject(new ApiError(0, 'network_error', 'the upload did not reach the server')));
		xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'the upload was cancelled')));
		xhr.addEventListener('load', () => {
			let body = null;
			try { body = JSON.parse(xhr.responseText); } catch { body = null; }
			if (xhr.status >= 200 && xhr.status < 300 && body && body.success !== false) {
				resolve({ status: xhr.status, record: body.result });
				return;
			}
			const e = body && Array.isArray(body.errors) && body.errors[0];
			const err = new ApiError(xhr.status, e && e.code ? String(e.code) : `http_${xhr.status}`,
				e && e.message ? String(e.message) : `the server answered ${xhr.status}`, body ? body.result : null);
			if (xhr.status === 401) signedOut(err.message);
			reject(err);
		});
		xhr.send(fd);
	});
}
