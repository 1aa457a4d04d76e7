// Several models in one server: `hearth serve` with no model serves a store
// (a temporary HEARTH_HOME holding three fixture models by reference), loads
// each on first use, unloads the least recently used idle one under
// --max-memory (computed from `hearth plan` numbers), follows Ollama's
// keep_alive, never reloads for sampling options, runs two models at once,
// refuses a model larger than the budget with both sizes, and pulls, copies
// and deletes through Ollama's API against a local stand-in for the hub.
// These servers are the test's own, so it runs once (in the stories260K pass).
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { MODEL, SERVE_ARGS, ON_DEVICE, DEVICE, busyTokens } from './helpers.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const VISION = {
  lm: path.join(root, 'tests/data/models/tiny-gemma3-vision-lm.gguf'),
  mmproj: path.join(root, 'tests/data/models/mmproj-tinygemma3.gguf'),
  image: path.join(root, 'tests/data/vision/images/wide48x20.png'),
};
const FIXTURES = {
  stories: path.join(root, 'models/stories260K.gguf'),
  qwen: path.join(root, 'tests/data/models/synth-qwen2-Q4_K_M.gguf'),
  llama: path.join(root, 'tests/data/models/llama-2-tiny-random.gguf'),
};
const ENGINE = ['--ctx', '1024', '--parallel', '2', '--threads', '1'];
const once = MODEL === 'stories260K' ? false : 'the multi-model servers are started once, in the stories260K pass';

function hearth(home, args, env = {}) {
  return execFileSync(process.env.HEARTH_BIN, args, { env: { ...process.env, HEARTH_HOME: home, ...env }, encoding: 'utf8' });
}

// A store with the three fixtures imported by reference.
function makeStore() {
  const home = mkdtempSync(path.join(tmpdir(), 'hearth-multi-'));
  for (const [name, file] of Object.entries(FIXTURES)) hearth(home, ['import', file, '--name', name]);
  return home;
}

// What `hearth plan` says each model takes with the server's settings (or
// another context per conversation).
// On a device (run.sh --lavapipe: every model fully offloaded) the budgets
// are the device's: what `hearth plan --devices` plans for it, held against
// --max-device-memory, shown as /api/ps's size_vram.
function planned(home, name, ctx = null) {
  const engine = ctx ? ENGINE.map((a, i) => (ENGINE[i - 1] === '--ctx' ? String(ctx) : a)) : ENGINE;
  return JSON.parse(hearth(home, ['plan', name, ...engine, ...(ON_DEVICE ? ['--devices', DEVICE] : []), '--json'])).total;
}
const BUDGET = ON_DEVICE ? '--max-device-memory' : '--max-memory';
const PLANNED_METRIC = ON_DEVICE ? 'hearth_model_planned_device_bytes' : 'hearth_model_planned_bytes';
const plannedSize = (ps) => (ON_DEVICE ? ps.size_vram : ps.size);

async function serve(home, flags = [], env = {}) {
  const child = spawn(process.env.HEARTH_BIN, ['serve', '--port', '0', ...ENGINE, ...SERVE_ARGS, ...flags],
    { env: { ...process.env, HEARTH_HOME: home, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
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
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    log: () => log,
    ollama: new Ollama({ host: url }),
    openai: new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60_000 }),
    // SIGTERM; the clients' idle keep-alive connections would hold the
    // server's threads for seconds, so SIGKILL after one.
    stop: () => new Promise((resolve) => {
      child.removeAllListeners('exit');
      const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
      child.on('exit', () => { clearTimeout(timer); resolve(); });
      child.kill('SIGTERM');
    }),
  };
}

async function loadCounts(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const counts = {};
  for (const m of text.matchAll(/^hearth_model_loads_total\{model="([^"]+)"\} (\d+)$/gm)) counts[m[1]] = Number(m[2]);
  return counts;
}

async function loadedNames(server) {
  return (await server.ollama.ps()).models.map((m) => m.name).sort();
}

// Polls until the loaded models are `names` (unloads happen as requests end).
async function waitLoaded(server, names, ms = 5000) {
  const want = [...names].sort();
  const until = Date.now() + ms;
  let got;
  do {
    got = await loadedNames(server);
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    await new Promise((r) => setTimeout(r, 50));
  } while (Date.now() < until);
  assert.deepEqual(got, want);
}

const gen = (server, model, extra = {}) => server.ollama.generate({
  model, prompt: 'Once upon a time', raw: true, stream: false, ...extra,
  options: { temperature: 0, num_predict: 4, ...(extra.options ?? {}) },
});

test('three models from the store served at once, each loaded on first use', { skip: once }, async () => {
  const home = makeStore();
  const server = await serve(home);
  try {
    assert.deepEqual(await loadedNames(server), []);  // nothing loads before a request names it
    const tags = await server.ollama.list();
    assert.deepEqual(tags.models.map((m) => m.name).sort(), ['llama', 'qwen', 'stories']);
    assert.ok(tags.models.every((m) => m.details.format === 'gguf' && m.size > 0 && m.digest.length === 64));
    const r1 = await gen(server, 'stories');
    assert.ok(r1.eval_count > 0 && r1.load_duration > 0);
    const r2 = await server.ollama.chat({ model: 'qwen', messages: [{ role: 'user', content: 'hi' }], stream: false, options: { num_predict: 4 } });
    assert.equal(r2.done, true);
    const r3 = await server.openai.completions.create({ model: 'llama', prompt: 'Once', max_tokens: 4, temperature: 0 });
    assert.ok(r3.usage.completion_tokens > 0);
    const ps = await server.ollama.ps();
    assert.deepEqual(ps.models.map((m) => m.name).sort(), ['llama', 'qwen', 'stories']);
    for (const m of ps.models) {
      assert.equal(plannedSize(m), planned(home, m.name), `${m.name}: /api/ps size${ON_DEVICE ? '_vram' : ''} is the plan's total`);
      if (ON_DEVICE) assert.ok(m.size > m.size_vram, `${m.name}: the host keeps a little (the header)`);
      else assert.equal(m.size_vram, 0);
      assert.ok(new Date(m.expires_at).getTime() > Date.now() + 4 * 60_000, 'default keep_alive 5m');
    }
    const models = await server.openai.models.list();
    assert.deepEqual(models.data.map((m) => m.id).sort(), ['llama', 'qwen', 'stories']);
    const show = await server.ollama.show({ model: 'llama' });
    assert.equal(show.model_info['general.architecture'], 'llama');
    assert.deepEqual(await loadCounts(server.url), { llama: 1, qwen: 1, stories: 1 });
  } finally {
    await server.stop();
    rmSync(home, { recursive: true, force: true });
  }
});

test('LRU: under a budget for two models the least recently used idle one leaves', { skip: once }, async () => {
  const home = makeStore();
  const sizes = Object.fromEntries(Object.keys(FIXTURES).map((n) => [n, planned(home, n)]));
  const [a, b, c] = Object.keys(sizes).sort((x, y) => sizes[x] - sizes[y]);  // smallest first
  const budget = sizes[b] + sizes[c];  // any two fit, all three do not
  assert.ok(sizes[a] + budget > budget);
  const server = await serve(home, [BUDGET, String(budget)]);
  try {
    await gen(server, b);
    await gen(server, c);
    await gen(server, b);  // c is now the least recently used
    await gen(server, a);  // a needs room: c leaves (what is left, c bytes, holds a)
    await waitLoaded(server, [a, b]);
    assert.deepEqual(await loadCounts(server.url), { [a]: 1, [b]: 1, [c]: 1 });
    await gen(server, c);  // back: b (used before a) leaves, which makes room for c
    await waitLoaded(server, [a, c]);
    assert.deepEqual(await loadCounts(server.url), { [a]: 1, [b]: 1, [c]: 2 });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const planned_sum = [...metrics.matchAll(new RegExp(`^${PLANNED_METRIC}\\{model="[^"]+"\\} (\\d+)$`, 'gm'))].reduce((x, m) => x + Number(m[1]), 0);
    assert.equal(planned_sum, sizes[a] + sizes[c]);
    assert.ok(planned_sum <= budget);
  } finally {
    await server.stop();
    rmSync(home, { recursive: true, force: true });
  }
});

test('a model larger than the whole budget gets a 4xx naming both sizes', { skip: once }, async () => {
  const home = makeStore();
  const need = planned(home, 'llama');
  const server = await serve(home, [BUDGET, String(need - 1)]);
  try {
    await assert.rejects(gen(server, 'llama'), (e) => e.status_code === 400 && e.error.includes(`${need} bytes`) &&
      e.error.includes(`${need - 1} bytes`) && e.error.includes(BUDGET));
    const r = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(r.status, 400);
    const body = await r.json();
    assert.equal(body.error.code, 'model_too_large');
    assert.match(body.error.message, new RegExp(`${need} bytes`));
    assert.deepEqual(await loadedNames(server), []);
  } finally {
    await server.stop();
    rmSync(home, { recursive: true, force: true });
  }
});

test('keep_alive: 0 unloads after the request, -1 keeps, durations set expires_at, an empty prompt loads or unloads', { skip: once }, async () => {
  const home = makeStore();
  const server = await serve(home);
  try {
    await gen(server, 'stories', { keep_alive: 0 });
    await waitLoaded(server, []);
    await gen(server, 'qwen', { keep_alive: -1 });
    let ps = (await server.ollama.ps()).models;
    assert.ok(new Date(ps[0].expires_at).getUTCFullYear() > 2100, ps[0].expires_at);
    const before = Date.now();
    await server.ollama.chat({ model: 'qwen', messages: [{ role: 'user', content: 'hi' }], keep_alive: '10m', stream: false, options: { num_predict: 2 } });
    ps = (await server.ollama.ps()).models;
    const expires = new Date(ps[0].expires_at).getTime();
    assert.ok(Math.abs(expires - (before + 600_000)) < 5_000, ps[0].expires_at);
    // Ollama's load and unload requests: an empty prompt.
    const load = await server.ollama.generate({ model: 'llama', prompt: '', keep_alive: '1h', stream: false });
    assert.equal(load.done_reason, 'load');
    await waitLoaded(server, ['llama', 'qwen']);
    const unload = await server.ollama.generate({ model: 'llama', prompt: '', keep_alive: 0, stream: false });
    assert.equal(unload.done_reason, 'unload');
    await waitLoaded(server, ['qwen']);
    // A short keep_alive runs out on its own.
    await gen(server, 'stories', { keep_alive: '1s' });
    await waitLoaded(server, ['qwen', 'stories']);
    await waitLoaded(server, ['qwen'], 4000);
    await assert.rejects(gen(server, 'stories', { keep_alive: 'soon' }), (e) => e.status_code === 400 && /keep_alive/.test(e.error));
  } finally {
    await server.stop();
    rmSync(home, { recursive: true, force: true });
  }
});

test('changing only sampling options (or asking for a smaller context) never reloads', { skip: once }, async () => {
  const home = makeStore();
  const server = await serve(home);
  try {
    await gen(server, 'stories');
    await gen(server, 'stories', { options: { temperature: 0.9, top_k: 5, top_p: 0.5, seed: 7, repeat_penalty: 1.2 } });
    await gen(server, 'stories', { options: { min_p: 0.1, num_ctx: 256, num_predict: 2 } });
    await server.openai.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'hi' }], temperature: 1.3, top_p: 0.8, max_tokens: 3 });
    assert.deepEqual(await loadCounts(server.url), { stories: 1 });
  } finally {
    await server.stop();
    rmSync(home, { recursive: true, force: true });
  }
});

test('a larger num_ctx reloads the model with it (a smaller one never does); one past the budget is a 4xx with the sizes', { skip: once }, async () => {
  const home = makeStore();
  const at = (ctx) => planned(home, 'stories', ctx);
  const budget = at(4096);  // 2048 fits, 8192 does not
  assert.ok(at(8192) > budget && at(2048) < budget);
  const server = await serve(home, [BUDGET, String(budget)]);
  const context = async () => (await server.ollama.ps()).models.find((m) => m.name === 'stories');
  try {
    await gen(server, 'stories');
    assert.equal((await context()).context_length, 1024);  // the server's --ctx
    assert.equal(plannedSize(await context()), at(1024));
    // Larger: reloaded with it, counted as a load, sized by the new plan.
    const r = await gen(server, 'stories', { options: { num_ctx: 2048 } });
    assert.ok(r.eval_count > 0 && r.load_duration > 0);
    assert.deepEqual(await loadCounts(server.url), { stories: 2 });
    let ps = await context();
    assert.equal(ps.context_length, 2048);
    assert.equal(plannedSize(ps), at(2048));
    // Smaller, equal or none: the loaded context serves them as it is.
    await gen(server, 'stories', { options: { num_ctx: 512 } });
    await gen(server, 'stories', { options: { num_ctx: 2048 } });
    await server.ollama.chat({ model: 'stories', messages: [{ role: 'user', content: 'hi' }], stream: false, options: { num_predict: 2 } });
    assert.deepEqual(await loadCounts(server.url), { stories: 2 });
    assert.equal((await context()).context_length, 2048);
    // A reload waits for the requests running on the smaller context, which end normally.
    let chunks = 0;
    let started;
    const firstChunk = new Promise((r) => { started = r; });
    const long = (async () => {
      let last;
      for await (const part of await server.ollama.generate({ model: 'stories', prompt: 'Once upon a time', raw: true, stream: true, options: { temperature: 0, num_predict: 300 } })) {
        if (++chunks === 1) started();
        last = part;
      }
      return last;
    })();
    await firstChunk;
    const bigger = await gen(server, 'stories', { options: { num_ctx: 3072 } });
    const longEnd = await long;
    assert.equal(longEnd.done, true);
    assert.equal(longEnd.eval_count, 300);
    assert.ok(bigger.eval_count > 0);
    assert.deepEqual(await loadCounts(server.url), { stories: 3 });
    assert.equal((await context()).context_length, 3072);
    // Past the budget: a 400 naming the context and both sizes; the loaded model stays.
    const need = at(8192);
    await assert.rejects(gen(server, 'stories', { options: { num_ctx: 8192 } }), (e) => e.status_code === 400 &&
      e.error.includes('8192') && e.error.includes(`${need} bytes`) && e.error.includes(`${budget} bytes`) &&
      /num_ctx/.test(e.error));
    ps = await context();
    assert.equal(ps.context_length, 3072);
    assert.deepEqual(await loadCounts(server.url), { stories: 3 });
    await assert.rejects(gen(server, 'stories', { options: { num_ctx: 'big' } }), (e) => e.status_code === 400 && /num_ctx/.test(e.error));
    // An empty prompt with num_ctx loads a model that is not loaded at that
    // context (stories, unloaded first: the budget is sized for it alone).
    const unload = await server.ollama.generate({ model: 'stories', prompt: '', keep_alive: 0, stream: false });
    assert.equal(unload.done_reason, 'unload');
    const load = await server.ollama.generate({ model: 'stories', prompt: '', options: { num_ctx: 1536 }, stream: false });
    assert.equal(load.done_reason, 'load');
    assert.equal((await context()).context_length, 1536);
  } finally {
    await server.stop();
    rmSync(home, { recursive: true, force: true });
  }
});

test('requests to two models both progress: one streams while the other runs', { skip: once }, async () => {
  const home = makeStore();
  const server = await serve(home);
  try {
    await gen(server, 'stories');  // both loaded first, so the timing is the engines'
    await gen(server, 'llama');
    const events = [];
    const stream = async (model, num_predict, onChunk) => {
      const it = await server.ollama.generate({ model, prompt: 'Once upon a time', raw: true, stream: true, options: { temperature: 1, seed: 42, num_predict } });
      for await (const part of it) {
        events.push({ model, done: part.done });
        if (onChunk) await onChunk(part);
      }
    };
    let longChunks = 0;
    let startShort;
    const shortStarted = new Promise((r) => { startShort = r; });
    const long = stream('stories', busyTokens(900), async () => { if (++longChunks === 20) startShort(); });
    await shortStarted;
    await stream('llama', 16);
    await long;
    const longDone = events.findIndex((e) => e.model === 'stories' && e.done);
    const shortFirst = events.findIndex((e) => e.model === 'llama');
    const shortDone = events.findIndex((e) => e.model === 'llama' && e.done);
    assert.ok(longDone > 0 && shortDone > 0);
    // The short request on the other model ran to the end while the long
    // stream was still producing: both progressed at the same time.
    assert.ok(shortDone < longDone, 'the short request finished before the long one');
    assert.ok(events.slice(shortDone).some((e) => e.model === 'stories' && !e.done), 'the long stream went on after it');
    assert.ok(events.slice(0, shortFirst).some((e) => e.model === 'stories'), 'the long stream had started before it');
  } finally {
    await server.stop();
    rmSync(home, { recursive: true, force: true });
  }
});

test('a preset served by name brings its template, system prompt and sampling defaults', { skip: once }, async () => {
  const home = makeStore();
  const system = 'You are a storyteller who answers every question with a very short and happy story about a cat.';
  const template = '{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}[assistant] ';
  writeFileSync(path.join(home, 'tiny.jinja'), template);
  writeFileSync(path.join(home, 'tiny.toml'),
    `model = "stories"\ntemplate = "tiny.jinja"\nsystem = "${system}"\n[sampling]\ntemperature = 0.0\nnum_predict = 3\n`);
  hearth(home, ['create', 'tiny', '-f', path.join(home, 'tiny.toml')]);
  const server = await serve(home);
  try {
    const show = await server.ollama.show({ model: 'tiny' });
    assert.equal(show.template, template);
    assert.equal(show.system, system);
    const chat = (messages) => server.openai.chat.completions.create({ model: 'tiny', messages });
    const plain = await chat([{ role: 'user', content: 'hi' }]);
    const same = await chat([{ role: 'system', content: system }, { role: 'user', content: 'hi' }]);
    const other = await chat([{ role: 'system', content: 'x' }, { role: 'user', content: 'hi' }]);
    // Without a system message the preset's is rendered; a request's own replaces it.
    assert.equal(plain.usage.prompt_tokens, same.usage.prompt_tokens);
    assert.ok(plain.usage.prompt_tokens > other.usage.prompt_tokens + 10);
    // num_predict 3 and temperature 0 from the preset, where the request sets none.
    assert.ok(plain.usage.completion_tokens <= 3);
    const again = await chat([{ role: 'user', content: 'hi' }]);
    assert.equal(again.choices[0].message.content, plain.choices[0].message.content);
    const longer = await server.openai.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 });
    assert.ok(longer.usage.completion_tokens > 3, "the request's own length wins");
  } finally {
    await server.stop();
    rmSync(home, { recursive: true, force: true });
  }
});

// A stand-in for the Hugging Face API (the calls hearth's pull makes): the
// file listing, resolve with a redirect and the sha256 in X-Linked-Etag, and
// the file itself.
function startHub(files) {
  const srv = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let m;
    if ((m = /^\/api\/models\/([^/]+)\/([^/]+)\/tree\/main$/.exec(url.pathname))) {
      const repo = `${m[1]}/${m[2]}`;
      if (!files[repo]) { res.writeHead(401, { 'X-Error-Code': 'RepoNotFound' }); return res.end(); }
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(Object.entries(files[repo]).map(([p, bytes]) => ({
        type: 'file', path: p, size: bytes.length, lfs: { oid: createHash('sha256').update(bytes).digest('hex'), size: bytes.length },
      }))));
    }
    if ((m = /^\/([^/]+)\/([^/]+)\/resolve\/main\/(.+)$/.exec(url.pathname))) {
      const bytes = files[`${m[1]}/${m[2]}`]?.[m[3]];
      if (!bytes) { res.writeHead(404); return res.end(); }
      res.writeHead(302, {
        location: `/cdn/${m[1]}/${m[2]}/${m[3]}`,
        'X-Linked-Etag': `"${createHash('sha256').update(bytes).digest('hex')}"`,
        'X-Linked-Size': String(bytes.length),
      });
      return res.end();
    }
    if ((m = /^\/cdn\/([^/]+)\/([^/]+)\/(.+)$/.exec(url.pathname))) {
      const bytes = files[`${m[1]}/${m[2]}`]?.[m[3]];
      if (!bytes) { res.writeHead(404); return res.end(); }
      const range = /bytes=(\d+)-/.exec(req.headers.range ?? '');
      const start = range ? Number(range[1]) : 0;
      res.writeHead(range ? 206 : 200, { 'content-length': bytes.length - start });
      return res.end(bytes.subarray(start));
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${srv.address().port}`,
    close: () => new Promise((r) => srv.close(r)),
  })));
}

test('Ollama /api/pull (streamed and not), /api/copy and /api/delete on the store', { skip: once }, async () => {
  const llama = readFileSync(FIXTURES.llama);
  const qwen = readFileSync(FIXTURES.qwen);
  const hub = await startHub({ 'test-owner/tiny-GGUF': { 'tiny-llama-Q8_0.gguf': llama, 'tiny-qwen-Q4_K_M.gguf': qwen } });
  const home = mkdtempSync(path.join(tmpdir(), 'hearth-pull-'));
  const server = await serve(home, [], { HF_ENDPOINT: hub.url });
  try {
    const lines = [];
    for await (const part of await server.ollama.pull({ model: 'hf.co/test-owner/tiny-GGUF:Q8_0', stream: true })) lines.push(part);
    assert.equal(lines[0].status, 'pulling manifest');
    assert.equal(lines.at(-1).status, 'success');
    const sha = createHash('sha256').update(llama).digest('hex');
    const progress = lines.filter((l) => l.digest === `sha256:${sha}`);
    assert.ok(progress.length >= 2, JSON.stringify(lines));
    assert.ok(progress.every((l) => l.total === llama.length && l.completed <= l.total));
    assert.equal(progress.at(-1).completed, llama.length);
    const name = 'hf.co/test-owner/tiny-GGUF:Q8_0';
    // The store was empty at start, so the bundled stories260K is served too.
    let tags = (await server.ollama.list()).models.filter((m) => m.name !== 'stories260K');
    assert.deepEqual(tags.map((m) => m.name), [name]);
    assert.equal(tags[0].digest, sha);
    assert.equal(tags[0].size, llama.length);
    // Pulled models serve at once.
    const r = await gen(server, name);
    assert.ok(r.eval_count > 0);

    const plain = await server.ollama.pull({ model: 'hf.co/test-owner/tiny-GGUF:Q4_K_M', stream: false });
    assert.equal(plain.status, 'success');
    await assert.rejects(server.ollama.pull({ model: 'hf.co/test-owner/missing-GGUF:Q4_K_M', stream: false }),
      (e) => e.status_code === 400 && /missing-GGUF/.test(e.error));

    await server.ollama.copy({ source: name, destination: 'my-llama' });
    tags = (await server.ollama.list()).models.map((m) => m.name);
    assert.deepEqual(tags.sort(), ['hf.co/test-owner/tiny-GGUF:Q4_K_M', name, 'my-llama', 'stories260K'].sort());
    assert.ok((await gen(server, 'my-llama')).eval_count > 0);

    // Deleting the original keeps the copy's file; deleting a loaded model unloads it.
    await server.ollama.delete({ model: name });
    assert.ok((await gen(server, 'my-llama')).eval_count > 0);
    await server.ollama.delete({ model: 'my-llama' });
    await waitLoaded(server, ['stories260K']);  // the bundled model stays (it was loaded at start)
    tags = (await server.ollama.list()).models.map((m) => m.name);
    assert.deepEqual(tags, ['stories260K', 'hf.co/test-owner/tiny-GGUF:Q4_K_M']);
    await assert.rejects(server.ollama.delete({ model: 'my-llama' }), (e) => e.status_code === 404);
    await assert.rejects(gen(server, 'my-llama'), (e) => e.status_code === 404);
  } finally {
    await server.stop();
    await hub.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('vision through the store: a pull brings the repo\'s projector, and the model takes images by name', { skip: once, timeout: 240_000 }, async () => {
  const projector = readFileSync(VISION.mmproj);
  const hub = await startHub({ 'ggml-org/tiny-gemma3-GGUF': {
    'tiny-gemma3-F16.gguf': readFileSync(VISION.lm),
    'mmproj-tiny-gemma3-F16.gguf': projector,
    'mmproj-tiny-gemma3-Q8_0.gguf': Buffer.from('a projector for the Q8_0 files, not this one'),
  } });
  const home = makeStore();
  const name = 'hf.co/ggml-org/tiny-gemma3-GGUF:F16';
  const server = await serve(home, [], { HF_ENDPOINT: hub.url });
  try {
    assert.equal((await server.ollama.pull({ model: name, stream: false })).status, 'success');
    const shown = JSON.parse(hearth(home, ['list', '--json'])).find((m) => m.name === name);
    assert.equal(shown.mmproj.sha256, createHash('sha256').update(projector).digest('hex'));
    assert.match(shown.mmproj.path, /mmproj-tiny-gemma3-F16\.gguf$/);
    // Capabilities before and after it loads; the text-only models have none.
    assert.ok((await server.ollama.show({ model: name })).capabilities.includes('vision'));
    assert.ok(!(await server.ollama.show({ model: 'llama' })).capabilities.includes('vision'));
    const listed = (await server.openai.models.list()).data.find((m) => m.id === name);
    assert.ok(listed.capabilities.includes('vision'));
    const prompt = 'What colour is the sky?';
    const b64 = readFileSync(VISION.image).toString('base64');
    const reply = await server.ollama.chat({ model: name, stream: false, options: { temperature: 0, num_predict: 8 },
      messages: [{ role: 'user', content: prompt, images: [b64] }] });
    assert.ok(reply.prompt_eval_count > 256, `${reply.prompt_eval_count} prompt tokens (the image alone is 256)`);
    // The same as hearth run with the image, by store name (its projector
    // found in the manifest) and by the files themselves.
    const run = (model, extra) => JSON.parse(hearth(home, ['run', model, ...extra, '--image', VISION.image, '-p', prompt,
      '-n', '8', '--temp', '0', '--threads', '1', '--json'])).text;
    const byName = run(name, []);
    assert.equal(byName, run(VISION.lm, ['--mmproj', VISION.mmproj]));
    assert.equal(reply.message.content, byName);
    // A text-only store model still refuses images, naming it.
    await assert.rejects(server.ollama.chat({ model: 'llama', stream: false, messages: [{ role: 'user', content: 'hi', images: [b64] }] }),
      (e) => e.status_code === 400 && /llama/.test(e.error));
  } finally {
    await server.stop();
    await hub.close();
    rmSync(home, { recursive: true, force: true });
  }
});
