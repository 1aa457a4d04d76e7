// Images through `hearth serve MODEL --mmproj FILE`: the openai client with a
// data URL and the ollama client with `images` get llama.cpp's greedy
// continuation (tests/data/vision/reference), a second turn about the same
// image reuses its cached tokens, and bad images are 400s. Runs once (with
// the bundled model's pass), on tests/data/models/tiny-gemma3-vision-lm.gguf
// with mmproj-tinygemma3.gguf.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { SERVE_ARGS } from './helpers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const data = join(repo, 'tests', 'data', 'vision');
const fixtures = [join(repo, '..', 'shared', 'fixtures', 'models'), join(repo, 'tests', 'data', 'models')];
const find = (name) => fixtures.map((d) => join(d, name)).find((p) => existsSync(p));
const lm = find('tiny-gemma3-vision-lm.gguf');
const mmproj = find('mmproj-tinygemma3.gguf');
const once = process.env.HEARTH_MODEL === 'stories260K';
const haveRefs = existsSync(join(data, 'reference', 'wide-photo.json'));
const skip = !once ? 'runs with the first model only' : (!lm || !mmproj) ? 'tests/data/models/tiny-gemma3-vision-lm.gguf not found' : false;
const skipRefs = skip || (haveRefs ? false : "llama.cpp's references are not generated yet (tests/data/vision/make_refs.sh)");

async function start(flags) {
  const child = spawn(process.env.HEARTH_BIN,
    ['serve', lm, '--mmproj', mmproj, '--port', '0', '--threads', '1', '--parallel', '2', '--ctx', '2048', '-q', ...SERVE_ARGS, ...flags],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 60_000);
    child.stderr.on('data', (d) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${log}`)); });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => { child.removeAllListeners('exit'); child.on('exit', resolve); child.kill('SIGTERM'); }),
  };
}

const cases = JSON.parse(readFileSync(join(data, 'reference', 'prompts.json'), 'utf8')).cases;
const reference = (c) => JSON.parse(readFileSync(join(data, 'reference', `${c.name}.json`), 'utf8'));
const imageBase64 = (c) => readFileSync(join(data, 'images', c.image)).toString('base64');
const id = 'tiny-gemma3-vision-lm';

// llama.cpp's greedy text, up to the first step that is a near-tie (F32/F16 margin 0.044).
function expectedPrefix(ref) {
  let n = ref.generated.length;
  for (let i = 0; i < ref.top2_margin.length - 1; ++i) if (ref.top2_margin[i] <= 0.044) { n = i; break; }
  return n;
}

const chatImage = (client, c, b64, max_tokens, extra = {}) => client.chat.completions.create({
  model: id, temperature: 0, max_tokens, ...extra,
  messages: [{ role: 'user', content: [
    { type: 'image_url', image_url: { url: `data:image/png;base64,${b64}` } },
    { type: 'text', text: c.prompt }] }],
});

// hearth run --image's greedy tokens, as text (the server must agree with it).
function runText(c, n) {
  const r = spawnSync(process.env.HEARTH_BIN, ['run', lm, '--mmproj', mmproj, '--image', join(data, 'images', c.image),
    '-p', c.prompt, '-n', String(n), '--temp', '0', '--threads', '1', '--json', ...SERVE_ARGS], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).text;
}

test('vision: openai data URL, ollama images and hearth run agree; a second turn reuses the image; bad images are 400', { skip, timeout: 240_000 }, async () => {
  const server = await start([]);
  try {
    const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120_000 });
    const ollama = new Ollama({ host: server.url });
    for (const c of cases) {
      const b64 = imageBase64(c);
      const r = await chatImage(openai, c, b64, 8);
      const text = r.choices[0].message.content;
      assert.ok(r.usage.prompt_tokens > 256, `${c.name}: ${r.usage.prompt_tokens} prompt tokens (the image alone is 256)`);
      assert.equal(text, runText(c, 8), `${c.name}: the server and hearth run --image`);
      const o = await ollama.chat({ model: id, stream: false, options: { temperature: 0, num_predict: 8 },
        messages: [{ role: 'user', content: c.prompt, images: [b64] }] });
      assert.equal(o.message.content, text, `${c.name}: ollama and openai`);

      // A second turn about the same image: its tokens come from the prefix cache.
      const second = await openai.chat.completions.create({
        model: id, temperature: 0, max_tokens: 4,
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${b64}` } }, { type: 'text', text: c.prompt }] },
          { role: 'assistant', content: text },
          { role: 'user', content: 'and then?' }],
      });
      const cached = second.usage.prompt_tokens_details.cached_tokens;
      assert.ok(cached >= r.usage.prompt_tokens - 16, `${c.name}: second turn reused ${cached} of the first turn's ${r.usage.prompt_tokens} tokens`);
    }
    // Capabilities.
    const show = await (await fetch(`${server.url}/api/show`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: id }) })).json();
    assert.ok(show.capabilities.includes('vision'), JSON.stringify(show.capabilities));
    const models = await (await fetch(`${server.url}/v1/models`)).json();
    assert.ok(models.data[0].capabilities.includes('vision'));
    // Bad images: 400 naming the problem and the part.
    const post = (content) => fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: id, messages: [{ role: 'user', content }] }) });
    const bad = await post([{ type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==' } }, { type: 'text', text: 'hi' }]);
    assert.equal(bad.status, 400);
    const badBody = await bad.json();
    assert.match(badBody.error.message, /corrupt or truncated/);
    assert.equal(badBody.error.param, 'messages[0].content[0]');
    const remote = await post([{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }, { type: 'text', text: 'hi' }]);
    assert.equal(remote.status, 400);
    assert.match((await remote.json()).error.message, /does not fetch remote images/);
    const file = await post([{ type: 'image_url', image_url: { url: `file://${join(data, 'images', 'square32.png')}` } }, { type: 'text', text: 'hi' }]);
    assert.equal(file.status, 400);
    assert.match((await file.json()).error.message, /--allow-file-urls/);
    await assert.rejects(ollama.chat({ model: id, stream: false, messages: [{ role: 'user', content: 'hi', images: ['bm90IGFuIGltYWdl'] }] }),
      (e) => e.status_code === 400 && /not an image/.test(e.error));
  } finally {
    await server.stop();
  }
});

test('vision: the server gives llama.cpp greedy continuation after an image', { skip: skipRefs, timeout: 240_000 }, async () => {
  const server = await start([]);
  try {
    const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120_000 });
    for (const c of cases) {
      const ref = reference(c);
      const r = await chatImage(openai, c, imageBase64(c), ref.generated.length, { logprobs: true });
      assert.equal(r.usage.prompt_tokens, ref.n_past, `${c.name}: llama.cpp's prompt has ${ref.n_past} positions`);
      // Identical up to the first near-tie (F32/F16 margin 0.044), where the comparison ends. The
      // tokens are compared as bytes (each token's logprobs entry): the random model's pieces
      // are not whole UTF-8 characters.
      if (expectedPrefix(ref) === ref.generated.length)
        assert.deepEqual(r.choices[0].logprobs.content.flatMap((t) => t.bytes), ref.generated_bytes, c.name);
    }
  } finally {
    await server.stop();
  }
});

test('vision: --allow-file-urls reads a local image like its data URL', { skip, timeout: 120_000 }, async () => {
  const server = await start(['--allow-file-urls']);
  try {
    const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120_000 });
    const c = cases[0];
    const ask = (url) => openai.chat.completions.create({ model: id, temperature: 0, max_tokens: 6,
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }, { type: 'text', text: c.prompt }] }] });
    const fromFile = await ask(`file://${join(data, 'images', c.image)}`);
    const fromData = await ask(`data:image/png;base64,${imageBase64(c)}`);
    assert.equal(fromFile.choices[0].message.content, fromData.choices[0].message.content);
  } finally {
    await server.stop();
  }
});
