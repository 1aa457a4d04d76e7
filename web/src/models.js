// The model picker's data, from the server's Ollama API: the models in the
// store (/api/tags) and the loaded ones (/api/ps), as one list with each
// marked loaded or not, plus each one's capabilities (/api/show) and context
// size (/api/ps's context_length where given, else hearth's /chat/models).

async function getJson(path, init) {
  try {
    const res = await fetch(path, init);
    return res.ok ? await res.json() : null;
  } catch {
    return null;
  }
}

// [{ name, loaded, stored, n_ctx? }]: the store's order, then models that
// are loaded without being in the store.
export async function listModels() {
  const [tags, ps, chat] = await Promise.all([getJson('/api/tags'), getJson('/api/ps'), getJson('/chat/models')]);
  const byName = new Map();
  const entry = (name) => {
    if (!byName.has(name)) byName.set(name, { name, loaded: false, stored: false });
    return byName.get(name);
  };
  for (const m of tags?.models || []) entry(m.name || m.model).stored = true;
  for (const m of ps?.models || []) {
    const e = entry(m.name || m.model);
    e.loaded = true;
    if (m.context_length) e.n_ctx = m.context_length;
  }
  for (const m of chat?.models || []) if (byName.has(m.id) && !byName.get(m.id).n_ctx) byName.get(m.id).n_ctx = m.n_ctx;
  return [...byName.values()];
}

const capabilities = new Map();

// The model's capabilities (["completion", "vision", ...]), or null when the
// server does not say.
export async function modelCapabilities(name) {
  if (!capabilities.has(name)) {
    const show = await getJson('/api/show', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ model: name }),
    });
    if (!Array.isArray(show?.capabilities)) return null;  // not cached: the next look may succeed
    capabilities.set(name, show.capabilities);
  }
  return capabilities.get(name);
}

// Fills the <select>: loaded models first, then the stored ones that load
// on first use; keeps `selected` when it is still listed.
export function fillPicker(select, models, selected) {
  select.innerHTML = '';
  const groups = [
    ['Loaded', models.filter((m) => m.loaded)],
    ['In the store (loads on first use)', models.filter((m) => !m.loaded)],
  ];
  for (const [label, list] of groups) {
    if (!list.length) continue;
    const group = document.createElement('optgroup');
    group.label = label;
    for (const m of list) {
      const option = document.createElement('option');
      option.value = m.name;
      option.textContent = m.name;
      option.dataset.loaded = String(m.loaded);
      group.append(option);
    }
    select.append(group);
  }
  if (selected && models.some((m) => m.name === selected)) select.value = selected;
}
