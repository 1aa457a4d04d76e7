// GET /metrics: Prometheus text whose counters move with the requests served.
import test from 'node:test';
import assert from 'node:assert/strict';
import { openai, MODEL, URL_BASE } from './helpers.mjs';

async function scrape() {
  const res = await fetch(`${URL_BASE}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const values = {};
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    if (/^hearth_device_[a-z_]+\{device="[^"]+",index="\d+"\} \d+$/.test(line)) continue;  // device.test.mjs
    const m = /^([a-z_]+)\{model="([^"]*)"(?:,outcome="([a-z]+)")?\} (\S+)$/.exec(line);
    assert.ok(m, `malformed sample: ${line}`);
    if (m[2] === MODEL) values[m[1] + (m[3] ? `:${m[3]}` : '')] = Number(m[4]);
  }
  return values;
}

test('metrics: requests, tokens, cache hits and KV use move with a request', async () => {
  const messages = [{ role: 'user', content: 'A long shared system prompt goes here, long enough to fill a few cache blocks of sixteen tokens each.' }];
  await openai.chat.completions.create({ model: MODEL, messages, temperature: 0, max_tokens: 4 });
  const before = await scrape();
  const r = await openai.chat.completions.create({ model: MODEL, messages, temperature: 0, max_tokens: 4 });
  const after = await scrape();
  assert.equal(after['hearth_requests_total:finished'] - before['hearth_requests_total:finished'], 1);
  assert.equal(after.hearth_generated_tokens_total - before.hearth_generated_tokens_total, r.usage.completion_tokens);
  assert.equal(after.hearth_prompt_tokens_cached_total - before.hearth_prompt_tokens_cached_total,
    r.usage.prompt_tokens_details.cached_tokens);
  assert.ok(r.usage.prompt_tokens_details.cached_tokens > 0);
  assert.equal(after.hearth_prefix_cache_hits_total - before.hearth_prefix_cache_hits_total, 1);
  assert.equal(after.hearth_requests_admitted_total - before.hearth_requests_admitted_total, 1);
  assert.equal(after.hearth_slots, 4);  // run.sh serves with --parallel 4
  assert.equal(after.hearth_requests_running, 0);
  assert.equal(after.hearth_requests_waiting, 0);
  assert.ok(after.hearth_kv_blocks > 0);
  assert.ok(after.hearth_kv_blocks_used > 0 && after.hearth_kv_blocks_used <= after.hearth_kv_blocks);
  assert.ok(after.hearth_kv_blocks_cached > 0, 'the conversation stays in the prefix cache');
  assert.ok(after.hearth_kv_cache_usage_ratio > 0 && after.hearth_kv_cache_usage_ratio <= 1);
  assert.ok(after.hearth_kv_cache_bytes > 0);
});
