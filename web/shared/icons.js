// The few icons the consoles use, drawn inline as SVG: emoji depend on the
// fonts of the operator's machine, and many control-room PCs have none.

const NS = 'http://www.w3.org/2000/svg';

const SHAPES = {
  // A loudspeaker with two sound waves.
  speaker: [
    ['path', { d: 'M3 9h4l5-4v14l-5-4H3z', fill: 'currentColor' }],
    ['path', { d: 'M15.5 8.5a5 5 0 0 1 0 7M18 6a8.5 8.5 0 0 1 0 12', fill: 'none', stroke: 'currentColor', 'stroke-width': '2', 'stroke-linecap': 'round' }],
  ],
  // A microphone on its stand.
  mic: [
    ['rect', { x: '9', y: '2.5', width: '6', height: '11.5', rx: '3', fill: 'currentColor' }],
    ['path', { d: 'M5.5 11a6.5 6.5 0 0 0 13 0M12 17.5V21M8.5 21h7', fill: 'none', stroke: 'currentColor', 'stroke-width': '2', 'stroke-linecap': 'round' }],
  ],
  // The same microphone struck through: muted.
  micOff: [
    ['rect', { x: '9', y: '2.5', width: '6', height: '11.5', rx: '3', fill: 'currentColor' }],
    ['path', { d: 'M5.5 11a6.5 6.5 0 0 0 13 0M12 17.5V21M8.5 21h7', fill: 'none', stroke: 'currentColor', 'stroke-width': '2', 'stroke-linecap': 'round' }],
    ['path', { d: 'M3.5 3.5l17 17', fill: 'none', stroke: 'currentColor', 'stroke-width': '2.4', 'stroke-linecap': 'round' }],
  ],
  // A raised hand: four fingers, a thumb and the palm.
  hand: [
    ['rect', { x: '7', y: '3', width: '2.6', height: '10', rx: '1.3', fill: 'currentColor' }],
    ['rect', { x: '10.2', y: '2', width: '2.6', height: '11', rx: '1.3', fill: 'currentColor' }],
    ['rect', { x: '13.4', y: '3', width: '2.6', height: '10', rx: '1.3', fill: 'currentColor' }],
    ['rect', { x: '16.6', y: '5', width: '2.6', height: '9', rx: '1.3', fill: 'currentColor' }],
    ['path', { d: 'M4.2 11.5a1.4 1.4 0 0 1 2.3-1.6L9 13V12h10.2v3.5c0 3.6-2.7 6.5-6.2 6.5h-1.2c-2 0-3.3-.8-4.4-2.3z', fill: 'currentColor' }],
  ],
};

/** An inline SVG icon, sized by the surrounding font (1em). */
export function icon(name, label = null) {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '1em');
  svg.setAttribute('height', '1em');
  svg.setAttribute('class', `icon icon-${name}`);
  if (label) {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
  } else {
    svg.setAttribute('aria-hidden', 'true');
  }
  for (const [tag, attrs] of SHAPES[name] || []) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    svg.appendChild(el);
  }
  return svg;
}
