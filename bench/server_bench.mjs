#!/usr/bin/env node
// Benchmarks a running `hearth serve` (or starts one): aggregate generated
// tokens/s at 1, 4, 8 and 16 parallel streams, and time to first token for
// each turn of a 10-turn chat (where the prefix cache should keep TTFT flat).
//
//   node bench/server_bench.mjs --url http://127.0.0.1:8080 [--model ID]
//   node bench/server_bench.mjs --hearth build/bin/hearth --gguf model.gguf [--parallel 16] [--threads N]
// Options: --tokens N (per stream, default 64), --json (print one JSON object).
// Uses only Node's fetch: no packages needed.
import { spawn } from 'node:child_process';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const flag = (name) => args.includes(`--${name}`);
const tokens = Number(opt('tokens', 64));

async function startServer() {
  const parallel = opt('parallel', '16');
  const extra = ['--port', '0', '-q', '--parallel', parallel, '--queue', '64'];
  if (opt('threads')) extra.push('--threads', opt('threads'));
  if (opt('ctx')) extra.push('--ctx', opt('ctx'));
  const child = spawn(opt('hearth'), ['serve', ...(opt('gguf') ? [opt('gguf')] : []), ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      log += d;
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(log);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`hearth serve exited (${code}): ${log}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

// One streamed chat; returns { ttft_ms, total_ms, completion_tokens, prompt_tokens, cached_tokens, text }.
async function streamChat(url, model, messages, max_tokens) {
  const start = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages, max_tokens, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buffer = '', text = '', ttft = null, usage = null;
  for await (const part of res.body) {
    buffer += decoder.decode(part, { stream: true });
    let at;
    while ((at = buffer.indexOf('\n\n')) >= 0) {
      const line = buffer.slice(0, at).trim();
      buffer = buffer.slice(at + 2);
      if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
      const event = JSON.parse(line.slice(6));
      if (event.usage) usage = event.usage;
      const delta = event.choices?.[0]?.delta;
      if (delta && (delta.content || delta.reasoning_content)) {
        if (ttft === null) ttft = performance.now() - start;
        text += delta.content ?? '';
      }
    }
  }
  return {
    ttft_ms: ttft ?? performance.now() - start, total_ms: performance.now() - start,
    completion_tokens: usage?.completion_tokens ?? 0, prompt_tokens: usage?.prompt_tokens ?? 0,
    cached_tokens: usage?.prompt_tokens_details?.cached_tokens ?? 0, text,
  };
}

async function main() {
  let server = null;
  let url = opt('url');
  if (!url) {
    if (!opt('hearth')) throw new Error('give --url of a running server, or --hearth BINARY [--gguf MODEL]');
    server = await startServer();
    url = server.url;
  }
  const model = opt('model') ?? (await (await fetch(`${url}/v1/models`)).json()).data[0].id;
  const results = { model, tokens_per_stream: tokens, throughput: [], chat_turns: [] };
  try {
    await streamChat(url, model, [{ role: 'user', content: 'warm up' }], 4);
    for (const streams of [1, 4, 8, 16]) {
      const start = performance.now();
      const runs = await Promise.all(Array.from({ length: streams }, (_, i) =>
        streamChat(url, model, [{ role: 'user', content: `Story ${i}: tell me about a ${['cat', 'dog', 'fox', 'owl'][i % 4]} named ${i}` }], tokens)));
      const seconds = (performance.now() - start) / 1000;
      const generated = runs.reduce((s, r) => s + r.completion_tokens, 0);
      results.throughput.push({
        streams, generated_tokens: generated, seconds: +seconds.toFixed(3),
        tokens_per_second: +(generated / seconds).toFixed(1),
        mean_ttft_ms: +(runs.reduce((s, r) => s + r.ttft_ms, 0) / runs.length).toFixed(1),
        // Tokens after the first over the time after it, averaged over streams:
        // the decode rate a reader sees, without the prefill.
        decode_tokens_per_second: +(runs.reduce((s, r) => s + (r.completion_tokens - 1) / ((r.total_ms - r.ttft_ms) / 1000), 0) / runs.length).toFixed(1),
      });
    }
    const messages = [{ role: 'system', content: 'You are a helpful storyteller who answers in a few sentences.' }];
    for (let turn = 1; turn <= 10; turn++) {
      messages.push({ role: 'user', content: `Turn ${turn}: continue the story, and add a new character.` });
      const r = await streamChat(url, model, messages, 32);
      results.chat_turns.push({ turn, ttft_ms: +r.ttft_ms.toFixed(1), prompt_tokens: r.prompt_tokens, cached_tokens: r.cached_tokens,
                                prefilled_tokens: r.prompt_tokens - r.cached_tokens });
      messages.push({ role: 'assistant', content: r.text });
    }
  } finally {
    if (server) server.child.kill('SIGTERM');
  }
  if (flag('json')) {
    console.log(JSON.stringify(results, null, 1));
    return;
  }
  console.log(`model ${model}, ${tokens} tokens per stream, temperature 0`);
  console.log('streams  generated  seconds  tokens/s  mean TTFT ms  decode tokens/s per stream');
  for (const t of results.throughput)
    console.log(`${String(t.streams).padStart(7)}  ${String(t.generated_tokens).padStart(9)}  ${t.seconds.toFixed(2).padStart(7)}  ${t.tokens_per_second.toFixed(1).padStart(8)}  ${t.mean_ttft_ms.toFixed(1).padStart(12)}  ${t.decode_tokens_per_second.toFixed(1).padStart(8)}`);
  console.log('10-turn chat: turn  TTFT ms  prompt  cached  prefilled');
  for (const t of results.chat_turns)
    console.log(`${String(t.turn).padStart(18)}  ${t.ttft_ms.toFixed(1).padStart(7)}  ${String(t.prompt_tokens).padStart(6)}  ${String(t.cached_tokens).padStart(6)}  ${String(t.prefilled_tokens).padStart(9)}`);
}

main().catch((e) => { console.error(`server_bench: ${e.message}`); process.exit(1); });
