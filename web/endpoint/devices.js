// Camera and microphone: the first ones the browser offers, then whatever
// the site picks in the two lists (remembered for the next meeting).

import { $, h } from '../shared/dom.js';
import { t } from '../shared/i18n.js';

const STORE = 'diemcau.devices';

export class Devices extends EventTarget {
  constructor() {
    super();
    this.camera = $('#camera-select');
    this.mic = $('#mic-select');
    this.stream = null;
    this.camera.addEventListener('change', () => this.change());
    this.mic.addEventListener('change', () => this.change());
    if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
      navigator.mediaDevices.addEventListener('devicechange', () => this.list());
    }
  }

  remembered() {
    try {
      return JSON.parse(localStorage.getItem(STORE) || '{}');
    } catch {
      return {};
    }
  }

  /** Opens the remembered (or default) devices. Returns the stream or null. */
  async open() {
    const saved = this.remembered();
    this.stream = await this.get(saved.camera, saved.mic);
    await this.list();
    return this.stream;
  }

  async get(cameraId, micId) {
    const video = { width: 1280, height: 720 };
    if (cameraId) video.deviceId = { ideal: cameraId };
    const audio = micId ? { deviceId: { ideal: micId } } : true;
    try {
      return await navigator.mediaDevices.getUserMedia({ audio, video });
    } catch (err) {
      this.dispatchEvent(new CustomEvent('error', { detail: err }));
      return null;
    }
  }

  async list() {
    let devices = [];
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch {
      return;
    }
    const using = (kind) => {
      const track = this.stream && this.stream.getTracks().find((x) => x.kind === kind);
      return track ? track.getSettings().deviceId : '';
    };
    fill(this.camera, devices.filter((d) => d.kind === 'videoinput'), using('video'), 'endpoint.camera_n');
    fill(this.mic, devices.filter((d) => d.kind === 'audioinput'), using('audio'), 'endpoint.mic_n');
  }

  async change() {
    const stream = await this.get(this.camera.value, this.mic.value);
    if (!stream) return;
    try {
      localStorage.setItem(STORE, JSON.stringify({ camera: this.camera.value, mic: this.mic.value }));
    } catch {
      // Not remembered; still used now.
    }
    const old = this.stream;
    this.stream = stream;
    this.dispatchEvent(new CustomEvent('stream', { detail: stream }));
    if (old) for (const track of old.getTracks()) track.stop();
  }
}

function fill(select, devices, current, labelKey) {
  const options = devices.map((d, i) => h('option', { value: d.deviceId, text: d.label || t(labelKey, { n: i + 1 }) }));
  select.replaceChildren(...options);
  if (current && devices.some((d) => d.deviceId === current)) select.value = current;
  select.disabled = devices.length < 2;
}
