// What a page shows when another page or machine of its site took the
// site's connection over: a notice, and a button to take it back here.
// Nothing reconnects by itself (see MediaLink.onReplaced).

import { h } from './dom.js';
import { t } from './i18n.js';

/**
 * Shows the notice for `link`; the button calls `onTakeOver` (the page
 * clears what stops it rejoining) and restarts the connection.
 */
export function offerTakeOver(link, onTakeOver = () => {}) {
  let box = document.querySelector('#takeover');
  if (box) box.remove();
  const text = h('span', { text: t('media.replaced') });
  const button = h('button', {
    type: 'button',
    class: 'takeover-button',
    text: t('media.take_over'),
    onclick: () => {
      box.remove();
      onTakeOver();
      link.start();
    },
  });
  box = h('div', { id: 'takeover', class: 'takeover', role: 'alert' }, text, button);
  const relabel = () => {
    text.textContent = t('media.replaced');
    button.textContent = t('media.take_over');
  };
  document.addEventListener('langchange', relabel);
  document.body.appendChild(box);
}
