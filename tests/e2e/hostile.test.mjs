// Abuse that needs real connections (the in-process corpus,
// tests/server/hostile_requests_test.cpp, covers malformed requests): slow
// and idle clients, streams nobody reads, bad framing on the wire,
// pipelined requests and half-closed connections. After each, the server
// still answers promptly. (tests/server/connection_loop_test.cpp checks the
// connection loop's limits with small settings.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { URL_BASE, MODEL, health, busyTokens } from './helpers.mjs';

const { hostname: HOST, port: PORT } = new URL(URL_BASE);

// Sends raw bytes; resolves with everything the server wrote until it closes
// the connection or `ms` pass.
function rawExchange(bytes, { ms = 5000, halfClose = false } = {}) {
  return new Promise((resolve) => {
    const socket = net.connect(Number(PORT), HOST);
    let data = '';
    const done = () => { clearTimeout(timer); socket.destroy(); resolve(data); };
    const timer = setTimeout(done, ms);
    socket.on('data', (d) => { data += d; });
    socket.on('end', done);
    socket.on('error', done);
    socket.on('connect', () => { socket.write(bytes); if (halfClose) socket.end(); });
  });
}

const statuses = (text) => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

function post(path, body, extra = '') {
  return `POST ${path} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
}

async function quickHealth() {
  const t0 = Date.now();
  const h = await health();
  assert.equal(h.status, 'ok');
  return Date.now() - t0;
}

test('bad framing on the wire is answered at once with 4xx', async () => {
  const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 });
  const cases = [
    ['Content-Length: -1', 400], ['Content-Length: 18446744073709551616', 400],
    ['Transfer-Encoding: gzip, chunked', 400], ['Transfer-Encoding: chunked', 411],
  ];
  for (const [header, status] of cases) {
    const t0 = Date.now();
    const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: ${HOST}\r\nContent-Type: application/json\r\n${header}\r\n\r\n`;
    const out = await rawExchange(head + body, { ms: 3000 });
    assert.equal(statuses(out)[0], status, `${header}: ${out}`);
    assert.ok(Date.now() - t0 < 2500, `${header} took ${Date.now() - t0} ms`);
  }
  const twice = `POST /v1/chat/completions HTTP/1.1\r\nHost: ${HOST}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${body.length}\r\nContent-Length: 5\r\n\r\n${body}`;
  assert.equal(statuses(await rawExchange(twice, { ms: 3000 }))[0], 400);
  await quickHealth();
});

test('a foreign Host, a foreign Origin and text/plain are refused', async () => {
  const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 });
  const rebind = `POST /v1/chat/completions HTTP/1.1\r\nHost: attacker.example\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${body.length}\r\n\r\n${body}`;
  assert.equal(statuses(await rawExchange(rebind, { ms: 3000 }))[0], 403);
  const page = await fetch(`${URL_BASE}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'text/plain' }, body,
  });
  assert.equal(page.status, 415);
  const origin = await fetch(`${URL_BASE}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, body,
  });
  assert.equal(origin.status, 403);
  assert.match((await origin.json()).error.message, /--cors/);
});

test('slow, idle and non-reading clients do not stop the server', async () => {
  // 120 connections that send one byte and stall (the old server stopped at
  // about 72), and 24 streams that are never read.
  const sockets = [];
  for (let i = 0; i < 120; ++i) {
    const s = net.connect(Number(PORT), HOST);
    s.on('error', () => {});
    s.on('connect', () => s.write('P'));
    sockets.push(s);
  }
  const body = JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'Tell a long story' }], max_tokens: busyTokens(2000, 60) });
  for (let i = 0; i < 24; ++i) {
    const s = net.connect(Number(PORT), HOST);
    s.on('error', () => {});
    s.on('connect', () => { s.write(post('/v1/chat/completions', body)); s.pause(); });
    sockets.push(s);
  }
  await new Promise((r) => setTimeout(r, 500));
  // Others are still served, promptly.
  assert.ok(await quickHealth() < 2000);
  const r = await fetch(`${URL_BASE}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
  });
  assert.equal(r.status, 200);
  // A connection that stops halfway through its headers is answered 408 and
  // given up on (the request time, 15 s), not held.
  const idle = net.connect(Number(PORT), HOST);
  idle.on('error', () => {});
  let idleAnswer = '';
  const closedAfter = await new Promise((resolve) => {
    const t0 = Date.now();
    idle.on('connect', () => idle.write('GET /health HTTP/1.1\r\n'));
    idle.on('data', (d) => { idleAnswer += d; resolve(Date.now() - t0); });
    idle.on('close', () => resolve(Date.now() - t0));
    setTimeout(() => resolve(null), 25000);
  });
  if (idleAnswer) assert.equal(statuses(idleAnswer)[0], 408, idleAnswer);
  for (const s of sockets) s.destroy();
  idle.destroy();
  assert.ok(closedAfter !== null && closedAfter < 20000, `an idle connection stayed open (${closedAfter})`);
  // The abandoned streams free their slots.
  for (let i = 0; i < 100; ++i) {
    const h = await health();
    if (h.models.every((m) => m.running === 0)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail('slots still busy after the clients left');
});

test('pipelined requests on one connection are all answered, in order', async () => {
  const get = (path, extra = '') => `GET ${path} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\n${extra}\r\n`;
  const out = await rawExchange(get('/health') + get('/api/version') + get('/v1/models', 'Connection: close\r\n'), { ms: 5000 });
  assert.deepEqual(statuses(out), [200, 200, 200], out);
  assert.ok(out.indexOf('"status":"ok"') < out.indexOf('"version"') && out.indexOf('"version"') < out.indexOf('"object":"list"'), out);
});

test('a client that half-closes after its request still gets the answer', async () => {
  const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
  const out = await rawExchange(post('/v1/chat/completions', body), { ms: 10000, halfClose: true });
  // An interim 102 may come first: the server's probe of the end of stream.
  assert.deepEqual(statuses(out).filter((s) => s >= 200), [200], out);
  assert.match(out, /"chat\.completion"/);
});
