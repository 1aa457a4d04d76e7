// Anthropic's Messages API through the official @anthropic-ai/sdk client:
// messages.create and .stream, system and multi-turn, tool_use with
// tool_choice forced and a tool_result round trip, count_tokens, errors.
import test from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import Ajv from 'ajv';
import { MODEL, URL_BASE, postJson } from './helpers.mjs';

const ajv = new Ajv();
const anthropic = new Anthropic({ baseURL: URL_BASE, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });

const weatherTool = {
  name: 'get_weather',
  description: 'Current weather in a city',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string', maxLength: 12 }, unit: { type: 'string', enum: ['c', 'f'] } },
    required: ['city', 'unit'],
  },
};
const timeTool = {
  name: 'get_time',
  input_schema: { type: 'object', properties: { zone: { type: 'integer', minimum: -12, maximum: 14 } }, required: ['zone'] },
};

test('anthropic: messages.create answers a system + multi-turn conversation', async () => {
  const msg = await anthropic.messages.create({
    model: MODEL, max_tokens: 16, temperature: 0, system: 'You tell stories.',
    messages: [
      { role: 'user', content: 'Once upon a time' },
      { role: 'assistant', content: [{ type: 'text', text: 'there was a cat.' }] },
      { role: 'user', content: [{ type: 'text', text: 'What happened next?' }] },
    ],
  });
  assert.equal(msg.type, 'message');
  assert.equal(msg.role, 'assistant');
  assert.match(msg.id, /^msg_/);
  assert.equal(msg.model, MODEL);
  assert.ok(['end_turn', 'max_tokens'].includes(msg.stop_reason));
  assert.equal(msg.content[0].type, 'text');
  assert.ok(msg.usage.input_tokens + msg.usage.cache_read_input_tokens > 0);
  assert.ok(msg.usage.output_tokens > 0 && msg.usage.output_tokens <= 16);
});

test('anthropic: .stream() gives events in order and the same text as create', async () => {
  const params = { model: MODEL, max_tokens: 20, temperature: 0, messages: [{ role: 'user', content: 'Tell me about a dog' }] };
  const full = await anthropic.messages.create(params);
  const stream = anthropic.messages.stream(params);
  const types = [];
  let text = '';
  stream.on('text', (t) => { text += t; });
  for await (const event of stream) types.push(event.type);
  const final = await stream.finalMessage();
  assert.equal(text, full.content[0].text);
  assert.equal(final.content[0].text, full.content[0].text);
  assert.equal(final.stop_reason, full.stop_reason);
  assert.equal(final.usage.output_tokens, full.usage.output_tokens);
  assert.equal(types[0], 'message_start');
  assert.equal(types[1], 'content_block_start');
  assert.ok(types.includes('content_block_delta'));
  assert.deepEqual(types.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
});

test('anthropic: the raw stream names every event and pings after the first block starts', async () => {
  const res = await fetch(`${URL_BASE}/v1/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, max_tokens: 8, temperature: 0, stream: true, messages: [{ role: 'user', content: 'Hi' }] }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/event-stream/);
  const events = (await res.text()).split('\n').filter((l) => l.startsWith('event: ')).map((l) => l.slice(7));
  assert.deepEqual(events.slice(0, 3), ['message_start', 'content_block_start', 'ping']);
  assert.deepEqual(events.slice(-2), ['message_delta', 'message_stop']);
});

test('anthropic: forced tool_use, then a tool_result round trip', async () => {
  const question = { role: 'user', content: 'What is the weather in Paris?' };
  const msg = await anthropic.messages.create({
    model: MODEL, max_tokens: 120, temperature: 0, messages: [question],
    tools: [weatherTool, timeTool], tool_choice: { type: 'tool', name: 'get_weather' },
  });
  assert.equal(msg.stop_reason, 'tool_use');
  const use = msg.content.find((b) => b.type === 'tool_use');
  assert.ok(use, JSON.stringify(msg.content));
  assert.equal(use.name, 'get_weather');
  assert.match(use.id, /^toolu_/);
  assert.ok(ajv.validate(weatherTool.input_schema, use.input), JSON.stringify(ajv.errors));

  const next = await anthropic.messages.create({
    model: MODEL, max_tokens: 12, temperature: 0, tools: [weatherTool, timeTool],
    messages: [
      question,
      { role: 'assistant', content: msg.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18 C, sunny' }, { type: 'text', text: 'Thanks' }] },
    ],
  });
  assert.ok(['end_turn', 'max_tokens', 'tool_use'].includes(next.stop_reason));
  assert.ok(next.usage.output_tokens > 0);
});

test('anthropic: tool_choice any, streamed, accumulates the input JSON', async () => {
  const stream = anthropic.messages.stream({
    model: MODEL, max_tokens: 120, temperature: 0, messages: [{ role: 'user', content: 'Help me.' }],
    tools: [weatherTool, timeTool], tool_choice: { type: 'any' },
  });
  const final = await stream.finalMessage();
  assert.equal(final.stop_reason, 'tool_use');
  const use = final.content.find((b) => b.type === 'tool_use');
  assert.ok(use);
  const schema = [weatherTool, timeTool].find((t) => t.name === use.name).input_schema;
  assert.ok(ajv.validate(schema, use.input), JSON.stringify(ajv.errors));
});

test('anthropic: count_tokens counts what create is charged for', async () => {
  const params = { model: MODEL, system: 'Be brief.', messages: [{ role: 'user', content: 'Name three colours' }] };
  const counted = await anthropic.messages.countTokens(params);
  assert.ok(counted.input_tokens > 0);
  const msg = await anthropic.messages.create({ ...params, max_tokens: 1, temperature: 0 });
  assert.equal(msg.usage.input_tokens + msg.usage.cache_read_input_tokens, counted.input_tokens);
  const longer = await anthropic.messages.countTokens({ ...params, messages: [{ role: 'user', content: 'Name three colours and three animals' }] });
  assert.ok(longer.input_tokens > counted.input_tokens);
});

test('anthropic: errors are Anthropic error objects the client raises', async () => {
  await assert.rejects(
    anthropic.messages.create({ model: 'no-such-model', max_tokens: 4, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.NotFoundError && e.error?.error?.type === 'not_found_error');
  await assert.rejects(
    anthropic.messages.create({ model: MODEL, max_tokens: 4, messages: [{ role: 'system', content: 'x' }] }),
    (e) => e instanceof Anthropic.BadRequestError && /role/.test(e.message));
  const r = await postJson('/v1/messages', { model: MODEL, messages: [{ role: 'user', content: 'x' }] });
  assert.equal(r.status, 400);
  assert.equal(r.json.type, 'error');
  assert.equal(r.json.error.type, 'invalid_request_error');
  assert.match(r.json.error.message, /max_tokens/);
});

test('anthropic: an image block reaches the image path (a text-only model refuses it)', async () => {
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
  const r = await postJson('/v1/messages', {
    model: MODEL, max_tokens: 4,
    messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } }, { type: 'text', text: 'What is this?' }] }],
  });
  assert.equal(r.status, 400);
  assert.equal(r.json.type, 'error');
  assert.match(r.json.error.message, /image/);
});
