// The chat page of `hearth serve` in headless chromium: it loads, streams a
// reply (checked against the API's own greedy answer), switches models,
// stops a reply and keeps the conversations across a reload. Screenshots are
// saved as artefacts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';

const url = process.env.HEARTH_URL;
const artifacts = process.env.HEARTH_ARTIFACTS;
const modelA = process.env.MODEL_A;
const modelB = process.env.MODEL_B;
let browser;
let page;

const shot = (name) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });

async function greedyReply(model, messages, maxTokens) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model, messages, temperature: 0, max_tokens: maxTokens }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).choices[0].message.content;
}

// Sends a message and waits until the reply has finished streaming.
async function send(text) {
  const before = await page.locator('[data-testid=assistant-content]').count();
  await page.fill('[data-testid=input]', text);
  await page.press('[data-testid=input]', 'Enter');
  await page.locator('[data-testid=assistant-content]').nth(before).waitFor({ state: 'attached' });
  await page.locator('[data-testid=send]').waitFor({ state: 'visible', timeout: 60000 });
  return page.locator('[data-testid=assistant-content]').nth(before);
}

const normalize = (s) => s.replace(/\s+/g, ' ').trim();

before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
});

after(async () => {
  await browser?.close();
});

test('the page loads with both models in the picker', async () => {
  const response = await page.goto(url + '/');
  assert.equal(response.status(), 200);
  assert.equal(await page.title(), 'hearth');
  await page.locator('[data-testid=model] option').nth(1).waitFor({ state: 'attached' });
  const options = await page.locator('[data-testid=model] option').allTextContents();
  assert.deepEqual(options, [modelA, modelB]);
  // Non-browser clients still get Ollama's answer at /.
  assert.equal(await (await fetch(url + '/')).text(), 'Ollama is running');
  await shot('01-loaded');
});

test('a message streams its reply, the same as the API gives', async () => {
  await page.click('#settings summary');
  await page.fill('[data-testid=temperature]', '0');
  await page.fill('[data-testid=max-tokens]', '24');
  const chunks = [];
  page.on('response', (r) => { if (r.url().endsWith('/v1/chat/completions')) chunks.push(r.headers()['content-type']); });
  const reply = await send('Once upon a time');
  const expected = await greedyReply(modelA, [{ role: 'user', content: 'Once upon a time' }], 24);
  assert.ok(expected.length > 0);
  assert.equal(normalize(await reply.innerText()), normalize(expected));
  assert.match(chunks[0], /text\/event-stream/);
  assert.match(await page.locator('[data-testid=context]').innerText(), /context \d+ \/ 4096 tokens/);
  await shot('02-streamed');
});

test('the stop button ends a reply', async () => {
  // stories260K's greedy reply to this runs to the 3500-token limit (checked
  // through the API when this test was written), so it is still streaming.
  await page.click('[data-testid=new-chat]');
  await page.fill('[data-testid=max-tokens]', '3500');
  const before = await page.locator('[data-testid=assistant-content]').count();
  await page.fill('[data-testid=input]', 'Tell me a long story');
  await page.press('[data-testid=input]', 'Enter');
  await page.locator('[data-testid=stop]').waitFor({ state: 'visible' });
  // Half a second into a reply of 3500 tokens.
  const content = page.locator('[data-testid=assistant-content]').nth(before);
  await page.waitForTimeout(500);
  assert.ok(await page.locator('[data-testid=stop]').isVisible(), 'the reply ended before it could be stopped');
  await page.click('[data-testid=stop]');
  await page.locator('text=(stopped)').waitFor();
  await page.locator('[data-testid=send]').waitFor({ state: 'visible' });
  // Stopped well before its 3500 tokens.
  assert.ok((await content.textContent()).length < 8000);
  await shot('03-stopped');
});

test('switching models sends to the other model', async () => {
  await page.click('[data-testid=new-chat]');
  await page.selectOption('[data-testid=model]', modelB);
  await page.fill('[data-testid=max-tokens]', '8');
  const requests = [];
  page.on('request', (r) => { if (r.url().endsWith('/v1/chat/completions')) requests.push(JSON.parse(r.postData())); });
  const reply = await send('Hello');
  assert.equal(requests.at(-1).model, modelB);
  const expected = await greedyReply(modelB, [{ role: 'user', content: 'Hello' }], 8);
  assert.equal(normalize(await reply.innerText()), normalize(expected));
  await shot('04-switched');
});

test('conversations stay in the browser across a reload', async () => {
  await page.reload();
  await page.locator('[data-testid=conversations] li').nth(2).waitFor();
  const titles = await page.locator('[data-testid=conversations] li span').allTextContents();
  assert.deepEqual(titles, ['Hello', 'Tell me a long story', 'Once upon a time']);
  assert.equal(await page.locator('[data-testid=model]').inputValue(), modelB);
  await page.click('[data-testid=conversations] li:nth-child(2)');
  assert.equal(await page.locator('[data-testid=message-user]').innerText(), 'Tell me a long story');
  assert.equal(await page.locator('.note').innerText(), '(stopped)');
  await shot('05-reloaded');
});
