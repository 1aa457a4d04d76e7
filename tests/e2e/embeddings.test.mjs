// Embeddings through the official `openai` and `ollama` clients, from a
// second server holding the synthetic bert and nomic-bert models, checked
// against llama.cpp's llama-embedding (tests/data/reference/embeddings).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { URL_BASE, MODEL, SERVE_ARGS, postJson } from './helpers.mjs';

const data = join(dirname(fileURLToPath(import.meta.url)), '..', 'data');
const reference = JSON.parse(readFileSync(join(data, 'reference', 'embeddings', 'embeddings.json'), 'utf8'));
// Per component of a unit vector; see tests/data/reference/embeddings/README.md.
const TOLERANCE = reference.tolerance.max_abs;

async function startEmbeddingServer() {
  const models = ['synth-bert-F16', 'synth-nomic-bert-F16'].map((m) => join(data, 'models', `${m}.gguf`));
  const child = spawn(process.env.HEARTH_BIN, ['serve', ...models, '--port', '0', '--threads', '1', '--parallel', '1', '-q', ...SERVE_ARGS],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 30_000);
    child.stderr.on('data', (d) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${log}`)); });
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => { child.removeAllListeners('exit'); child.kill('SIGTERM'); } };
}

function assertClose(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: dimensions`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  assert.ok(worst <= TOLERANCE, `${what}: max |difference| ${worst} > ${TOLERANCE}`);
  const norm = Math.hypot(...actual);
  assert.ok(Math.abs(norm - 1) < 1e-5, `${what}: normalised (norm ${norm})`);
}

const normalized = reference.cases.filter((c) => c.normalize && c.pooling === c.model_pooling);

test('embeddings: openai and ollama clients match llama-embedding', async (t) => {
  const server = await startEmbeddingServer();
  t.after(server.stop);
  const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const ollama = new Ollama({ host: server.url });
  for (const model of [...new Set(normalized.map((c) => c.model))]) {
    const cases = normalized.filter((c) => c.model === model);
    const texts = cases.map((c) => c.text);
    // The client asks for base64 by default and decodes it; float too.
    for (const encoding_format of [undefined, 'float']) {
      const r = await openai.embeddings.create({ model, input: texts, encoding_format });
      assert.equal(r.object, 'list');
      assert.equal(r.data.length, texts.length);
      r.data.forEach((d, i) => {
        assert.equal(d.index, i);
        assertClose(d.embedding, cases[i].embedding, `openai ${encoding_format ?? 'base64'} ${model} "${texts[i]}"`);
      });
      assert.equal(r.usage.prompt_tokens, cases.reduce((n, c) => n + c.tokens.length, 0));
    }
    const e = await ollama.embed({ model, input: texts });
    assert.equal(e.embeddings.length, texts.length);
    e.embeddings.forEach((v, i) => assertClose(v, cases[i].embedding, `ollama embed ${model} "${texts[i]}"`));
    const single = await ollama.embed({ model, input: texts[0] });
    assertClose(single.embeddings[0], cases[0].embedding, `ollama embed (one string) ${model}`);
    const legacy = await ollama.embeddings({ model, prompt: texts[0] });
    assertClose(legacy.embedding, cases[0].embedding, `ollama embeddings ${model}`);
  }

  // A generation model is refused, and a chat to an embedding model too.
  const refused = await postJson('/v1/embeddings', { model: MODEL, input: 'x' });
  assert.equal(refused.status, 400);
  assert.match(refused.json.error.message, /not an embedding model/);
  const chat = await postJson('/v1/chat/completions', { model: 'synth-bert-F16', messages: [{ role: 'user', content: 'x' }] }, {}, server.url);
  assert.equal(chat.status, 400);
  assert.match(chat.json.error.message, /is an embedding model/);
  const long = await postJson('/v1/embeddings', { model: 'synth-bert-F16', input: 'the '.repeat(300) }, {}, server.url);
  assert.equal(long.status, 400);
  assert.equal(long.json.error.code, 'context_length_exceeded');
});
