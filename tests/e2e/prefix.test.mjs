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
