// Small DOM helpers. The pages build their views with these instead of
// innerHTML so that names typed by people (topics, representatives) are
// always inserted as text, never as markup.

/**
 * Creates an element. `attrs` keys: `class`, `text`, `dataset` (object),
 * `style` (object), `on<event>` (listener), anything else as an attribute
 * (`false`/`null`/`undefined` leave it out, `true` sets it empty).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style') Object.assign(el.style, value);
    else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** The first element matching `selector`, or throws: a page without its own markup is a bug. */
export function $(selector, root = document) {
  const el = root.querySelector(selector);
  if (!el) throw new Error(`missing element ${selector}`);
  return el;
}

/** Replaces every child of `el`. */
export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** Shows or hides an element with the `hidden` attribute. */
export function show(el, visible) {
  el.hidden = !visible;
}

/** A transient message at the bottom of the page. */
export function toast(text, kind = 'info', ms = 4000) {
  // A toast is gone in seconds; the console keeps what went wrong.
  if (kind === 'error') console.warn(text);
  let box = document.querySelector('.toasts');
  if (!box) {
    box = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(box);
  }
  const item = h('div', { class: `toast toast-${kind}`, text });
  box.appendChild(item);
  setTimeout(() => item.remove(), ms);
}
