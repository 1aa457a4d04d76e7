// OpenAI's Responses API through the official `openai` client:
// responses.create streamed and not, a function call round trip with
// previous_response_id and with the items sent back, structured output.
import test from 'node:test';
import assert from 'node:assert/strict';
import Ajv from 'ajv';
import { openai, MODEL, URL_BASE, postJson } from './helpers.mjs';

const ajv = new Ajv();
const weatherTool = {
  type: 'function', name: 'get_weather', description: 'Current weather in a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string', maxLength: 12 }, unit: { type: 'string', enum: ['c', 'f'] } },
    required: ['city', 'unit'],
  },
};

test('responses: create, then the stream gives the same text through the documented events', async () => {
  const params = { model: MODEL, input: 'Once upon a time', instructions: 'You tell stories.', temperature: 0, max_output_tokens: 20 };
  const full = await openai.responses.create(params);
  assert.equal(full.object, 'response');
  assert.match(full.id, /^resp_/);
  assert.ok(['completed', 'incomplete'].includes(full.status));
  if (full.status === 'incomplete') assert.equal(full.incomplete_details.reason, 'max_output_tokens');
  const message = full.output.find((o) => o.type === 'message');
  assert.ok(message, JSON.stringify(full.output));
  assert.equal(message.role, 'assistant');
  assert.equal(message.content[0].type, 'output_text');
  assert.equal(full.output_text, message.content[0].text);
  assert.ok(full.usage.input_tokens > 0);
  assert.ok(full.usage.output_tokens > 0 && full.usage.output_tokens <= 20);
  assert.equal(full.usage.total_tokens, full.usage.input_tokens + full.usage.output_tokens);

  const stream = await openai.responses.create({ ...params, stream: true });
  const types = [];
  let text = '', completed = null, seq = -1;
  for await (const event of stream) {
    types.push(event.type);
    assert.equal(event.sequence_number, seq + 1);
    seq = event.sequence_number;
    if (event.type === 'response.output_text.delta') text += event.delta;
    if (event.type === 'response.completed' || event.type === 'response.incomplete') completed = event.response;
  }
  assert.equal(text, full.output_text);
  assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
  assert.ok(types.includes('response.output_text.delta'));
  assert.deepEqual(types.slice(-4), ['response.output_text.done', 'response.content_part.done', 'response.output_item.done', `response.${full.status}`]);
  assert.equal(completed.output.find((o) => o.type === 'message').content[0].text, full.output_text);
  assert.equal(completed.usage.output_tokens, full.usage.output_tokens);
});

test('responses: the .stream() helper accumulates the final response', async () => {
  const stream = openai.responses.stream({ model: MODEL, input: 'Tell me about a dog', temperature: 0, max_output_tokens: 12 });
  let text = '';
  stream.on('response.output_text.delta', (e) => { text += e.delta; });
  const final = await stream.finalResponse();
  assert.equal(final.output_text, text);
});

test('responses: a forced function call, its output sent back with previous_response_id, and as items', async () => {
  const first = await openai.responses.create({
    model: MODEL, input: 'What is the weather in Paris?', tools: [weatherTool],
    tool_choice: { type: 'function', name: 'get_weather' }, temperature: 0, max_output_tokens: 120,
  });
  assert.equal(first.status, 'completed');
  const call = first.output.find((o) => o.type === 'function_call');
  assert.ok(call, JSON.stringify(first.output));
  assert.equal(call.name, 'get_weather');
  assert.match(call.id, /^fc_/);
  assert.ok(call.call_id.length > 0);
  assert.ok(ajv.validate(weatherTool.parameters, JSON.parse(call.arguments)), JSON.stringify(ajv.errors));

  const output = { type: 'function_call_output', call_id: call.call_id, output: JSON.stringify({ temp: 18 }) };
  const second = await openai.responses.create({
    model: MODEL, previous_response_id: first.id, input: [output], tools: [weatherTool], temperature: 0, max_output_tokens: 8,
  });
  assert.equal(second.previous_response_id, first.id);
  assert.ok(second.output.length > 0);
  // The stored conversation is the prompt: sending the items back instead
  // gives the same prompt, token for token.
  const explicit = await openai.responses.create({
    model: MODEL, input: [{ role: 'user', content: 'What is the weather in Paris?' }, call, output],
    tools: [weatherTool], temperature: 0, max_output_tokens: 8,
  });
  assert.equal(explicit.usage.input_tokens, second.usage.input_tokens);
  assert.equal(explicit.output_text, second.output_text);

  const fetched = await openai.responses.retrieve(first.id);
  assert.equal(fetched.id, first.id);
  await assert.rejects(openai.responses.create({ model: MODEL, previous_response_id: 'resp_missing', input: 'x' }),
    (e) => e.status === 404 && /resp_missing/.test(e.message));
});

test('responses: a streamed forced call sends function_call_arguments events', async () => {
  const stream = await openai.responses.create({
    model: MODEL, input: 'Weather?', tools: [weatherTool], tool_choice: 'required', temperature: 0, max_output_tokens: 120, stream: true,
  });
  let args = '', done = null, item = null;
  for await (const e of stream) {
    if (e.type === 'response.function_call_arguments.delta') args += e.delta;
    if (e.type === 'response.function_call_arguments.done') done = e.arguments;
    if (e.type === 'response.output_item.done' && e.item.type === 'function_call') item = e.item;
  }
  assert.equal(args, done);
  assert.equal(item.arguments, done);
  assert.ok(ajv.validate(weatherTool.parameters, JSON.parse(done)), JSON.stringify(ajv.errors));
});

test('responses: text.format json_schema output validates', async () => {
  const schema = {
    type: 'object', properties: { name: { type: 'string', maxLength: 10 }, age: { type: 'integer', minimum: 0, maximum: 150 } },
    required: ['name', 'age'], additionalProperties: false,
  };
  const r = await openai.responses.create({
    model: MODEL, input: 'Describe a person as JSON.', temperature: 0, max_output_tokens: 100,
    text: { format: { type: 'json_schema', name: 'person', schema, strict: true } },
  });
  assert.ok(ajv.validate(schema, JSON.parse(r.output_text)), r.output_text);
});

test('responses: errors name the field', async () => {
  const r = await postJson('/v1/responses', { model: MODEL, input: [{ type: 'web_search_call' }] });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'input[0]');
  const t = await postJson('/v1/responses', { model: MODEL, input: 'x', tools: [{ type: 'web_search' }] });
  assert.equal(t.status, 400);
  assert.equal(t.json.error.param, 'tools[0]');
});
