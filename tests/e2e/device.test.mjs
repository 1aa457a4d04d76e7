// Where the server under test runs its model. Under run.sh --lavapipe every
// layer is on the Vulkan device, and this proves it: the device's backend
// holds memory, a request submits work to its queue, and /api/ps counts the
// model's plan as device memory (size_vram). On the CPU run it proves the
// opposite: no device is used, so nothing of the suite passes by chance on
// a device it did not name.
import test from 'node:test';
import assert from 'node:assert/strict';
import { openai, MODEL, URL_BASE, ON_DEVICE, DEVICE } from './helpers.mjs';

async function deviceSamples() {
  const text = await (await fetch(`${URL_BASE}/metrics`)).text();
  const samples = {};
  for (const m of text.matchAll(/^(hearth_device_[a-z_]+)\{device="([^"]+)",index="(\d+)"\} (\d+)$/gm))
    samples[`${m[1]}:${m[2]}:${m[3]}`] = Number(m[4]);
  return samples;
}

async function loaded() {
  const ps = await (await fetch(`${URL_BASE}/api/ps`)).json();
  const model = ps.models.find((m) => m.name === MODEL);
  assert.ok(model, `${MODEL} is loaded`);
  return model;
}

test('the model runs on the device named by --devices, and only there', async () => {
  const before = await deviceSamples();
  const r = await openai.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 4, temperature: 0 });
  assert.ok(r.usage.completion_tokens > 0);
  const after = await deviceSamples();
  const ps = await loaded();
  if (!ON_DEVICE) {
    assert.deepEqual(after, {}, 'no device in use without --devices');
    assert.equal(ps.size_vram, 0);
    return;
  }
  const key = (name) => `${name}:${DEVICE}:0`;
  assert.ok(after[key('hearth_device_allocated_bytes')] > 0, `${DEVICE} holds the model: ${JSON.stringify(after)}`);
  assert.ok(after[key('hearth_device_submits_total')] > before[key('hearth_device_submits_total')],
    'the request was computed on the device');
  assert.ok(ps.size_vram > 0 && ps.size_vram < ps.size, `planned on the device: ${ps.size_vram} of ${ps.size}`);
  // Every planned byte on the device is one the backend really allocated
  // (the plan is what it allocates; weights upload on first use).
  assert.ok(after[key('hearth_device_allocated_bytes')] >= ps.size_vram * 0.97,
    `allocated ${after[key('hearth_device_allocated_bytes')]} vs planned ${ps.size_vram}`);
});
