// Several conversations at once: every stream equals its sequential greedy
// result (batch invariance), and a client that goes away frees its slot.
import test from 'node:test';
import assert from 'node:assert/strict';
import { openai, MODEL, URL_BASE, greedy, health, busyTokens } from './helpers.mjs';

const prompts = Array.from({ length: 16 }, (_, i) => `Story number ${i}: once there was a ${['cat', 'dog', 'bird', 'fox'][i % 4]} named ${'ABCDEFGHIJKLMNOP'[i]}`);

test('16 concurrent streams each equal their sequential greedy result', async () => {
  const sequential = [];
  for (const p of prompts) sequential.push(await greedy(p, 20));
  const streamed = await Promise.all(prompts.map(async (p) => {
    const stream = await openai.chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: p }], temperature: 0, max_tokens: 20, stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    return text;
  }));
  for (let i = 0; i < prompts.length; i++) assert.equal(streamed[i], sequential[i], `stream ${i}`);
});

test('a client abort frees the slot', async () => {
  // A schema that cannot end before ~1000 tokens keeps the request busy.
  const schema = { type: 'object', properties: { n: { type: 'array', items: { type: 'integer' }, minItems: 1000 } }, required: ['n'] };
  const controller = new AbortController();
  const stream = await openai.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'Count' }], temperature: 0, max_tokens: 1800, stream: true,
    response_format: { type: 'json_schema', json_schema: { name: 'long', schema } },
  }, { signal: controller.signal });
  let chunks = 0, runningBefore = -1;
  try {
    for await (const _ of stream) {
      if (++chunks === 3) {
        runningBefore = (await health()).models[0].running;
        controller.abort();
      }
    }
  } catch { /* the abort */ }
  assert.equal(runningBefore, 1, 'the request was running when the client left');
  const deadline = Date.now() + 5000;
  let h;
  do {
    h = await health();
    if (h.models[0].running === 0 && h.models[0].waiting === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  } while (Date.now() < deadline);
  assert.equal(h.models[0].running, 0, 'the aborted request still holds a slot');
  // And the server still answers.
  assert.equal(typeof (await greedy('Hello', 4)), 'string');
});

test('a client that leaves while a tool call is being built frees the slot', async () => {
  const tool = { type: 'function', function: { name: 'record', parameters: { type: 'object', properties: { n: { type: 'array', items: { type: 'integer' }, minItems: 1000 } }, required: ['n'] } } };
  const controller = new AbortController();
  const stream = await openai.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'Record numbers' }], temperature: 0, max_tokens: 1800, stream: true,
    tools: [tool], tool_choice: { type: 'function', function: { name: 'record' } },
  }, { signal: controller.signal });
  const reading = (async () => { try { for await (const _ of stream) { /* the call arrives only at the end */ } } catch { /* aborted */ } })();
  let running = 0;
  for (let i = 0; i < 100 && running === 0; i++) {
    running = (await health()).models[0].running;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(running, 1, 'the tool call was being generated');
  controller.abort();
  await reading;
  const deadline = Date.now() + 400;  // the whole call would take seconds more
  let h;
  do {
    h = await health();
    if (h.models[0].running === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  } while (Date.now() < deadline);
  assert.equal(h.models[0].running, 0, 'the abandoned tool call still holds a slot');
});

// A request answered in one piece: the server notices the closed connection
// while it waits for the generation. Measured against how long the whole
// request takes, so the test fails if the slot is only freed at the end.
for (const api of ['openai', 'ollama']) {
  test(`a client that leaves a non-streamed ${api} request frees the slot`, async () => {
    const schema = { type: 'object', properties: { n: { type: 'array', items: { type: 'integer' }, minItems: 1000 } }, required: ['n'] };
    const request = (signal) => api === 'openai'
      ? fetch(`${URL_BASE}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, signal,
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Count' }], temperature: 0, max_tokens: busyTokens(1800),
          response_format: { type: 'json_schema', json_schema: { name: 'long', schema } } }),
      })
      : fetch(`${URL_BASE}/api/chat`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, signal,
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Count' }], stream: false, format: schema,
          options: { temperature: 0, num_predict: busyTokens(1800) } }),
      });
    const started = Date.now();
    await (await request(undefined)).text();
    const whole = Date.now() - started;

    const controller = new AbortController();
    const pending = request(controller.signal).catch(() => null);
    let running = 0;
    for (let i = 0; i < 200 && running === 0; i++) {
      running = (await health()).models[0].running;
      if (running === 0) await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(running, 1, 'the request was running');
    const aborted = Date.now();
    controller.abort();
    await pending;
    let h;
    do {
      h = await health();
      if (h.models[0].running === 0) break;
      await new Promise((r) => setTimeout(r, 10));
    } while (Date.now() - aborted < whole);
    const freed = Date.now() - aborted;
    assert.equal(h.models[0].running, 0, 'the abandoned request still holds a slot');
    assert.ok(freed < Math.max(400, whole / 2), `freed after ${freed} ms; the whole request takes ${whole} ms`);
  });
}
