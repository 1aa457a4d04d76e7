#!/usr/bin/env node
// Soak test of `hearth serve`: N clients send a mix of requests for D
// seconds (chat streamed and not, completions, Ollama chat and generate,
// conversations that share a system prompt and grow turn by turn, stop
// strings, aborted streams), and the server's RSS is sampled. Prints
// requests, errors, p50/p99 latency and RSS over time; exits 1 on any error
// (a non-2xx answer, a stream that ends in an error or without its end
// marker, a failed connection).
//
//   node bench/soak.mjs --hearth build/bin/hearth [--model M.gguf] [--seconds 600] [--clients 64]
//                       [--parallel 4] [--ctx 512] [--json]
//   node bench/soak.mjs --url http://127.0.0.1:8080 --pid PID ...   (a server already running)
//
// CI runs it for 60 s with 32 clients on stories260K (tests/CMakeLists.txt).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
  return acc;
}, []));
const seconds = Number(args.seconds ?? 600);
const nClients = Number(args.clients ?? 64);
const asJson = args.json === 'true';
const ctxTokens = Number(args.ctx ?? 512);

function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch { return null; }
}

async function startServer() {
  const flags = ['serve', ...(args.model ? [args.model] : []), '--port', '0', '--parallel', args.parallel ?? '4',
    '--ctx', args.ctx ?? '512', '--queue', String(Math.max(64, nClients * 2)), '-q', '--threads', args.threads ?? '1'];
  const child = spawn(args.hearth, flags, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 60_000);
    child.stderr.on('data', (d) => {
      log += d;
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${log}`)); });
  });
  child.stderr.on('data', (d) => { log = (log + d).slice(-20000); });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, child, log: () => log };
}

const server = args.url ? { url: args.url, pid: Number(args.pid), child: null, log: () => '' } : await startServer();
const modelId = (await (await fetch(`${server.url}/v1/models`)).json()).data[0].id;

const SYSTEMS = ['You are a storyteller.', 'You are a helpful assistant who answers briefly.',
  'Write about a cat and a dog who are friends and go on small adventures together in the park.'];
const WORDS = ['Once', 'upon', 'a', 'time', 'there', 'was', 'a', 'little', 'girl', 'named', 'Lily', 'she', 'liked',
  'to', 'play', 'in', 'the', 'park', 'with', 'her', 'ball', 'one', 'day', 'sun', 'tree', 'happy'];
let seed = 12345;
const rand = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return (seed >>> 12) % n; };  // high bits: the low ones cycle
const sentence = (n) => Array.from({ length: n }, () => WORDS[rand(WORDS.length)]).join(' ');

const stats = { requests: 0, errors: 0, aborted: 0, byKind: {}, latencies: [], errorSamples: [] };
function fail(kind, why) {
  stats.errors += 1;
  if (stats.errorSamples.length < 10) stats.errorSamples.push(`${kind}: ${why}`.slice(0, 300));
}
const headers = { 'content-type': 'application/json' };

// Reads a streamed body to the end; returns the text.
async function readAll(res) { return await res.text(); }

async function one(kind, conversation) {
  const t0 = performance.now();
  const sys = SYSTEMS[rand(SYSTEMS.length)];
  let res, text;
  try {
    switch (kind) {
      case 'chat': {
        conversation.push({ role: 'user', content: sentence(3 + rand(8)) });
        const body = { model: modelId, messages: [{ role: 'system', content: sys }, ...conversation.slice(-6)],
          max_tokens: 4 + rand(24), temperature: rand(2) ? 0 : 0.8 };
        if (rand(4) === 0) body.stop = ['.', 'the'];
        res = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify(body) });
        text = await res.text();
        if (res.status !== 200) return fail(kind, `${res.status} ${text}`);
        const j = JSON.parse(text);
        conversation.push({ role: 'assistant', content: j.choices[0].message.content ?? '' });
        // A new conversation before this one outgrows the context (a 400 then is the client's doing).
        if (conversation.length > 12 || j.usage.prompt_tokens > ctxTokens / 2) conversation.splice(0, conversation.length);
        break;
      }
      case 'stream': {
        const body = { model: modelId, stream: true, stream_options: { include_usage: true },
          messages: [{ role: 'system', content: sys }, { role: 'user', content: sentence(5 + rand(10)) }], max_tokens: 8 + rand(24) };
        res = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify(body) });
        text = await readAll(res);
        if (res.status !== 200) return fail(kind, `${res.status} ${text}`);
        if (!text.includes('data: [DONE]') || text.includes('"error"')) return fail(kind, `bad stream: ${text.slice(-300)}`);
        break;
      }
      case 'abort': {
        const ctl = new AbortController();
        const body = { model: modelId, stream: true, messages: [{ role: 'system', content: sys }, { role: 'user', content: sentence(6) }], max_tokens: 200 };
        res = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify(body), signal: ctl.signal });
        if (res.status !== 200) return fail(kind, `${res.status} ${await res.text()}`);
        const reader = res.body.getReader();
        await reader.read();
        ctl.abort();
        stats.aborted += 1;
        break;
      }
      case 'completion': {
        const body = { model: modelId, prompt: `${sys} ${sentence(4 + rand(12))}`, max_tokens: 4 + rand(16), temperature: 0 };
        res = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers, body: JSON.stringify(body) });
        text = await res.text();
        if (res.status !== 200) return fail(kind, `${res.status} ${text}`);
        break;
      }
      case 'ollama-chat': {
        const body = { model: modelId, stream: rand(2) === 0, messages: [{ role: 'system', content: sys }, { role: 'user', content: sentence(4) }],
          options: { num_predict: 4 + rand(16), temperature: 0 } };
        res = await fetch(`${server.url}/api/chat`, { method: 'POST', headers, body: JSON.stringify(body) });
        text = await res.text();
        if (res.status !== 200) return fail(kind, `${res.status} ${text}`);
        const last = JSON.parse(text.trim().split('\n').pop());
        if (!last.done || last.error) return fail(kind, `bad end: ${text.slice(-300)}`);
        break;
      }
      case 'ollama-generate': {
        const body = { model: modelId, stream: false, prompt: sentence(6), options: { num_predict: 4 + rand(12) } };
        res = await fetch(`${server.url}/api/generate`, { method: 'POST', headers, body: JSON.stringify(body) });
        text = await res.text();
        if (res.status !== 200) return fail(kind, `${res.status} ${text}`);
        break;
      }
    }
  } catch (e) {
    if (kind === 'abort' && e.name === 'AbortError') return;
    return fail(kind, String(e));
  } finally {
    stats.requests += 1;
    stats.byKind[kind] = (stats.byKind[kind] ?? 0) + 1;
    if (kind !== 'abort') stats.latencies.push(performance.now() - t0);
  }
}

const KINDS = ['chat', 'chat', 'stream', 'stream', 'completion', 'ollama-chat', 'ollama-generate', 'abort'];
const deadline = Date.now() + seconds * 1000;
const rss = [];
const start = Date.now();
const sampler = setInterval(() => {
  rss.push({ t: Math.round((Date.now() - start) / 1000), rss_mib: +((rssKiB(server.pid) ?? 0) / 1024).toFixed(1), requests: stats.requests });
}, Math.max(1000, seconds * 1000 / 20));

async function client() {
  const conversation = [];
  while (Date.now() < deadline) await one(KINDS[rand(KINDS.length)], conversation);
}
rss.push({ t: 0, rss_mib: +((rssKiB(server.pid) ?? 0) / 1024).toFixed(1), requests: 0 });
await Promise.all(Array.from({ length: nClients }, client));
clearInterval(sampler);
rss.push({ t: Math.round((Date.now() - start) / 1000), rss_mib: +((rssKiB(server.pid) ?? 0) / 1024).toFixed(1), requests: stats.requests });

// The server is still healthy and idle.
let healthy = false;
for (let i = 0; i < 50 && !healthy; ++i) {
  try {
    const h = await (await fetch(`${server.url}/health`)).json();
    healthy = h.status === 'ok' && h.models.every((m) => m.running === 0 && m.waiting === 0);
  } catch { /* retry */ }
  if (!healthy) await new Promise((r) => setTimeout(r, 100));
}
if (!healthy) fail('health', 'the server did not come back to idle');
const internal = (server.log().match(/internal|failed to start/g) ?? []).length;

const sorted = stats.latencies.slice().sort((a, b) => a - b);
const pct = (p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0);
const report = {
  seconds, clients: nClients, requests: stats.requests, errors: stats.errors, aborted: stats.aborted,
  internal_failures_logged: internal, by_kind: stats.byKind,
  p50_ms: +pct(0.5).toFixed(1), p99_ms: +pct(0.99).toFixed(1), rss_over_time: rss, error_samples: stats.errorSamples,
};
if (asJson) console.log(JSON.stringify(report, null, 2));
else {
  console.log(`soak: ${report.requests} requests in ${seconds} s from ${nClients} clients, ${report.errors} errors, ` +
    `${report.aborted} aborted on purpose, ${internal} internal failures logged`);
  console.log(`latency p50 ${report.p50_ms} ms, p99 ${report.p99_ms} ms; by kind ${JSON.stringify(report.by_kind)}`);
  console.log(`RSS (MiB) over time: ${rss.map((r) => `${r.t}s:${r.rss_mib}`).join(' ')}`);
  for (const e of report.error_samples) console.log(`  error: ${e}`);
}
if (server.child) server.child.kill('SIGTERM');
process.exit(report.errors === 0 && internal === 0 ? 0 : 1);
