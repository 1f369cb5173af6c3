// A real OAuth2 authorization server process for the hub's tests: oauth2-mock-server v8
// (`OAuth2Server`), wrapped in our own HTTP server that records every request and adds
// control endpoints under /__control/ to steer the next answers.
//
//   node tests/support/oauth_server.mjs [PORT] [--exit-on-stdin-close]
//
// Listens on 127.0.0.1 (PORT, default 0 = chosen by the OS), prints exactly one line
// `READY http://127.0.0.1:<port>` to stdout, and runs until SIGTERM/SIGINT (or, with
// --exit-on-stdin-close, until its stdin closes, so a dead parent cannot leave it behind).
//
// What oauth2-mock-server 8.2.x validates on its own (read from its dist code) -- and what it
// does NOT, so the hub's tests must assert those from the recordings (GET /__control/requests):
//   /authorize  requires redirect_uri (an absolute URL, else 400 invalid_request); a
//               response_type other than "code" redirects with error=unsupported_response_type;
//               code_challenge_method must be "plain" or "S256" (absent = "plain") or it is a
//               400 JSON error. It does NOT check client_id, scope, state, or any registered
//               redirect_uri, and does NOT require PKCE.
//   /token      grant_type must be authorization_code, refresh_token, client_credentials or
//               password (else 400 invalid_grant); scope/code must be strings. PKCE is verified
//               ONLY when the request carries both `code` and `code_verifier`: then the code must
//               have been issued with a code_challenge, the verifier must match RFC 7636's format
//               and the challenge (S256/plain) -- else 400 invalid_request -- and the challenge is
//               then forgotten (a second redemption with a verifier fails). Without a
//               code_verifier ANY code string is accepted, even one issued with a challenge, and
//               codes are otherwise not single-use. It does NOT check that redirect_uri matches
//               the one sent to /authorize, does NOT require or verify client authentication
//               (HTTP Basic or client_id/client_secret in the body: both are accepted, neither is
//               needed; Basic's user name only becomes the id_token `aud`), and accepts ANY
//               refresh_token value. It also accepts a JSON body, not only a form.
//   /userinfo   does NOT check the bearer token (any or none is accepted).
//   /revoke     always answers 200 with an empty body; it does not even parse the form.
// Validation errors from the mock itself are 400 {"error": "invalid_request", "error_description"}.
//
// Additions of this wrapper:
//   * Every JWT gets a random `jti`: the mock's own tokens are deterministic (RS256 over the same
//     iat/exp/sub/scope), so two issued within one second would otherwise be identical.
//   * The normal token answer: access_token (a fresh, unique JWT), token_type "Bearer", expires_in 3600,
//     refresh_token (a fresh random value on every call, so rotation is observable), id_token
//     (except for client_credentials), and scope = the scope of the token request, else the
//     scope requested at /authorize for that code (authorization_code) or the scope of the
//     grant that issued that refresh token (refresh_token); no scope field when none is known.
//   * Default /userinfo: {"sub": "user-123", "email": "ada@example.com", "name": "Ada Lovelace"};
//     the tokens' `sub` follows the userinfo `sub` (except a password grant's user name).
//
// Control endpoints (JSON in and out; not recorded):
//   GET  /__control/requests[?path=/token]  recorded requests, oldest first, each
//        {method, path, query, headers, form, body, time}; query/form are objects (a repeated
//        key gives a list), form is null unless the body is application/x-www-form-urlencoded,
//        body is the raw body text (null when empty), time is ms since the epoch.
//   POST /__control/reset                   forget recordings and every queued/persisting behaviour.
//   POST /__control/token-responses         a JSON list of behaviours, one per next POST /token:
//        {"status": 400, "body": {...}, "headers": {...}}  answer exactly this (body may be a
//             string); the mock is not called, so the code / PKCE challenge stays redeemable;
//        {"body": {...}}  normal answer with these fields merged in (null removes a field, e.g.
//             {"refresh_token": null}; a numeric expires_in also sets the access token's exp);
//        {"delayMs": 500} wait, then answer (normally, or as the other keys say).
//   POST /__control/userinfo[?status=401]   JSON object answered by /userinfo from now on (until reset).
//   POST /__control/authorize               one behaviour for the next /authorize redirect: an object
//        of query parameters to set on it; a null value removes one; "error" also removes `code`.
//        e.g. {"error": "access_denied", "error_description": "..."} or {"iss": "https://x"}.
//        Several calls queue several behaviours.

import { randomUUID } from 'node:crypto';
import http from 'node:http';

import { OAuth2Server } from 'oauth2-mock-server';

const HOST = '127.0.0.1';
const CONTROL_PREFIX = '/__control/';
const DEFAULT_USERINFO = Object.freeze({
  sub: 'user-123',
  email: 'ada@example.com',
  name: 'Ada Lovelace',
});

const args = process.argv.slice(2);
const exitOnStdinClose = args.includes('--exit-on-stdin-close');
const portArg = args.find((a) => /^\d+$/.test(a));
const port = portArg === undefined ? 0 : Number(portArg);

// ---- state -------------------------------------------------------------------------------
const state = {
  recorded: [],
  tokenBehaviours: [],
  authorizeBehaviours: [],
  userinfo: null, // {status, body} or null for the default
  codeScopes: new Map(), // authorization code -> scope asked for at /authorize
  refreshScopes: new Map(), // refresh token we issued -> scope of that grant
};

function resetState() {
  state.recorded = [];
  state.tokenBehaviours = [];
  state.authorizeBehaviours = [];
  state.userinfo = null;
  state.codeScopes.clear();
  state.refreshScopes.clear();
}

// Per-request context shared between the wrapper and the mock's event hooks.
const contexts = new WeakMap();

// ---- helpers -----------------------------------------------------------------------------
function paramsToObject(params) {
  const out = {};
  for (const [key, value] of params) {
    if (Object.hasOwn(out, key)) {
      out[key] = Array.isArray(out[key]) ? [...out[key], value] : [out[key], value];
    } else {
      out[key] = value;
    }
  }
  return out;
}

function isForm(headers) {
  const type = (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  return type === 'application/x-www-form-urlencoded';
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// The mock parses bodies itself (express urlencoded/json reading the request stream), and our
// reading consumed that stream: hand it an equivalent request whose stream replays the body.
function replayRequest(req, body) {
  const replay = new http.IncomingMessage(req.socket);
  replay.method = req.method;
  replay.url = req.url;
  replay.httpVersion = req.httpVersion;
  replay.httpVersionMajor = req.httpVersionMajor;
  replay.httpVersionMinor = req.httpVersionMinor;
  replay.headers = req.headers;
  replay.rawHeaders = req.rawHeaders;
  replay.trailers = req.trailers;
  replay.rawTrailers = req.rawTrailers;
  if (body.length > 0) replay.push(body);
  replay.push(null);
  replay.complete = true;
  return replay;
}

function sendJson(res, status, payload, headers = {}) {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  res.writeHead(status, {
    'Content-Type': typeof payload === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function currentSub() {
  const body = state.userinfo?.body;
  if (isPlainObject(body) && typeof body.sub === 'string') return body.sub;
  return DEFAULT_USERINFO.sub;
}

// The scope this token request should echo (undefined when none is known).
function grantedScope(form) {
  if (form === null) return undefined;
  if (typeof form.scope === 'string') return form.scope;
  if (form.grant_type === 'authorization_code' && typeof form.code === 'string') {
    return state.codeScopes.get(form.code);
  }
  if (form.grant_type === 'refresh_token' && typeof form.refresh_token === 'string') {
    return state.refreshScopes.get(form.refresh_token);
  }
  return undefined;
}

// ---- the mock and its hooks --------------------------------------------------------------
const mock = new OAuth2Server();
await mock.issuer.keys.generate('RS256');
const service = mock.service;

service.on('beforeTokenSigning', (token, req) => {
  const ctx = contexts.get(req);
  const payload = token.payload;
  // RS256 signatures are deterministic: without a random claim two tokens issued within the
  // same second (same iat/exp/sub/scope) would be byte-identical.
  payload.jti = randomUUID();
  if (payload.sub === 'johndoe') payload.sub = currentSub(); // the mock's fixed subject
  if (!('scope' in payload)) return; // the id_token: only the access token carries a scope
  const scope = grantedScope(ctx?.form ?? null);
  if (scope === undefined) delete payload.scope;
  else payload.scope = scope;
  const expiresIn = ctx?.behaviour?.body?.expires_in;
  if (typeof expiresIn === 'number') payload.exp = payload.iat + expiresIn;
});

service.on('beforeResponse', (response, req) => {
  if (response.statusCode !== 200 || !isPlainObject(response.body)) return;
  const ctx = contexts.get(req);
  const form = ctx?.form ?? null;
  const body = response.body;
  const scope = grantedScope(form);
  if (scope === undefined) delete body.scope;
  else body.scope = scope;
  if ('refresh_token' in body) body.refresh_token = `rt-${randomUUID()}`;
  const override = ctx?.behaviour?.body;
  if (isPlainObject(override)) {
    for (const [key, value] of Object.entries(override)) {
      if (value === null) delete body[key];
      else body[key] = value;
    }
  }
  if (typeof body.refresh_token === 'string') state.refreshScopes.set(body.refresh_token, scope);
});

service.on('beforeUserinfo', (response) => {
  if (state.userinfo === null) {
    response.statusCode = 200;
    response.body = { ...DEFAULT_USERINFO };
  } else {
    response.statusCode = state.userinfo.status;
    response.body = state.userinfo.body;
  }
});

service.on('beforeAuthorizeRedirect', (redirect, req) => {
  const params = redirect.url.searchParams;
  const code = params.get('code');
  const scope = contexts.get(req)?.query?.scope;
  if (code !== null && typeof scope === 'string') state.codeScopes.set(code, scope);
  const behaviour = state.authorizeBehaviours.shift();
  if (behaviour === undefined) return;
  if ('error' in behaviour) params.delete('code');
  for (const [key, value] of Object.entries(behaviour)) {
    if (value === null) params.delete(key);
    else params.set(key, String(value));
  }
});

// ---- control endpoints -------------------------------------------------------------------
function parseJson(buffer) {
  if (buffer.length === 0) return undefined;
  return JSON.parse(buffer.toString('utf8'));
}

function handleControl(req, res, url, body) {
  const route = `${req.method} ${url.pathname}`;
  let payload;
  try {
    payload = parseJson(body);
  } catch (err) {
    sendJson(res, 400, { error: `invalid JSON: ${err.message}` });
    return;
  }
  switch (route) {
    case 'GET /__control/requests': {
      const path = url.searchParams.get('path');
      const list = path === null ? state.recorded : state.recorded.filter((r) => r.path === path);
      sendJson(res, 200, list);
      return;
    }
    case 'POST /__control/reset':
      resetState();
      sendJson(res, 200, { ok: true });
      return;
    case 'POST /__control/token-responses': {
      const list = Array.isArray(payload) ? payload : [payload];
      if (!list.every(isPlainObject)) {
        sendJson(res, 400, { error: 'expected a JSON list of behaviour objects' });
        return;
      }
      state.tokenBehaviours.push(...list);
      sendJson(res, 200, { queued: state.tokenBehaviours.length });
      return;
    }
    case 'POST /__control/userinfo': {
      const status = Number(url.searchParams.get('status') ?? 200);
      if (payload === undefined || !Number.isInteger(status)) {
        sendJson(res, 400, { error: 'expected a JSON body (and an integer ?status=)' });
        return;
      }
      state.userinfo = { status, body: payload };
      sendJson(res, 200, { ok: true });
      return;
    }
    case 'POST /__control/authorize': {
      if (!isPlainObject(payload)) {
        sendJson(res, 400, { error: 'expected a JSON object of redirect parameters' });
        return;
      }
      state.authorizeBehaviours.push(payload);
      sendJson(res, 200, { queued: state.authorizeBehaviours.length });
      return;
    }
    default:
      sendJson(res, 404, { error: `no control endpoint ${route}` });
  }
}

// ---- the wrapping HTTP server ------------------------------------------------------------
async function handle(req, res) {
  const time = Date.now();
  const url = new URL(req.url, `http://${HOST}`);
  const body = await readBody(req);

  if (url.pathname.startsWith(CONTROL_PREFIX)) {
    handleControl(req, res, url, body);
    return;
  }

  const query = paramsToObject(url.searchParams);
  const form = isForm(req.headers) ? paramsToObject(new URLSearchParams(body.toString('utf8'))) : null;
  state.recorded.push({
    method: req.method,
    path: url.pathname,
    query,
    headers: { ...req.headers },
    form,
    body: body.length > 0 ? body.toString('utf8') : null,
    time,
  });

  let behaviour;
  if (req.method === 'POST' && url.pathname === '/token') {
    behaviour = state.tokenBehaviours.shift();
  }
  if (behaviour !== undefined) {
    if (typeof behaviour.delayMs === 'number' && behaviour.delayMs > 0) await sleep(behaviour.delayMs);
    if (behaviour.status !== undefined) {
      sendJson(res, behaviour.status, behaviour.body ?? {}, behaviour.headers ?? {});
      return;
    }
  }

  const replay = replayRequest(req, body);
  contexts.set(replay, { form, query, behaviour });
  service.requestHandler(replay, res);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error('oauth_server: request failed:', err);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: String(err) });
    else res.destroy();
  });
});

await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, HOST, resolve);
});
const issuer = `http://${HOST}:${server.address().port}`;
mock.issuer.url = issuer;
process.stdout.write(`READY ${issuer}\n`);

let closing = false;
function shutdown() {
  if (closing) return;
  closing = true;
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (exitOnStdinClose) {
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}
