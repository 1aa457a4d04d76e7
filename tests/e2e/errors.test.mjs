// Error answers: OpenAI's error object with the right status and a message
// that names the problem.
import test from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { openai, MODEL, URL_BASE, postJson, startServer } from './helpers.mjs';

const chat = (body) => postJson('/v1/chat/completions', { model: MODEL, max_tokens: 4, ...body });

test('malformed JSON is 400, not 500', async () => {
  const r = await postJson('/v1/chat/completions', '{"model": "x", "messages": [');
  assert.equal(r.status, 400);
  assert.equal(r.json.error.type, 'invalid_request_error');
  assert.match(r.json.error.message, /JSON/);
});

test('invalid fields are 400 naming the field', async () => {
  let r = await postJson('/v1/chat/completions', { model: MODEL });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'messages');
  r = await chat({ messages: [{ role: 'user', content: 'hi' }], temperature: 'hot' });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'temperature');
  r = await chat({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 0 });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'max_tokens');
  r = await chat({ messages: [{ role: 'user', content: 'hi' }], tool_choice: { type: 'function', function: { name: 'nope' } }, tools: [] });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'tool_choice');
  r = await chat({ messages: [{ content: 'no role' }] });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'messages');
  r = await chat({ messages: [{ role: 'user', content: 'hi' }], n: 2 });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'n');
  // Unknown fields are ignored.
  r = await chat({ messages: [{ role: 'user', content: 'hi' }], some_future_field: { x: 1 } });
  assert.equal(r.status, 200);
});

test('unknown model is 404 through the client', async () => {
  await assert.rejects(
    openai.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e.status === 404 && /no-such-model/.test(e.message) && e.code === 'model_not_found');
});

test('a prompt longer than the context is 400 context_length_exceeded with both sizes', async () => {
  const r = await chat({ messages: [{ role: 'user', content: 'cat dog bird '.repeat(3000) }] });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'context_length_exceeded');
  assert.match(r.json.error.message, /maximum context length is 2048 tokens/);
  assert.match(r.json.error.message, /resulted in \d+ tokens/);
});

test('images on a text-only model are 400', async () => {
  const r = await chat({
    messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }],
  });
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /does not support images/);
});

test('a body over the limit is 413', async () => {
  const big = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(2 * 1024 * 1024) }] });
  const r = await startServer(['--max-body-mb', '1']);
  try {
    const res = await postJson('/v1/chat/completions', big, {}, r.url);
    assert.equal(res.status, 413);
    assert.match(res.json.error.message, /too large/);
  } finally { await r.stop(); }
});

test('--api-key: 401 without or with a wrong key, 200 with it; 503 when the queue is full', async () => {
  const s = await startServer(['--api-key', 'sesame', '--parallel', '1', '--queue', '1', '--cors', 'http://app.example']);
  try {
    // CORS: the preflight needs no key; answers carry the allowed origin.
    const preflight = await fetch(`${s.url}/v1/chat/completions`, { method: 'OPTIONS', headers: { origin: 'http://app.example', 'access-control-request-method': 'POST' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://app.example');
    assert.match(preflight.headers.get('access-control-allow-headers'), /Authorization/i);
    const h = await fetch(`${s.url}/health`);
    assert.equal(h.status, 200, '/health needs no key');
    assert.equal(h.headers.get('access-control-allow-origin'), 'http://app.example');
    const body = { model: MODEL, max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] };
    let r = await postJson('/v1/chat/completions', body, {}, s.url);
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, 'invalid_api_key');
    r = await postJson('/v1/chat/completions', body, { authorization: 'Bearer wrong' }, s.url);
    assert.equal(r.status, 401);
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'sesame', maxRetries: 0 });
    const ok = await client.chat.completions.create(body);
    assert.equal(typeof ok.choices[0].message.content, 'string');
    await assert.rejects(new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'nope', maxRetries: 0 }).models.list(), (e) => e.status === 401);

    // One slot, one queue place: of 8 long requests at once, some are refused.
    const long = { ...body, max_tokens: 400, temperature: 1, seed: 1, messages: [{ role: 'user', content: 'Tell a long story' }] };
    const results = await Promise.all(Array.from({ length: 8 }, () =>
      postJson('/v1/chat/completions', long, { authorization: 'Bearer sesame' }, s.url)));
    const statuses = results.map((x) => x.status);
    assert.ok(statuses.includes(503), `statuses: ${statuses}`);
    assert.ok(statuses.includes(200), `statuses: ${statuses}`);
    const busy = results.find((x) => x.status === 503);
    assert.equal(busy.json.error.code, 'queue_full');
  } finally { await s.stop(); }
});
