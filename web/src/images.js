// Image attachments: files the user picks, pastes or drops become data URLs
// that are sent as OpenAI `image_url` parts and kept with the conversation in
// localStorage. Storage is small (about 5 MB an origin in Chromium and
// Firefox), so large images are scaled down before they are kept.

// Longest side kept: above what vision encoders take in (Gemma 3: 896,
// Qwen2.5-VL tiles up to ~1300), so nothing the model could see is lost.
export const MAX_SIDE = 1536;
// Images at most this size in a format the server decodes are kept byte for byte.
const KEEP_BYTES = 512 * 1024;
const SERVER_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/bmp', 'image/webp'];

function readAsDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

// One file -> { url, name, width, height }. Throws an Error a user can read.
export async function imageFromFile(file) {
  const name = file.name || 'image';
  if (!file.type.startsWith('image/')) throw new Error(`${name} is not an image`);
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(`${name}: this browser can not read the image`);
  }
  const { width, height } = bitmap;
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  if (scale === 1 && file.size <= KEEP_BYTES && SERVER_TYPES.includes(file.type)) {
    bitmap.close();
    return { url: await readAsDataUrl(file), name, width, height };
  }
  // Too large, or a format the server does not read (SVG, AVIF, ...): a JPEG
  // on white (JPEG has no alpha).
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return { url: canvas.toDataURL('image/jpeg', 0.85), name, width: canvas.width, height: canvas.height };
}

// The image files among a DataTransfer's items (paste, drop).
export function imageFiles(dataTransfer) {
  return [...(dataTransfer?.files || [])].filter((f) => f.type.startsWith('image/'));
}

// A user message as the API takes it: the images first, then the text (the
// order llama.cpp's mtmd gives them). Images dropped from storage are left out.
export function apiContent(message) {
  const images = (message.images || []).filter(Boolean);
  if (!images.length) return message.content;
  const parts = images.map((url) => ({ type: 'image_url', image_url: { url } }));
  if (message.content) parts.push({ type: 'text', text: message.content });
  return parts;
}

// Frees room in storage: drops the images of the oldest conversations first
// (they stay as placeholders). Returns whether any were dropped.
export function dropOldestImages(conversations, keep) {
  for (let i = conversations.length - 1; i >= 0; --i) {
    const c = conversations[i];
    if (c === keep) continue;
    let dropped = false;
    for (const m of c.messages)
      if (m.images?.some(Boolean)) {
        m.images = m.images.map(() => null);
        dropped = true;
      }
    if (dropped) return true;
  }
  return false;
}
