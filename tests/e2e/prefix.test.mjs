// The prefix cache: in a 10-turn chat, each turn evaluates only what is new.
import test from 'node:test';
import assert from 'node:assert/strict';
import { openai, MODEL } from './helpers.mjs';

test('turn N of a 10-turn conversation prefills only the new tokens', async () => {
  const messages = [{ role: 'system', content: 'You are a storyteller.' }];
  let previousPrompt = 0;
  for (let turn = 0; turn < 10; turn++) {
    messages.push({ role: 'user', content: `Turn ${turn}: and then what happened to the ${['cat', 'dog'][turn % 2]}?` });
    const r = await openai.chat.completions.create({ model: MODEL, messages, temperature: 0, max_tokens: 8 });
    const usage = r.usage;
    const cached = usage.prompt_tokens_details.cached_tokens;
    const prefilled = usage.prompt_tokens - cached;
    if (turn === 0) {
      assert.ok(prefilled > 0);
    } else {
      // Everything the previous request's prompt held is reused...
      assert.ok(cached >= previousPrompt, `turn ${turn}: cached ${cached} < previous prompt ${previousPrompt}`);
      // ...so only the reply and the new turn are evaluated.
      assert.ok(prefilled <= usage.prompt_tokens - previousPrompt, `turn ${turn}: prefilled ${prefilled}`);
    }
    previousPrompt = usage.prompt_tokens;
    messages.push({ role: 'assistant', content: r.choices[0].message.content });
  }
});

test('a new conversation reuses the system prompt another conversation computed', async () => {
  const system = 'You are a storyteller who tells short, gentle stories about animals that live in a quiet forest ' +
    'near a river, and every story ends with the animals going to sleep under the stars.';
  const ask = async (question) => openai.chat.completions.create({
    model: MODEL, temperature: 0, max_tokens: 4,
    messages: [{ role: 'system', content: system }, { role: 'user', content: question }],
  });
  const first = await ask('Tell me about the owl.');
  const second = await ask('And the fox?');
  const cached = second.usage.prompt_tokens_details.cached_tokens;
  // The shared system prompt is most of the second prompt: all of it is reused.
  assert.ok(cached >= 0.7 * second.usage.prompt_tokens, `cached ${cached} of ${second.usage.prompt_tokens}`);
  assert.ok(cached < second.usage.prompt_tokens);
  assert.ok(first.usage.prompt_tokens > 0);
});
