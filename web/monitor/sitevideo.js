// The selected site's live picture. The console holds one receive-only
// connection, and the server gives it what it gives the chair: a tile per
// site. The console tells the server which tile it shows (`watch`), so
// only that one carries media to it rather than every site's at once.
// The tile of the link selected in the table plays beside its chart; a
// viewer's link, or a site with no tile yet, shows nothing. Sound stays
// off: the technician watches the picture and reads the figures.

import { $ } from '../shared/dom.js';
import { attach, detach } from '../shared/media.js';
import { t } from '../shared/i18n.js';
import { MediaLink } from '../shared/rtc.js';

export class SiteVideo {
  constructor(signaling) {
    this.signaling = signaling;
    this.link = null;
    this.tiles = new Map(); // site code -> MediaStream
    this.code = null;
    this.name = '';
    this.box = $('#link-video-box');
    this.video = $('#link-video');
    this.caption = $('#link-video-caption');
    document.addEventListener('langchange', () => this.render());
  }

  /** Connects (again) after the socket's `welcome`. */
  async join(welcome) {
    if (this.link) this.link.close();
    this.tiles.clear();
    this.render();
    this.watch();
    const link = new MediaLink(this.signaling, {
      iceServers: welcome.ice_servers || [],
      stream: null,
      // The `chair` and `floor` slots fill these lines, then `content`
      // (receive-only, a line MediaLink adds); the tiles come in the
      // server's own offers.
      receive: { audio: 2, video: 2 },
      content: 'recvonly',
    });
    this.link = link;
    link.addEventListener('track', (e) => this.onTrack(e.detail));
    link.addEventListener('trackgone', (e) => this.onGone(e.detail));
    try {
      await link.start();
    } catch (err) {
      console.warn('site pictures unavailable', err);
    }
  }

  onTrack({ slot, endpoint, kind, stream }) {
    if (kind !== 'video' || slot !== 'tile' || !endpoint) return;
    this.tiles.set(endpoint, stream);
    if (endpoint === this.code) this.render();
  }

  onGone({ slot, endpoint, kind }) {
    if (kind !== 'video' || slot !== 'tile' || !endpoint) return;
    this.tiles.delete(endpoint);
    if (endpoint === this.code) this.render();
  }

  /** Shows site `code` (null for a viewer's link), named `name`. */
  show(code, name) {
    const changed = (code || null) !== this.code;
    this.code = code || null;
    this.name = name || code || '';
    if (changed) this.watch();
    this.render();
  }

  /** Asks the server for the tile shown, and no other. */
  watch() {
    this.signaling.send({ type: 'watch', endpoints: this.code ? [this.code] : [] });
  }

  render() {
    const stream = this.code ? this.tiles.get(this.code) : null;
    this.box.hidden = !stream;
    if (!stream) {
      detach(this.video);
      return;
    }
    this.caption.textContent = t('monitor.site_video', { who: `${this.code} · ${this.name}` });
    attach(this.video, stream);
  }
}
