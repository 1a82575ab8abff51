// The connection badge every console shows in its header: people must see
// at once when their link to the server is down and that it is being
// retried, with a countdown to the next attempt.

import { t } from './i18n.js';
import { Status } from './signaling.js';

export function connectionBadge(el, signaling) {
  let tick = null;
  const render = () => {
    const status = signaling.status;
    el.dataset.status = status;
    clearInterval(tick);
    if (status === Status.RECONNECTING && signaling.retryAt) {
      const update = () => {
        const secs = Math.max(0, Math.ceil((signaling.retryAt - Date.now()) / 1000));
        el.textContent = secs > 0 ? t('status.retry_in', { secs }) : t('status.reconnecting');
      };
      update();
      tick = setInterval(update, 500);
    } else {
      el.textContent = t(`status.${status}`);
    }
  };
  signaling.addEventListener('status', render);
  document.addEventListener('langchange', render);
  render();
}
