// Shared by the e2e tests: the server under test (started by run.sh) and a
// way to start an extra, differently configured one.
import { spawn } from 'node:child_process';
import OpenAI from 'openai';

export const URL_BASE = process.env.HEARTH_URL;
export const MODEL = process.env.HEARTH_MODEL;
if (!URL_BASE || !MODEL) throw new Error('run through tests/e2e/run.sh (HEARTH_URL and HEARTH_MODEL unset)');

// Extra `hearth serve` flags every server of the suite gets (run.sh
// --lavapipe: `--devices vulkanN --gpu-layers all`), and whether they put
// the models on a device.
export const SERVE_ARGS = (process.env.HEARTH_SERVE_ARGS ?? '').split(' ').filter(Boolean);
export const ON_DEVICE = SERVE_ARGS.includes('--devices');
export const DEVICE = ON_DEVICE ? SERVE_ARGS[SERVE_ARGS.indexOf('--devices') + 1] : null;
// Tokens for a request whose length only has to keep a slot busy. lavapipe
// decodes stories260K at ~50 tokens/s where the CPU does ~12,000, so on a
// device such requests ask for `onDevice` tokens (the same checks, seconds
// instead of minutes: 24 streams of 2000 tokens would hold the 4 slots for
// 20 minutes).
export const busyTokens = (n, onDevice = 300) => (ON_DEVICE ? Math.min(n, onDevice) : n);

export const openai = new OpenAI({ baseURL: `${URL_BASE}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });

export async function postJson(path, body, headers = {}, base = URL_BASE) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

// Greedy chat: the text at temperature 0.
export async function greedy(content, max_tokens = 16, client = openai) {
  const r = await client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content }], temperature: 0, max_tokens,
  });
  return r.choices[0].message.content;
}

// Starts another `hearth serve` on a free port with extra flags; returns
// { url, stop }.
export async function startServer(flags) {
  const child = spawn(process.env.HEARTH_BIN,
    ['serve', process.env.HEARTH_MODEL_PATH, '--port', '0', '--threads', '1', '-q', ...SERVE_ARGS, ...flags],
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
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => { child.removeAllListeners('exit'); child.on('exit', resolve); child.kill('SIGTERM'); }),
  };
}

export async function health(base = URL_BASE) {
  return (await fetch(`${base}/health`)).json();
}
