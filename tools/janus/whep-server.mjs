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
// GET {base}/stats answers {"endpoints": [{"id": site, "subscribers": n}]} for the
// relay's status page (the same token is required).
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
// ?ticket={expiry}.{hex HMAC-SHA256 of "{site}.{expiry}" under WHEP_TOKEN} (browsers drop
// Authorization on a cross-origin redirect). A valid ticket opens this site's endpoint until
// its expiry; a bad or expired one gets 403, as does no credential at all.
function ticketOk(site, ticket) {
	const [exp, mac] = String(ticket).split('.');
	if(!/^[0-9]+$/.test(exp || '') || parseInt(exp, 10) < Date.now() / 1000 || !mac)
		return false;
	const good = crypto.createHmac('sha256', token).update(site + '.' + exp).digest('hex');
	return mac.length === good.length && crypto.timingSafeEqual(Buffer.from(mac), Buffer.from(good));
}

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
	if(req.query.ticket !== undefined) {
		if(!ticketOk(req.params.id, req.query.ticket)) {
			res.status(403).send('Unauthorized');
			return;
		}
		req.headers['authorization'] = 'Bearer ' + token;
	}
	next();
});
// A session's resource URL (random, known only to its viewer) is what ends or trickles it,
// also for viewers that came by redirect and hold no tier credential.
app.use(base + '/resource/:uuid', (req, res, next) => {
	if(req.method === 'PATCH' || req.method === 'DELETE')
		req.headers['authorization'] = 'Bearer ' + token;
	next();
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
	if(req.headers['authorization'] !== 'Bearer ' + token) {
		res.status(403).send('Unauthorized');
		return;
	}
	res.json({ endpoints: server.listEndpoints() });
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
