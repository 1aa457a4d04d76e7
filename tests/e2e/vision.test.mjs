// Images through `hearth serve MODEL --mmproj FILE`: the openai client with a
// data URL and the ollama client with `images` get llama.cpp's greedy
// continuation (tests/data/vision/reference), a second turn about the same
// image reuses its cached tokens, and bad images are 400s. Runs once (with
// the bundled model's pass), on tests/data/models/tiny-gemma3-vision-lm.gguf
// with mmproj-tinygemma3.gguf.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { Ollama } from 'ollama';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const data = join(repo, 'tests', 'data', 'vision');
const fixtures = [join(repo, '..', 'shared', 'fixtures', 'models'), join(repo, 'tests', 'data', 'models')];
const find = (name) => fixtures.map((d) => join(d, name)).find((p) => existsSync(p));
const lm = find('tiny-gemma3-vision-lm.gguf');
const mmproj = find('mmproj-tinygemma3.gguf');
const once = process.env.HEARTH_MODEL === 'stories260K';
const skip = !once ? 'runs with the first model only' : (!lm || !mmproj) ? 'tests/data/models/tiny-gemma3-vision-lm.gguf not found' : false;

async function start(flags) {
  const child = spawn(process.env.HEARTH_BIN,
    ['serve', lm, '--mmproj', mmproj, '--port', '0', '--threads', '1', '--parallel', '2', '--ctx', '2048', '-q', ...flags],
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

test('vision: openai data URL and ollama images give llama.cpp greedy continuation; second turn is cached', { skip, timeout: 240_000 }, async () => {
  const server = await start([]);
  try {
    const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120_000 });
    const ollama = new Ollama({ host: server.url });
    for (const c of cases) {
      const ref = reference(c);
      const b64 = imageBase64(c);
      const n = ref.generated.length;
      const r = await openai.chat.completions.create({
        model: id, temperature: 0, max_tokens: n,
        messages: [{ role: 'user', content: [
          { type: 'image_url', image_url: { url: `data:image/png;base64,${b64}` } },
          { type: 'text', text: c.prompt }] }],
      });
      const text = r.choices[0].message.content;
      const exact = expectedPrefix(ref) === ref.generated.length;
      if (exact) assert.equal(text, ref.generated_text, `${c.name}: openai`);
      assert.ok(r.usage.prompt_tokens >= ref.n_past, `${c.name}: ${r.usage.prompt_tokens} prompt tokens`);

      const o = await ollama.chat({ model: id, stream: false, options: { temperature: 0, num_predict: n },
        messages: [{ role: 'user', content: c.prompt, images: [b64] }] });
      if (exact) assert.equal(o.message.content, ref.generated_text, `${c.name}: ollama`);
      assert.equal(o.message.content, text, `${c.name}: ollama and openai agree`);

      // A second turn about the same image: the image's tokens come from the prefix cache.
      const second = await openai.chat.completions.create({
        model: id, temperature: 0, max_tokens: 4,
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${b64}` } }, { type: 'text', text: c.prompt }] },
          { role: 'assistant', content: text },
          { role: 'user', content: 'and then?' }],
      });
      const cached = second.usage.prompt_tokens_details.cached_tokens;
      assert.ok(cached >= 256, `${c.name}: second turn reused ${cached} tokens (the image alone is 256)`);
    }
    // Capabilities.
    const show = await (await fetch(`${server.url}/api/show`, { method: 'POST', body: JSON.stringify({ model: id }) })).json();
    assert.ok(show.capabilities.includes('vision'), JSON.stringify(show.capabilities));
    const models = await (await fetch(`${server.url}/v1/models`)).json();
    assert.ok(models.data[0].capabilities.includes('vision'));
    // Bad images: 400 naming the problem.
    const bad = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: id, messages: [{ role: 'user', content: [
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==' } }, { type: 'text', text: 'hi' }] }] }) });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error.message, /corrupt or truncated/);
    const remote = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: id, messages: [{ role: 'user', content: [
        { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }, { type: 'text', text: 'hi' }] }] }) });
    assert.equal(remote.status, 400);
    assert.match((await remote.json()).error.message, /does not fetch remote images/);
    const file = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: id, messages: [{ role: 'user', content: [
        { type: 'image_url', image_url: { url: `file://${join(data, 'images', 'square32.png')}` } }, { type: 'text', text: 'hi' }] }] }) });
    assert.equal(file.status, 400);
    assert.match((await file.json()).error.message, /--allow-file-urls/);
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
