// Ollama's API through the official `ollama` client.
import test from 'node:test';
import assert from 'node:assert/strict';
import Ajv from 'ajv';
import { Ollama } from 'ollama';
import { MODEL, URL_BASE } from './helpers.mjs';

const ollama = new Ollama({ host: URL_BASE });
const options = { temperature: 0, num_predict: 20 };

test('ollama: tags, show, ps, version and the root', async () => {
  const tags = await ollama.list();
  assert.ok(tags.models.some((m) => m.name === MODEL && m.details.format === 'gguf'));
  const show = await ollama.show({ model: MODEL });
  assert.equal(typeof show.template, 'string');
  assert.ok(show.capabilities.includes('completion'));
  assert.ok(Object.keys(show.model_info).includes('general.architecture'));
  const ps = await ollama.ps();
  assert.ok(ps.models.some((m) => m.name === MODEL));
  const version = await (await fetch(`${URL_BASE}/api/version`)).json();
  assert.match(version.version, /^\d+\.\d+\.\d+/);
  assert.equal(await (await fetch(`${URL_BASE}/`)).text(), 'Ollama is running');
});

test('ollama chat: the streamed message equals the non-streamed one', async () => {
  const messages = [{ role: 'user', content: 'Once upon a time' }];
  const full = await ollama.chat({ model: MODEL, messages, options, keep_alive: '5m', stream: false });
  assert.equal(full.done, true);
  assert.equal(full.message.role, 'assistant');
  assert.ok(['stop', 'length'].includes(full.done_reason));
  assert.ok(full.prompt_eval_count > 0);
  assert.ok(full.eval_count > 0 && full.eval_count <= 20);
  let text = '', last = null;
  for await (const part of await ollama.chat({ model: MODEL, messages, options, stream: true })) {
    text += part.message.content;
    last = part;
  }
  assert.equal(text, full.message.content);
  assert.equal(last.done, true);
  assert.equal(last.eval_count, full.eval_count);
});

test('ollama generate, streamed, agrees with the non-streamed answer', async () => {
  const full = await ollama.generate({ model: MODEL, prompt: 'The little bird', options, stream: false });
  let text = '', parts = 0;
  for await (const part of await ollama.generate({ model: MODEL, prompt: 'The little bird', options, stream: true })) {
    text += part.response;
    parts++;
  }
  assert.ok(parts >= 2);
  assert.equal(text, full.response);
  const raw = await ollama.generate({ model: MODEL, prompt: 'Once', raw: true, options: { temperature: 0, num_predict: 5 }, stream: false });
  assert.ok(raw.eval_count <= 5);
});

test('ollama format: a schema, and "json"', async () => {
  const schema = { type: 'object', properties: { color: { type: 'string', maxLength: 8 }, count: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['color', 'count'] };
  const r = await ollama.chat({ model: MODEL, messages: [{ role: 'user', content: 'Pick a color' }], format: schema, options: { temperature: 0, num_predict: 80 }, stream: false });
  assert.ok(new Ajv().validate(schema, JSON.parse(r.message.content)), r.message.content);
  const g = await ollama.generate({ model: MODEL, prompt: 'JSON', format: 'json', options: { temperature: 0, num_predict: 60 }, stream: false });
  const value = JSON.parse(g.response);
  assert.equal(typeof value, 'object');
});

test('ollama errors: unknown model is 404 with a message', async () => {
  await assert.rejects(ollama.chat({ model: 'missing-model', messages: [{ role: 'user', content: 'hi' }], stream: false }),
    (e) => e.status_code === 404 && /missing-model/.test(e.error));
});

test('ollama: images on a text-only model are refused with 400', async () => {
  await assert.rejects(ollama.chat({ model: MODEL, stream: false, messages: [{ role: 'user', content: 'what is this?', images: ['iVBORw0KGgo='] }] }),
    (e) => e.status_code === 400 && /does not support images/.test(e.error));
});
