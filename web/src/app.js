// hearth's chat page: talks to the server's own OpenAI-compatible API on the
// same origin; conversations (their images included) are kept in this
// browser's localStorage only.
import { Marked } from 'marked';
import hljs from 'highlight.js/lib/common';
import { apiContent, dropOldestImages, imageFiles, imageFromFile } from './images.js';
import { fillPicker, listModels, modelCapabilities } from './models.js';

const marked = new Marked({
  renderer: {
    code({ text, lang }) {
      const language = lang && hljs.getLanguage(lang) ? lang : null;
      const html = language ? hljs.highlight(text, { language }).value : hljs.highlightAuto(text).value;
      return `<pre><button type="button" class="copy-code">Copy</button><code class="hljs">${html}</code></pre>`;
    },
    html({ text }) {
      return escapeHtml(text);  // model output never becomes live HTML
    },
  },
});

const $ = (id) => document.getElementById(id);
const STORE = 'hearth.conversations';
const SETTINGS = 'hearth.settings';
// Settings kept across visits: [storage key, element id]. Sampling fields
// left empty are not sent (the server's defaults apply).
const SETTING_FIELDS = [['system', 'system'], ['temperature', 'temperature'], ['top_p', 'top-p'], ['top_k', 'top-k'],
  ['min_p', 'min-p'], ['repeat_penalty', 'repeat-penalty'], ['seed', 'seed'], ['max_tokens', 'max-tokens']];

let conversations = JSON.parse(localStorage.getItem(STORE) || '[]');
let current = null;
let controller = null;
let models = [];
let attachments = [];  // images waiting in the composer: { url, name }
const openReasoning = new WeakSet();  // replies whose reasoning the user unfolded

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function setStatus(text) {
  $('status').textContent = text;
  $('status').hidden = !text;
}

function saveSettings() {
  const settings = { model: $('model').value };
  for (const [key, id] of SETTING_FIELDS) settings[key] = $(id).value;
  try {
    localStorage.setItem(SETTINGS, JSON.stringify(settings));
  } catch {
    // Storage full: save() says so; the settings are kept on the page.
  }
}

// Keeps the conversations; when storage is full, the images of the oldest
// conversations give way first, then the current one's earlier images.
function save() {
  for (;;) {
    try {
      localStorage.setItem(STORE, JSON.stringify(conversations));
      saveSettings();
      return;
    } catch (e) {
      if (e.name !== 'QuotaExceededError') throw e;
      if (dropOldestImages(conversations, current)) {
        setStatus('Browser storage is full: the images of older chats were dropped.');
        continue;
      }
      const withImages = current?.messages.slice(0, -1).find((m) => m.images?.some(Boolean));
      if (withImages) {
        withImages.images = withImages.images.map(() => null);
        setStatus('Browser storage is full: earlier images of this chat were dropped.');
        continue;
      }
      setStatus('Browser storage is full: this chat could not be saved. Delete some chats.');
      return;
    }
  }
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
      if (controller) return;
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

// Copies text; navigator.clipboard exists only in secure contexts (this page
// served from a LAN address is not one), so fall back to a selection.
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
}

function toolButton(label, testid, onclick) {
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = label;
  button.dataset.testid = testid;
  button.onclick = onclick;
  return button;
}

function imageStrip(urls) {
  const strip = document.createElement('div');
  strip.className = 'images';
  for (const url of urls) {
    if (url) {
      const img = document.createElement('img');
      img.src = url;
      img.alt = 'attached image';
      img.dataset.testid = 'message-image';
      strip.append(img);
    } else {
      const gone = document.createElement('span');
      gone.className = 'image-gone';
      gone.textContent = 'image no longer stored';
      strip.append(gone);
    }
  }
  return strip;
}

function messageElement(m, index, streaming = false) {
  const div = document.createElement('div');
  div.className = `message ${m.role}`;
  div.dataset.testid = `message-${m.role}`;
  if (m.role === 'user') {
    if (m.images?.length) div.append(imageStrip(m.images));
    const text = document.createElement('div');
    text.textContent = m.content;
    div.append(text);
    return div;
  }
  if (m.reasoning) {
    const details = document.createElement('details');
    details.className = 'reasoning';
    details.dataset.testid = 'reasoning';
    details.open = openReasoning.has(m);
    details.ontoggle = () => (details.open ? openReasoning.add(m) : openReasoning.delete(m));
    const summary = document.createElement('summary');
    summary.textContent = streaming && !m.content ? 'Thinking…' : 'Reasoning';
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
    note.className = m.note.startsWith('error') ? 'note error' : 'note';
    note.dataset.testid = 'note';
    note.textContent = m.note;
    div.append(note);
  }
  if (index !== undefined) {
    const tools = document.createElement('div');
    tools.className = 'tools';
    const copy = toolButton('Copy', 'copy', async () => {
      await copyText(m.content);
      copy.textContent = 'Copied';
      setTimeout(() => { copy.textContent = 'Copy'; }, 1500);
    });
    if (m.content) tools.append(copy);
    if (index === current.messages.length - 1)
      tools.append(toolButton('Regenerate', 'regenerate', () => {
        if (controller) return;
        current.messages.pop();
        save();
        complete();
      }));
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
  const model = models.find((m) => m.name === $('model').value);
  const used = current?.usage ?? 0;
  if (!model) $('context').textContent = '';
  else if (!model.n_ctx) $('context').textContent = `context ${used} tokens`;
  else $('context').textContent = `context ${used} / ${model.n_ctx} tokens (${Math.round((100 * used) / model.n_ctx)}%)`;
}

function renderAttachments() {
  const box = $('attachments');
  box.innerHTML = '';
  box.hidden = !attachments.length;
  attachments.forEach((a, i) => {
    const item = document.createElement('div');
    item.className = 'attachment';
    item.dataset.testid = 'attachment';
    const img = document.createElement('img');
    img.src = a.url;
    img.alt = a.name;
    img.title = a.name;
    const remove = toolButton('✕', 'remove-attachment', () => {
      attachments.splice(i, 1);
      renderAttachments();
    });
    remove.title = 'Remove';
    item.append(img, remove);
    box.append(item);
  });
  checkAttachments();
}

// Says in the composer when the chosen model does not take images.
async function checkAttachments() {
  const model = $('model').value;
  const caps = model ? await modelCapabilities(model) : null;
  if (model !== $('model').value) return;  // the choice changed meanwhile
  const textOnly = caps !== null && !caps.includes('vision');
  $('attach').disabled = textOnly;
  $('attach').title = textOnly ? `${model} does not take images` : 'Attach images (or paste or drop them)';
  const note = textOnly && attachments.length ? `${model} does not take images: pick a vision model or remove them.` : '';
  $('composer-note').textContent = note;
  $('composer-note').hidden = !note;
}

// Images are read one after another, so they line up in the order given.
let reading = Promise.resolve();
function addImages(files) {
  reading = reading.then(async () => {
    for (const file of files) {
      try {
        attachments.push(await imageFromFile(file));
      } catch (e) {
        setStatus(e.message);
      }
    }
    renderAttachments();
  });
}

async function refreshModels() {
  const fresh = await listModels();
  const changed = JSON.stringify(fresh) !== JSON.stringify(models);
  models = fresh;
  const settings = JSON.parse(localStorage.getItem(SETTINGS) || '{}');
  // Rebuilt only when something changed: rebuilding closes an open picker.
  if (changed) fillPicker($('model'), models, $('model').value || settings.model);
  showContext();
  checkAttachments();
}

// The chat so far as the API takes it. Replies that ended empty (an error,
// or stopped at once) stay, as empty turns: templates such as Gemma's refuse
// two user turns in a row.
function apiMessages(conversation) {
  const messages = [];
  if ($('system').value.trim()) messages.push({ role: 'system', content: $('system').value });
  for (const m of conversation.messages)
    messages.push({ role: m.role, content: m.role === 'user' ? apiContent(m) : m.content });
  return messages;
}

function samplingFields() {
  const body = { temperature: Number($('temperature').value), max_tokens: Number($('max-tokens').value) };
  for (const [key, id] of [['top_p', 'top-p'], ['top_k', 'top-k'], ['min_p', 'min-p'], ['repeat_penalty', 'repeat-penalty'], ['seed', 'seed']])
    if ($(id).value.trim() !== '') body[key] = Number($(id).value);
  return body;
}

async function errorMessage(res) {
  const body = await res.json().catch(() => ({}));
  const error = body.error?.message || (typeof body.error === 'string' ? body.error : '');
  return error || `HTTP ${res.status}`;
}

// Streams a reply to the conversation so far.
async function complete() {
  const conversation = current;
  const reply = { role: 'assistant', content: '', reasoning: '' };
  const messages = apiMessages(conversation);
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
      if (!controller) return;  // finished: render() drew the final state
      element.replaceChildren(...messageElement(reply, undefined, true).childNodes);
      box.scrollTop = box.scrollHeight;
    });
  };
  try {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      signal: controller.signal,
      body: JSON.stringify({
        model: $('model').value, messages, stream: true, stream_options: { include_usage: true }, ...samplingFields(),
      }),
    });
    if (!res.ok) throw new Error(await errorMessage(res));
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
          if (chunk.error) throw new Error(chunk.error.message || String(chunk.error));
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
    if (conversation.title === 'New chat' && conversation.messages.length) {
      const first = conversation.messages[0];
      conversation.title = first.content.slice(0, 40) || (first.images?.length ? '(image)' : 'New chat');
    }
    save();
    if (conversation === current) render();
    refreshModels();  // a stored model may be loaded now
  }
}

$('composer').onsubmit = (e) => {
  e.preventDefault();
  const text = $('input').value;
  if ((!text.trim() && !attachments.length) || controller) return;
  $('input').value = '';
  setStatus('');
  const message = { role: 'user', content: text };
  if (attachments.length) message.images = attachments.map((a) => a.url);
  attachments = [];
  renderAttachments();
  current.messages.push(message);
  save();
  complete();
};
$('input').onkeydown = (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    $('composer').requestSubmit();
  }
};
$('input').onpaste = (e) => {
  const files = imageFiles(e.clipboardData);
  if (!files.length) return;
  e.preventDefault();
  addImages(files);
};
$('attach').onclick = () => $('file').click();
$('file').onchange = () => {
  addImages([...$('file').files]);
  $('file').value = '';
};
// Images dropped anywhere on the chat.
const main = document.querySelector('main');
main.ondragover = (e) => {
  if (![...e.dataTransfer.types].includes('Files')) return;
  e.preventDefault();
  main.classList.add('dropping');
};
main.ondragleave = (e) => { if (!main.contains(e.relatedTarget)) main.classList.remove('dropping'); };
main.ondrop = (e) => {
  main.classList.remove('dropping');
  const files = imageFiles(e.dataTransfer);
  if (!files.length) return;
  e.preventDefault();
  addImages(files);
};
$('messages').onclick = (e) => {
  if (!e.target.classList.contains('copy-code')) return;
  copyText(e.target.nextElementSibling.textContent);
  e.target.textContent = 'Copied';
  setTimeout(() => { e.target.textContent = 'Copy'; }, 1500);
};
$('stop').onclick = () => controller?.abort();
$('new-chat').onclick = () => { if (!controller) newConversation(); };
$('model').onchange = () => { saveSettings(); showContext(); checkAttachments(); };
for (const [, id] of SETTING_FIELDS) $(id).onchange = saveSettings;

const settings = JSON.parse(localStorage.getItem(SETTINGS) || '{}');
for (const [key, id] of SETTING_FIELDS) if (settings[key] !== undefined) $(id).value = settings[key];
refreshModels().then(() => {
  current = conversations[0];
  if (!current) newConversation();
  render();
});
