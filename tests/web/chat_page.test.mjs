// The chat page of `hearth serve` in headless chromium: it loads, lists the
// loaded and stored models, streams a reply (checked against the API's own
// greedy answer), switches models, stops a reply, keeps the conversations
// across a reload, copies and regenerates, renders Markdown with highlighted
// code and folded reasoning, and sends attached images to a vision model
// (refused with a clear error by a text-only one). Screenshots are saved as
// artefacts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const url = process.env.HEARTH_URL;
const artifacts = process.env.HEARTH_ARTIFACTS;
const modelA = process.env.MODEL_A;
const modelB = process.env.MODEL_B;
const modelV = process.env.MODEL_V;  // served with its projector: takes images
const images = process.env.IMAGES;
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

const nextCompletion = () =>
  page.waitForRequest((r) => r.url().endsWith('/v1/chat/completions') && r.method() === 'POST');

// Sends a message and waits until the reply has finished streaming.
async function send(text) {
  const before = await page.locator('[data-testid=assistant-content]').count();
  await page.fill('[data-testid=input]', text);
  await page.press('[data-testid=input]', 'Enter');
  await page.locator('[data-testid=assistant-content]').nth(before).waitFor({ state: 'attached' });
  await page.locator('[data-testid=send]').waitFor({ state: 'visible', timeout: 60000 });
  return page.locator('[data-testid=assistant-content]').nth(before);
}

// Hands files to the page as a drop on the chat or a paste into the input.
async function deliver(kind, files) {
  await page.evaluate(({ kind, files }) => {
    const data = new DataTransfer();
    for (const f of files) {
      const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0));
      data.items.add(new File([bytes], f.name, { type: f.type }));
    }
    if (kind === 'drop') {
      const main = document.querySelector('main');
      main.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
      main.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    } else {
      document.getElementById('input').dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    }
  }, { kind, files });
}

const fixtureImage = (name, type) => ({ name, type, base64: readFileSync(path.join(images, name)).toString('base64') });
const normalize = (s) => s.replace(/\s+/g, ' ').trim();
const options = (group) => page.locator(`[data-testid=model] optgroup[label^="${group}"] option`).allTextContents();

before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 }, permissions: ['clipboard-read', 'clipboard-write'] });
  page = await context.newPage();
});

after(async () => {
  await browser?.close();
});

test('the page loads; the picker lists the loaded models and the stored ones', async () => {
  // A stored model that is not loaded, added to the server's /api/tags:
  // hearth serve lists only what it has loaded today.
  await page.route('**/api/tags', async (route) => {
    const tags = await (await route.fetch()).json();
    tags.models.push({ name: 'stored-only:latest', model: 'stored-only:latest', size: 1, details: {} });
    await route.fulfill({ json: tags });
  });
  const response = await page.goto(url + '/');
  assert.equal(response.status(), 200);
  assert.equal(await page.title(), 'hearth');
  await page.locator('[data-testid=model] option').nth(3).waitFor({ state: 'attached' });
  const loaded = (await (await fetch(`${url}/api/ps`)).json()).models.map((m) => m.name);
  assert.deepEqual([...loaded].sort(), [modelV, modelA, modelB].sort());
  assert.deepEqual((await options('Loaded')).sort(), [...loaded].sort());
  assert.deepEqual(await options('In the store'), ['stored-only:latest']);
  await shot('01-loaded');
  await page.unroute('**/api/tags');  // the picker is listed again after each reply (next test)
  // Non-browser clients still get Ollama's answer at /.
  assert.equal(await (await fetch(url + '/')).text(), 'Ollama is running');
});

test('a message streams its reply, the same as the API gives', async () => {
  await page.selectOption('[data-testid=model]', modelA);
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
  // After the reply the picker is listed again, now from the server's own /api/tags.
  await page.locator('[data-testid=model] option').nth(3).waitFor({ state: 'detached' });
  assert.deepEqual((await options('Loaded')).sort(), [modelV, modelA, modelB].sort());
  assert.equal(await page.locator('[data-testid=model] option').count(), 3);
  assert.equal(await page.locator('[data-testid=model]').inputValue(), modelA);
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
  const request = nextCompletion();
  const reply = await send('Hello');
  assert.equal(JSON.parse((await request).postData()).model, modelB);
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
  assert.equal(await page.locator('[data-testid=messages] .note').innerText(), '(stopped)');
  await shot('05-reloaded');
});

test('copy puts the reply on the clipboard; regenerate asks again without the old reply', async () => {
  await page.click('[data-testid=conversations] li:nth-child(1)');
  const expected = await greedyReply(modelB, [{ role: 'user', content: 'Hello' }], 8);
  await page.click('[data-testid=copy]');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), expected);
  assert.equal(await page.locator('[data-testid=copy]').innerText(), 'Copied');
  await page.evaluate(() => navigator.clipboard.writeText(''));
  const request = nextCompletion();
  await page.click('[data-testid=regenerate]');
  const body = JSON.parse((await request).postData());
  assert.deepEqual(body.messages, [{ role: 'user', content: 'Hello' }]);
  await page.locator('[data-testid=send]').waitFor({ state: 'visible' });
  assert.equal(await page.locator('[data-testid=message-assistant]').count(), 1);
  assert.equal(normalize(await page.locator('[data-testid=assistant-content]').innerText()), normalize(expected));
  await shot('06-regenerated');
});

test('Markdown with highlighted code, folded reasoning and the context used', async () => {
  // A canned stream, so the rendering is checked on known text.
  const events = [
    { choices: [{ index: 0, delta: { role: 'assistant', reasoning_content: 'The user wants a function.' } }] },
    { choices: [{ index: 0, delta: { content: 'Here is **one**:\n\n```python\ndef add_one(x):\n    return x + 1\n```\n' } }] },
    { choices: [{ index: 0, delta: { content: '\n<img src=x onerror="window.pwned=1">' } }] },
    { choices: [], usage: { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 } },
  ];
  await page.route('**/v1/chat/completions', (route) => route.fulfill({
    status: 200, contentType: 'text/event-stream',
    body: events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n',
  }));
  await page.click('[data-testid=new-chat]');
  const reply = await send('Write a Python function');
  await page.unroute('**/v1/chat/completions');
  assert.equal(await reply.locator('strong').innerText(), 'one');
  assert.equal(await reply.locator('pre code .hljs-keyword').first().innerText(), 'def');
  assert.equal(await reply.locator('pre code .hljs-title').first().innerText(), 'add_one');
  assert.equal(await reply.locator('img').count(), 0, 'model output became live HTML');
  const reasoning = page.locator('[data-testid=reasoning]');
  assert.equal(await reasoning.getAttribute('open'), null);
  assert.ok(!(await reasoning.locator('div').isVisible()));
  await reasoning.locator('summary').click();
  assert.equal(await reasoning.locator('div').innerText(), 'The user wants a function.');
  assert.match(await page.locator('[data-testid=context]').innerText(), /^context 42 \/ 4096 tokens/);
  await reply.locator('.copy-code').click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), 'def add_one(x):\n    return x + 1');
  await shot('07-markdown');
});

test('images attach by picker, drop and paste, are sent as image_url parts and the vision model replies', async () => {
  await page.click('[data-testid=new-chat]');
  await page.selectOption('[data-testid=model]', modelV);
  await page.locator('[data-testid=attach]:not([disabled])').waitFor();
  const png = fixtureImage('square32.png', 'image/png');
  const jpeg = fixtureImage('photo40x30.jpg', 'image/jpeg');
  await page.setInputFiles('[data-testid=file]', path.join(images, png.name));
  await deliver('drop', [jpeg]);
  // A large image, pasted: scaled down to 1536 pixels on its longest side.
  const large = await page.evaluate(async () => {
    const canvas = new OffscreenCanvas(3000, 1000);
    canvas.getContext('2d').fillRect(0, 0, 3000, 1000);
    const bytes = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
    return btoa(String.fromCharCode(...bytes));
  });
  await deliver('paste', [{ name: 'large.png', type: 'image/png', base64: large }]);
  const thumbnails = page.locator('[data-testid=attachment] img');
  await thumbnails.nth(2).waitFor();
  const sizes = await thumbnails.evaluateAll((imgs) => imgs.map((i) => [i.naturalWidth, i.naturalHeight]));
  assert.deepEqual(sizes, [[32, 32], [40, 30], [1536, 512]]);
  await shot('08-attached');
  await page.locator('[data-testid=remove-attachment]').nth(2).click();
  assert.equal(await thumbnails.count(), 2);

  const request = nextCompletion();
  const reply = await send('What is in these pictures?');
  const sent = JSON.parse((await request).postData());
  assert.equal(sent.model, modelV);
  const content = [
    { type: 'image_url', image_url: { url: `data:image/png;base64,${png.base64}` } },
    { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${jpeg.base64}` } },
    { type: 'text', text: 'What is in these pictures?' },
  ];
  assert.deepEqual(sent.messages.at(-1), { role: 'user', content });
  const expected = await greedyReply(modelV, [{ role: 'user', content }], 8);
  assert.ok(expected.trim().length > 0);
  assert.equal(normalize(await reply.innerText()), normalize(expected));
  assert.equal(await page.locator('[data-testid=message-image]').count(), 2);
  await shot('09-vision-reply');

  // Kept with the conversation in the browser.
  await page.reload();
  await page.locator('[data-testid=message-image]').nth(1).waitFor();
  const shown = await page.locator('[data-testid=message-image]').evaluateAll((imgs) => imgs.map((i) => i.naturalWidth));
  assert.deepEqual(shown, [32, 40]);
});

test('a text-only model: attach is disabled and images sent to it get the server\'s error', async () => {
  await page.selectOption('[data-testid=model]', modelA);
  await page.locator('[data-testid=attach][disabled]').waitFor();
  assert.match(await page.locator('[data-testid=attach]').getAttribute('title'), /does not take images/);
  await deliver('drop', [fixtureImage('square32.png', 'image/png')]);
  await page.locator('[data-testid=composer-note]').waitFor();
  assert.match(await page.locator('[data-testid=composer-note]').innerText(), new RegExp(`${modelA} does not take images`));
  await page.click('[data-testid=remove-attachment]');
  await page.locator('[data-testid=composer-note]').waitFor({ state: 'hidden' });
  // The conversation holds images: regenerating its reply with this model is refused.
  await page.click('[data-testid=regenerate]');
  const note = page.locator('[data-testid=messages] .note.error');
  await note.waitFor();
  assert.match(await note.innerText(), new RegExp(`error: model '${modelA}' does not support images`));
  await shot('10-text-only-model');
});

test('when browser storage is full, the images of the oldest chats give way', async () => {
  // An old chat holding a large image (placed last: the oldest).
  await page.evaluate(() => {
    const all = JSON.parse(localStorage.getItem('hearth.conversations'));
    all.push({ id: 'old', title: 'Old picture', messages: [{ role: 'user', content: 'An old picture', images: ['data:image/png;base64,' + 'A'.repeat(300000)] }] });
    localStorage.setItem('hearth.conversations', JSON.stringify(all));
  });
  await page.reload();
  await page.click('[data-testid=new-chat]');
  await page.selectOption('[data-testid=model]', modelV);
  const png = fixtureImage('square32.png', 'image/png');
  await page.setInputFiles('[data-testid=file]', path.join(images, png.name));
  await page.locator('[data-testid=attachment]').waitFor();
  // Storage filled to within 256 characters of its quota, in ever smaller pieces.
  await page.evaluate(() => {
    let n = 0;
    for (const size of [1 << 20, 1 << 16, 1 << 12, 1 << 8]) {
      const piece = 'x'.repeat(size);
      try {
        for (;;) localStorage.setItem(`filler${n++}`, piece);
      } catch {
        // full at this size: go on with smaller pieces
      }
    }
  });
  try {
    await send('And this one?');
    assert.match(await page.locator('[data-testid=status]').innerText(), /storage is full: the images of older chats were dropped/);
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('hearth.conversations')));
    assert.deepEqual(stored.at(-1).messages[0].images, [null]);
    assert.deepEqual(stored[0].messages[0].images, [`data:image/png;base64,${png.base64}`]);
    assert.ok(stored[0].messages[1].content.length > 0);
    await page.click('[data-testid=conversations] li:last-child');
    assert.equal(await page.locator('.image-gone').innerText(), 'image no longer stored');
    await shot('11-storage-full');
  } finally {
    await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('filler')).forEach((k) => localStorage.removeItem(k)));
  }
});
