// What every console does first: translations, the language switch, the
// token from the fragment, and the API, socket and session feed built on it.

import { Api } from './api.js';
import { $, h, replaceChildren } from './dom.js';
import { applyI18n, langSwitch, t } from './i18n.js';
import { SessionFeed } from './session.js';
import { Signaling } from './signaling.js';
import { connectionBadge } from './status.js';
import { storeToken, tokenFromHash } from './token.js';

/**
 * Sets the page up. Returns `{token, api, signaling, feed}`, or null when
 * the page has no token (it then explains how to get one).
 */
export function boot() {
  applyI18n(document);
  const switcher = document.querySelector('.lang-switch');
  if (switcher) langSwitch(switcher);
  // A new link pasted into the same tab carries a new token.
  window.addEventListener('hashchange', () => location.reload());
  const token = tokenFromHash();
  if (!token) {
    const main = $('main');
    const render = () =>
      replaceChildren(
        main,
        h('section', { class: 'fatal' }, h('h2', { text: t('error.no_token_title') }), h('p', { text: t('error.no_token') })),
      );
    render();
    document.addEventListener('langchange', render);
    return null;
  }
  const api = new Api(token);
  const signaling = new Signaling(token);
  // The socket renews the token before it expires; REST calls and a reload
  // use the renewed one.
  signaling.addEventListener('token', (e) => {
    api.token = e.detail.token;
    storeToken(e.detail.token);
  });
  const feed = new SessionFeed(signaling, api);
  const badge = document.querySelector('.conn-status');
  if (badge) connectionBadge(badge, signaling);
  return { token, api, signaling, feed };
}
