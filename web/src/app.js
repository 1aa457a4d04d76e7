// hearth's chat page: talks to the server's own OpenAI-compatible API on the
// same origin; conversations are kept in this browser's localStorage only.
import { Marked } from 'marked';
import hljs from 'highlight.js/lib/common';

const marked = new Marked({
  renderer: {
    code({ text, lang }) {
      const language = lang && hljs.getLanguage(lang) ? lang : null;
      const html = language ? hljs.highlight(text, { language }).value : hljs.highlightAuto(text).value;
      return `<pre><code class="hljs">${html}</code></pre>`;
    },
    html({ text }) {
      return escapeHtml(text);  // model output never becomes live HTML
    },
  },
});

const $ = (id) => document.getElementById(id);
const STORE = 'hearth.conversations';
const SETTINGS = 'hearth.settings';

let conversations = JSON.parse(localStorage.getItem(STORE) || '[]');
let current = null;
let controller = null;
let models = [];

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function save() {
  localStorage.setItem(STORE, JSON.stringify(conversations));
  localStorage.setItem(SETTINGS, JSON.stringify({
    model: $('model').value, system: $('system').value, temperature: $('temperature').value,
    top_p: $('top-p').value, max_tokens: $('max-tokens').value,
  }));
}

function newConversation() {
  current = { id: String(Date.now()) + Math.random().toString(16).slice(2, 6), title: 'New chat', messages: [] };
  conversations.unshift(current);
  save();
  render();
}

function renderList() {
  const list = $('conversations');
  list.innerHTML = '';
  for (const c of conversations) {
    const li = document.createElement('li');
    li.className = c === current ? 'active' : '';
    const title = document.createElement('span');
    title.textContent = c.title;
    const remove = document.createElement('button');
    remove.textContent = '✕';
    remove.title = 'Delete';
    remove.onclick = (e) => {
      e.stopPropagation();
      conversations = conversations.filter((x) => x !== c);
      if (current === c) current = conversations[0] || null;
      if (!current) newConversation();
      save();
      render();
    };
    li.append(title, remove);
    li.onclick = () => { if (!controller) { current = c; render(); } };
    list.append(li);
  }
}

function messageElement(m, index) {
  const div = document.createElement('div');
  div.className = `message ${m.role}`;
  div.dataset.testid = `message-${m.role}`;
  if (m.role === 'user') {
    div.textContent = m.content;
    return div;
  }
  if (m.reasoning) {
    const details = document.createElement('details');
    details.className = 'reasoning';
    const summary = document.createElement('summary');
    summary.textContent = 'Reasoning';
    const body = document.createElement('div');
    body.textContent = m.reasoning;
    details.append(summary, body);
    div.append(details);
  }
  const content = document.createElement('div');
  content.className = 'content';
  content.dataset.testid = 'assistant-content';
  content.innerHTML = marked.parse(m.content || '');
  div.append(content);
  if (m.note) {
    const note = document.createElement('div');
    note.className = 'note';
    note.textContent = m.note;
    div.append(note);
  }
  if (index !== undefined) {
    const tools = document.createElement('div');
    tools.className = 'tools';
    const copy = document.createElement('button');
    copy.textContent = 'Copy';
    copy.onclick = () => navigator.clipboard?.writeText(m.content);
    tools.append(copy);
    if (index === current.messages.length - 1) {
      const again = document.createElement('button');
      again.textContent = 'Regenerate';
      again.dataset.testid = 'regenerate';
      again.onclick = () => { if (!controller) { current.messages.pop(); save(); complete(); } };
      tools.append(again);
    }
    div.append(tools);
  }
  return div;
}

function render() {
  renderList();
  const box = $('messages');
  box.innerHTML = '';
  current.messages.forEach((m, i) => box.append(messageElement(m, m.role === 'assistant' ? i : undefined)));
  box.scrollTop = box.scrollHeight;
  showContext();
}

function showContext() {
  const model = models.find((m) => m.id === $('model').value);
  const used = current?.usage;
  $('context').textContent = model ? `context ${used ?? 0} / ${model.n_ctx} tokens` : '';
}

async function loadModels() {
  const res = await fetch('/chat/models');
  models = (await res.json()).models;
  const select = $('model');
  select.innerHTML = '';
  for (const m of models) {
    const option = document.createElement('option');
    option.value = m.id;
    option.textContent = m.id;
    select.append(option);
  }
  const settings = JSON.parse(localStorage.getItem(SETTINGS) || '{}');
  if (settings.model && models.some((m) => m.id === settings.model)) select.value = settings.model;
  for (const [key, id] of [['system', 'system'], ['temperature', 'temperature'], ['top_p', 'top-p'], ['max_tokens', 'max-tokens']])
    if (settings[key] !== undefined) $(id).value = settings[key];
}

// Streams a reply to the conversation so far.
async function complete() {
  const conversation = current;
  const reply = { role: 'assistant', content: '', reasoning: '' };
  const messages = [];
  if ($('system').value.trim()) messages.push({ role: 'system', content: $('system').value });
  for (const m of conversation.messages) messages.push({ role: m.role, content: m.content });
  conversation.messages.push(reply);
  render();
  const box = $('messages');
  const element = box.lastElementChild;
  controller = new AbortController();
  $('send').hidden = true;
  $('stop').hidden = false;
  // Redraw at most once a frame: re-rendering the Markdown for every token
  // would keep the page busy on long replies.
  let pending = false;
  const update = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      const fresh = messageElement(reply);
      element.replaceChildren(...fresh.childNodes);
      box.scrollTop = box.scrollHeight;
    });
  };
  try {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      signal: controller.signal,
      body: JSON.stringify({
        model: $('model').value, messages, stream: true, stream_options: { include_usage: true },
        temperature: Number($('temperature').value), top_p: Number($('top-p').value),
        max_tokens: Number($('max-tokens').value),
      }),
    });
    if (!res.ok) throw new Error((await res.json().catch(() => ({}))).error?.message || `HTTP ${res.status}`);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of event.split('\n')) {
          if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
          const chunk = JSON.parse(line.slice(6));
          if (chunk.usage) conversation.usage = chunk.usage.total_tokens;
          const delta = chunk.choices?.[0]?.delta;
          if (!delta) continue;
          if (delta.reasoning_content) reply.reasoning += delta.reasoning_content;
          if (delta.content) reply.content += delta.content;
        }
        update();
      }
    }
  } catch (e) {
    reply.note = e.name === 'AbortError' ? '(stopped)' : `error: ${e.message}`;
  } finally {
    controller = null;
    $('send').hidden = false;
    $('stop').hidden = true;
    if (conversation.title === 'New chat' && conversation.messages.length)
      conversation.title = conversation.messages[0].content.slice(0, 40);
    save();
    if (conversation === current) render();
  }
}

$('composer').onsubmit = (e) => {
  e.preventDefault();
  const text = $('input').value;
  if (!text.trim() || controller) return;
  $('input').value = '';
  current.messages.push({ role: 'user', content: text });
  save();
  complete();
};
$('input').onkeydown = (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    $('composer').requestSubmit();
  }
};
$('stop').onclick = () => controller?.abort();
$('new-chat').onclick = () => { if (!controller) newConversation(); };
for (const id of ['model', 'system', 'temperature', 'top-p', 'max-tokens']) $(id).onchange = () => { save(); showContext(); };

loadModels().then(() => {
  current = conversations[0];
  if (!current) newConversation();
  render();
});
