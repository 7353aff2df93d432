// The tier's WHEP door: Meetecho's janus-whep-server (npm) in front of one Janus instance,
// one WHEP endpoint per site, each serving that site's Janus Streaming mountpoint.
//
// Configuration, all from the environment (so the same file serves the tests, the
// docker-compose profile and a systemd unit):
//   JANUS_WS        Janus WebSocket API, e.g. ws://127.0.0.1:8188
//   WHEP_PORT       port to listen on (all interfaces)
//   WHEP_BASE       base path, default /whep  (endpoints: {base}/endpoint/{site})
//   WHEP_ENDPOINTS  site=mountpoint[,site=mountpoint...], e.g. bochum=1,tsukuba=2
//   WHEP_TOKEN      the bearer token every subscriber must present (the relay's credential
//                   for this tier); WHEP_TOKEN_FILE reads it from a file instead. Required:
//                   a tier without a token would be an open door to the feed.
//   WHEP_ICE_SERVERS optional, space-separated stun:/turn: URIs sent as Link headers
//
// GET {base}/stats answers {"endpoints": [{"id": site, "subscribers": n}], "tickets":
// [nonce, ...]} (the ticket sessions still open) for the relay (the same token is required).
import crypto from 'node:crypto';
import fs from 'node:fs';
import express from 'express';
import { JanusWhepServer } from 'janus-whep-server';

function need(name) {
	const v = process.env[name];
	if(!v) {
		console.error(`whep-server: ${name} is required`);
		process.exit(2);
	}
	return v;
}

const base = process.env.WHEP_BASE || '/whep';
const port = parseInt(need('WHEP_PORT'), 10);
let token = process.env.WHEP_TOKEN || '';
if(!token && process.env.WHEP_TOKEN_FILE)
	token = fs.readFileSync(process.env.WHEP_TOKEN_FILE, 'utf8').trim();
if(!token) {
	console.error('whep-server: WHEP_TOKEN or WHEP_TOKEN_FILE is required');
	process.exit(2);
}
const iceServers = (process.env.WHEP_ICE_SERVERS || '').split(/\s+/).filter(Boolean)
	.map((uri) => ({ uri }));

// Interop fix (docs/deployment.md): Debian's Janus 1.1.2 Streaming plugin predates client
// offers (janus-gateway PR 3199): it answers a viewer's offer with its own offer, which
// janus-whep-server returns as the answer. That SDP says a=setup:actpass (not allowed in an
// answer; Janus is the DTLS client, so: active) and numbers its header extensions its own
// way (browsers refuse re-numbered IDs): both are put right here, using the viewer's offer.
function fixAnswer(offer, answer) {
	const ids = new Map();
	for(const m of offer.matchAll(/^a=extmap:(\d+)(?:\/\w+)? (\S+)/gm))
		ids.set(m[2], m[1]);
	return answer.split('\r\n')
		.map((l) => l === 'a=setup:actpass' ? 'a=setup:active' : l)
		.filter((l) => { const m = /^a=extmap:\d+(?:\/\w+)? (\S+)/.exec(l); return !m || ids.has(m[1]); })
		.map((l) => l.replace(/^a=extmap:\d+((?:\/\w+)? )(\S+)/, (_, d, uri) => 'a=extmap:' + ids.get(uri) + d + uri))
		.join('\r\n');
}

// A relay configured with handoff = "redirect" sends viewers here with a 307 and
// ?ticket={expiry}.{until}.{nonce}.{hex HMAC-SHA256 of "{site}.{expiry}.{until}.{nonce}"
// under WHEP_TOKEN} (browsers drop Authorization on a cross-origin redirect). A ticket opens
// this site's endpoint once (its nonce is remembered until it expires) and only until its
// expiry (seconds); the session it opened ends at `until` (the viewer's token's expiry) or
// when the relay hangs it up (DELETE {base}/ticket/{nonce}, on revocation or a kick). A bad,
// expired or used ticket gets 403, as does no credential at all.
//
// Such a viewer's session is at {base}/session/{secret} (32 random bytes): that path alone
// ends or trickles it. The endpoint's own resource paths ({base}/resource/{uuid}) want the
// tier's bearer token, as janus-whep-server checks it; no one else gets a session's uuid.
function ticketOk(site, ticket) {
	const parts = String(ticket).split('.');
	if(parts.length !== 4)
		return null;
	const [exp, until, nonce, mac] = parts;
	if(!/^[0-9]+$/.test(exp) || !/^[0-9]+$/.test(until) || !/^[0-9a-f]{16,64}$/.test(nonce))
		return null;
	const now = Date.now() / 1000;
	if(parseInt(exp, 10) < now || parseInt(until, 10) < now || used.has(nonce))
		return null;
	const good = crypto.createHmac('sha256', token).update([site, exp, until, nonce].join('.'))
		.digest('hex');
	if(mac.length !== good.length || !crypto.timingSafeEqual(Buffer.from(mac), Buffer.from(good)))
		return null;
	return { exp: parseInt(exp, 10), until: parseInt(until, 10), nonce };
}

const used = new Map();		// nonce -> when it may be forgotten (s): each ticket works once
const bySecret = new Map();	// secret -> { uuid, nonce, until }
const byNonce = new Map();	// nonce -> secret

function bearerOk(req) {
	const auth = String(req.headers['authorization'] || '');
	const want = 'Bearer ' + token;
	return auth.length === want.length && crypto.timingSafeEqual(Buffer.from(auth), Buffer.from(want));
}

async function hangUp(secret, why) {
	const s = bySecret.get(secret);
	if(!s)
		return false;
	bySecret.delete(secret);
	byNonce.delete(s.nonce);
	// Through janus-whep-server's own DELETE: it detaches the Janus handle and forgets the
	// subscriber, as when the viewer hangs up.
	await fetch(`http://127.0.0.1:${port}${base}/resource/${s.uuid}`, {
		method: 'DELETE', headers: { Authorization: 'Bearer ' + token },
	}).catch(() => {});
	console.log(`whep-server: ticket session ${s.nonce.slice(0, 8)} ended (${why})`);
	return true;
}

// Sessions past their token's expiry end; forgotten: tickets past use, sessions gone.
setInterval(() => {
	const now = Date.now() / 1000;
	for(const [nonce, until] of used)
		if(until < now)
			used.delete(nonce);
	for(const [secret, s] of bySecret) {
		if(s.until < now)
			hangUp(secret, 'token expired');
		else if(!server.subscribers.has(s.uuid)) {
			bySecret.delete(secret);
			byNonce.delete(s.nonce);
		}
	}
}, 2000).unref();

const app = express();
app.options('*', (req, res) => {
	res.set({
		'Access-Control-Allow-Origin': '*',
		'Access-Control-Allow-Methods': 'OPTIONS, POST, PATCH, DELETE',
		'Access-Control-Allow-Headers': 'Authorization, Content-Type, If-Match',
		'Access-Control-Expose-Headers': 'Location, ETag, Link, Accept-Patch',
	});
	res.sendStatus(204);
});
app.post(base + '/endpoint/:id', (req, res, next) => {
	if(req.query.ticket === undefined) {
		next();		// janus-whep-server checks the bearer token
		return;
	}
	const t = ticketOk(req.params.id, req.query.ticket);
	if(!t) {
		res.set('Access-Control-Allow-Origin', '*').status(403).send('Unauthorized');
		return;
	}
	used.set(t.nonce, Math.max(t.exp, Date.now() / 1000) + 5);
	req.headers['authorization'] = 'Bearer ' + token;
	// The session's Location: a secret path of its own instead of the endpoint's resource.
	const setHeader = res.setHeader.bind(res);
	let once = true;
	res.setHeader = (name, value) => {
		if(String(name).toLowerCase() === 'location' && once) {
			once = false;
			const uuid = String(value).split('/').pop();
			const secret = crypto.randomBytes(32).toString('base64url');
			bySecret.set(secret, { uuid, nonce: t.nonce, until: t.until });
			byNonce.set(t.nonce, secret);
			value = `${base}/session/${secret}`;
		}
		return setHeader(name, value);
	};
	next();
});
// A ticket session's secret path: the credential for its PATCH and DELETE.
app.use((req, res, next) => {
	const prefix = base + '/session/';
	if(!req.path.startsWith(prefix) || req.method === 'OPTIONS') {
		next();
		return;
	}
	res.set('Access-Control-Allow-Origin', '*');	// what a browser's page may read
	const s = bySecret.get(req.path.slice(prefix.length));
	if(!s) {
		res.status(404).send('Invalid resource ID');
		return;
	}
	if(req.method === 'DELETE') {
		hangUp(req.path.slice(prefix.length), 'deleted by client').then(() => res.sendStatus(200));
		return;
	}
	req.headers['authorization'] = 'Bearer ' + token;
	req.url = `${base}/resource/${s.uuid}`;
	next();
});
// The relay hangs up what a ticket opened (revoked token, kicked viewer); the nonce is
// spent from now on if it was not yet.
app.delete(base + '/ticket/:nonce', async (req, res) => {
	if(!bearerOk(req)) {
		res.status(403).send('Unauthorized');
		return;
	}
	const nonce = req.params.nonce;
	if(!used.has(nonce))
		used.set(nonce, Date.now() / 1000 + 660);	// longer than any ticket lives
	const secret = byNonce.get(nonce);
	res.sendStatus(secret && await hangUp(secret, 'ended by the relay') ? 200 : 404);
});
app.post(base + '/endpoint/:id', express.text({ type: 'application/sdp', limit: '64kb' }), (req, res, next) => {
	const offer = typeof req.body === 'string' ? req.body : '';
	const write = res.write.bind(res);
	res.write = (chunk, ...rest) => {
		if(res.statusCode === 201 && offer)
			chunk = fixAnswer(offer, chunk.toString());
		return write(chunk, ...rest);
	};
	next();
});
app.get(base + '/stats', (req, res) => {
	if(!bearerOk(req)) {
		res.status(403).send('Unauthorized');
		return;
	}
	res.json({ endpoints: server.listEndpoints(), tickets: [...byNonce.keys()] });
});
const server = new JanusWhepServer({
	janus: { address: need('JANUS_WS') },
	rest: { app, basePath: base },
	iceServers,
});
await server.start();
for(const pair of need('WHEP_ENDPOINTS').split(',')) {
	const [id, mountpoint] = pair.split('=');
	server.createEndpoint({ id, mountpoint: parseInt(mountpoint, 10), token });
}
const http = app.listen(port, () => console.log(`WHEP server listening on ${port}${base}`));
for(const sig of ['SIGTERM', 'SIGINT'])
	process.on(sig, () => { http.close(); server.destroy().finally(() => process.exit(0)); });
