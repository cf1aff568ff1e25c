// Two small SVG charts drawn by hand: block intervals (bars) and difficulty (a line).

const SVG = 'http://www.w3.org/2000/svg';
const HEIGHT = 160;
// The drawing is redone at the chart's own pixel width, so text is never stretched.
let WIDTH = 600;
const PAD = { left: 44, right: 8, top: 10, bottom: 18 };

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Axis labels: a short number such as `12`, `3.5k`, `2.1M`. */
function tick(value) {
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toFixed(1)}G`;
  if (abs >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (abs >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  if (abs > 0 && abs < 10) return value.toFixed(value === Math.round(value) ? 0 : 2);
  return value.toFixed(0);
}

/** Clears `svg` and draws the frame for values in [0, max]; returns the y scale. */
function frame(svg, max, caption) {
  start(svg);
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const y = (value) => PAD.top + plotHeight * (1 - value / max);
  for (const fraction of [0, 0.5, 1]) {
    const value = max * fraction;
    svg.append(svgEl('line', { class: 'grid', x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value) }));
    svg.append(svgEl('text', { class: 'axis', x: PAD.left - 6, y: y(value) + 4, 'text-anchor': 'end' }, tick(value)));
  }
  svg.append(svgEl('text', { class: 'axis', x: WIDTH - PAD.right, y: HEIGHT - 4, 'text-anchor': 'end' }, caption));
  return y;
}

function start(svg) {
  WIDTH = Math.max(200, Math.round(svg.getBoundingClientRect().width) || 600);
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
}

function empty(svg) {
  start(svg);
  svg.append(svgEl('text', { class: 'axis', x: WIDTH / 2, y: HEIGHT / 2, 'text-anchor': 'middle' }, 'waiting for blocks'));
}

/**
 * `blocks`: summaries, oldest first. Bars are the seconds between each block and its parent. The
 * gap after the genesis block (whose time was fixed long before the chain started) is left out: it
 * says nothing about mining and would flatten every real bar.
 */
export function drawIntervals(svg, blocks, targetSeconds) {
  const intervals = [];
  for (let i = 1; i < blocks.length; i++) {
    if (blocks[i].height === blocks[i - 1].height + 1 && blocks[i - 1].height > 0) {
      intervals.push({ height: blocks[i].height, seconds: blocks[i].time - blocks[i - 1].time });
    }
  }
  if (intervals.length === 0) return empty(svg);
  const max = Math.max(1, targetSeconds || 0, ...intervals.map((i) => i.seconds)) * 1.1;
  const y = frame(svg, max, `${intervals[0].height}–${intervals.at(-1).height}`);
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const step = plotWidth / intervals.length;
  intervals.forEach((interval, i) => {
    const top = y(Math.max(0, interval.seconds));
    const bar = svgEl('rect', {
      class: 'bar',
      x: PAD.left + i * step + step * 0.15,
      y: top,
      width: Math.max(1, step * 0.7),
      height: Math.max(0, y(0) - top),
    });
    bar.append(svgEl('title', {}, `block ${interval.height}: ${interval.seconds} s`));
    svg.append(bar);
  });
  if (targetSeconds) {
    svg.append(svgEl('line', { class: 'target', x1: PAD.left, x2: WIDTH - PAD.right, y1: y(targetSeconds), y2: y(targetSeconds) }));
  }
}

/** `blocks`: summaries, oldest first; one point per block. */
export function drawDifficulty(svg, blocks) {
  if (blocks.length < 2) return empty(svg);
  const max = Math.max(...blocks.map((b) => b.difficulty)) * 1.1 || 1;
  const y = frame(svg, max, `${blocks[0].height}–${blocks.at(-1).height}`);
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const x = (i) => PAD.left + (plotWidth * i) / (blocks.length - 1);
  const points = blocks.map((b, i) => `${x(i).toFixed(1)},${y(b.difficulty).toFixed(1)}`).join(' ');
  svg.append(svgEl('polyline', { class: 'line', points }));
}

/** Blocks each hashrate point looks back over, as the header's figure does (`/api/status`). */
const HASHRATE_WINDOW = 10;

/**
 * `blocks`: summaries, oldest first; `workAtDifficulty1`: the expected hashes of a block at
 * difficulty 1. Each point is the work of the blocks in the window before it over the time they
 * took (never counting the gap after the genesis block).
 */
export function drawHashrate(svg, blocks, workAtDifficulty1) {
  const points = [];
  for (let i = 1; i < blocks.length; i++) {
    let first = Math.max(0, i - HASHRATE_WINDOW);
    while (first < i && blocks[first].height === 0) first += 1;
    if (first >= i || blocks[i].height - blocks[first].height !== i - first) continue;
    const seconds = Math.max(1, blocks[i].time - blocks[first].time);
    let difficulty = 0;
    for (let j = first + 1; j <= i; j++) difficulty += blocks[j].difficulty;
    points.push({ height: blocks[i].height, rate: (difficulty * workAtDifficulty1) / seconds });
  }
  if (points.length < 2 || !(workAtDifficulty1 > 0)) return empty(svg);
  const max = Math.max(...points.map((p) => p.rate)) * 1.1 || 1;
  const y = frame(svg, max, `${points[0].height}–${points.at(-1).height} (H/s)`);
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const x = (i) => PAD.left + (plotWidth * i) / (points.length - 1);
  const line = points.map((p, i) => `${x(i).toFixed(1)},${y(p.rate).toFixed(1)}`).join(' ');
  svg.append(svgEl('polyline', { class: 'line', points: line }));
}
