// The agent DAG around a run (#/run/ID): the run, its parents and children, and theirs, a few
// steps away at most, drawn as an inline SVG by this code (no library, no request elsewhere).
// Generations go down the page (a parent above its children); a generation wider than the page
// wraps onto more rows, so every node keeps a readable size on a phone. Each stored run is a link
// to its page, reached with Tab in reading order.
import { api, errorBlock, h, visible } from './common.js';

/** How far from the run the graph reaches (steps along parent or child edges), and how big it gets. */
export const GRAPH_STEPS = 3;
export const GRAPH_NODES = 40;
/** Children read per run, the newest (as the runs list pages them): more are left to the runs list (the node says so). */
const CHILDREN_READ = 12;

const NODE_W = 164;
const NODE_H = 46;
const GAP_X = 14;
const GAP_ROW = 24;
const GAP_GENERATION = 40;
const PAD = 6;

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element; text is never parsed as markup, and drawn as h() draws it (visible: no character reorders it). */
function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) if (value !== undefined && value !== null) element.setAttribute(name, name === 'aria-label' ? visible(String(value)) : String(value));
  for (const child of children.flat()) if (child !== undefined && child !== null) element.append(child instanceof Node ? child : visible(String(child)));
  return element;
}

const cut = (text, length) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);
/** The distinctive part of a run identity: the digest's first hex digits. */
const idLabel = (runId, digits = 12) => `run ${runId.slice(runId.lastIndexOf('-') + 1, runId.lastIndexOf('-') + 1 + digits)}…`;

/** The key of a stored run in the graph: its run identity, else (no identity) its capture id. */
const keyOf = (run) => run.record.runId ?? run.captureId;

/**
 * The runs around `run`: breadth first along parent and child edges, GRAPH_STEPS steps and
 * GRAPH_NODES runs at most, one round of requests per step. Parents named but not stored are
 * nodes without a page.
 */
export async function collectGraph(run) {
  const nodes = new Map();
  const edges = new Map();
  let truncated = false;
  const node = (key, stored, steps) => {
    if (!nodes.has(key)) nodes.set(key, { key, run: stored, steps, moreChildren: false });
    return nodes.get(key);
  };
  const edge = (parent, child) => edges.set(`${parent}\n${child}`, { parent, child });
  node(keyOf(run), run, 0);
  let frontier = [nodes.get(keyOf(run))];
  for (let step = 1; step <= GRAPH_STEPS && frontier.length > 0; step++) {
    const next = [];
    const room = () => {
      if (nodes.size < GRAPH_NODES) return true;
      truncated = true;
      return false;
    };
    // Parents named by the frontier's records and not yet known, read by run identity.
    const wanted = new Set();
    for (const { run: stored } of frontier) for (const parent of stored?.record.parents ?? []) if (!nodes.has(parent)) wanted.add(parent);
    const parents = new Map(await Promise.all([...wanted].map(async (id) => {
      try {
        const { runs } = await api(`/v1/runs/${encodeURIComponent(id)}`);
        return [id, runs[runs.length - 1]];
      } catch (error) {
        if (error.code === 'ERR_RUN_NOT_FOUND') return [id, null];
        throw error;
      }
    })));
    const children = await Promise.all(frontier.map((known) => (known.run?.record.runId == null ? [] : api(`/v1/runs?${new URLSearchParams({ parent: known.run.record.runId, limit: String(CHILDREN_READ + 1) })}`).then((answer) => answer.runs))));
    frontier.forEach((known, index) => {
      for (const parent of known.run?.record.parents ?? []) {
        if (!nodes.has(parent)) {
          if (!room()) continue;
          next.push(node(parent, parents.get(parent) ?? null, step));
        }
        edge(parent, known.key);
      }
      const found = children[index];
      if (found.length > CHILDREN_READ) known.moreChildren = true;
      // Drawn oldest first: the order the steps ran.
      for (const child of found.slice(0, CHILDREN_READ).reverse()) {
        const key = keyOf(child);
        if (!nodes.has(key)) {
          if (!room()) continue;
          next.push(node(key, child, step));
        }
        edge(known.key, key);
      }
    });
    frontier = next;
  }
  // The last step's runs: their edges to runs already shown (their own parents and children are not read).
  for (const known of frontier) {
    known.unexplored = true;
    for (const parent of known.run?.record.parents ?? []) if (nodes.has(parent)) edge(parent, known.key);
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()], truncated };
}

/** Generations: a run one below its lowest parent shown (longest path from the graph's sources); a run with no parent shown just above its highest child. */
function generations(nodes, edges) {
  const parentsOf = new Map(nodes.map((node) => [node.key, []]));
  for (const { parent, child } of edges) parentsOf.get(child).push(parent);
  const level = new Map();
  const visiting = new Set();
  const levelOf = (key) => {
    if (level.has(key)) return level.get(key);
    if (visiting.has(key)) return 0; // a cycle cannot come from run identities; never loop on one
    visiting.add(key);
    const value = Math.max(-1, ...parentsOf.get(key).map(levelOf)) + 1;
    visiting.delete(key);
    level.set(key, value);
    return value;
  };
  for (const node of nodes) node.level = levelOf(node.key);
  // A run whose parents are not shown sits just above its highest child, not at the top with an
  // edge across every generation between.
  for (const node of nodes) {
    if (parentsOf.get(node.key).length > 0) continue;
    const below = edges.filter((edge) => edge.parent === node.key).map((edge) => level.get(edge.child));
    if (below.length > 0) node.level = Math.min(...below) - 1;
  }
  return parentsOf;
}

/** Positions every node: generations top to bottom, each wrapped to `perRow` nodes a row, ordered under their parents. */
function layout(graph, width) {
  const parentsOf = generations(graph.nodes, graph.edges);
  const perRow = Math.max(1, Math.floor((width - 2 * PAD + GAP_X) / (NODE_W + GAP_X)));
  const byLevel = [];
  for (const node of graph.nodes) (byLevel[node.level] ??= []).push(node);
  const order = new Map();
  let y = PAD;
  let widest = 1;
  for (const level of byLevel) {
    if (level === undefined) continue;
    // Under the mean place of their parents, then oldest first.
    const place = (node) => {
      const known = parentsOf.get(node.key).filter((key) => order.has(key)).map((key) => order.get(key));
      return known.length === 0 ? 0 : known.reduce((a, b) => a + b, 0) / known.length;
    };
    level.sort((a, b) => place(a) - place(b) || (a.run?.seq ?? 0) - (b.run?.seq ?? 0));
    const columns = Math.min(perRow, level.length);
    widest = Math.max(widest, columns);
    level.forEach((node, index) => {
      order.set(node.key, index);
      const row = Math.floor(index / perRow);
      const inRow = Math.min(perRow, level.length - row * perRow);
      // A short last row is centred under the full ones.
      const offset = ((columns - inRow) * (NODE_W + GAP_X)) / 2;
      node.x = PAD + offset + (index % perRow) * (NODE_W + GAP_X);
      node.y = y + row * (NODE_H + GAP_ROW);
    });
    y += Math.ceil(level.length / perRow) * (NODE_H + GAP_ROW) - GAP_ROW + GAP_GENERATION;
  }
  const used = widest * (NODE_W + GAP_X) - GAP_X + 2 * PAD;
  // Generations narrower than the widest are centred.
  for (const level of byLevel) {
    if (level === undefined) continue;
    const columns = Math.min(perRow, level.length);
    const shift = ((widest - columns) * (NODE_W + GAP_X)) / 2;
    for (const node of level) node.x += shift;
  }
  return { width: used, height: y - GAP_GENERATION + PAD };
}

/** Room kept between an edge and a node box it passes beside. */
const CLEARANCE = GAP_X / 2;

/**
 * The path of the edge from `from` to `to`, clear of every other node box: it leaves the parent's
 * bottom, and before each row of boxes between the two (generations in between, or the other rows
 * of a wrapped generation) it moves into a gap of that row, the one nearest its straight course,
 * passes the row there, and ends on the child's top. Bends are made in the space between rows,
 * where there is no box, so an edge never runs through a node it does not connect (drawn straight,
 * a long edge would pass through the runs in between and read as an edge to them). `lanes` counts
 * the edges already routed through each gap, so edges sharing one are drawn side by side.
 */
function edgePath(from, to, nodes, lanes) {
  const x1 = from.x + NODE_W / 2;
  const y1 = from.y + NODE_H;
  const x2 = to.x + NODE_W / 2;
  const y2 = to.y;
  const rows = new Map();
  for (const node of nodes) {
    if (node === from || node === to || node.y + NODE_H <= y1 || node.y >= y2) continue;
    (rows.get(node.y) ?? rows.set(node.y, []).get(node.y)).push(node);
  }
  const points = [[x1, y1]];
  for (const y of [...rows.keys()].sort((a, b) => a - b)) {
    const boxes = rows.get(y);
    const course = x1 + ((x2 - x1) * (y + NODE_H / 2 - y1)) / (y2 - y1);
    const free = (x) => boxes.every((box) => x < box.x - CLEARANCE / 2 || x > box.x + NODE_W + CLEARANCE / 2);
    const gaps = [course, ...boxes.flatMap((box) => [box.x - CLEARANCE, box.x + NODE_W + CLEARANCE])].filter(free);
    const lane = gaps.reduce((best, x) => (Math.abs(x - course) < Math.abs(best - course) ? x : best));
    // Edges already in this gap: the next one beside them, alternately left and right.
    const key = `${y} ${lane}`;
    const used = lanes.get(key) ?? 0;
    lanes.set(key, used + 1);
    const shifted = lane + (used === 0 ? 0 : (used % 2 === 1 ? -1 : 1) * 3 * Math.ceil(used / 2));
    points.push([free(shifted) ? shifted : lane, y], [free(shifted) ? shifted : lane, y + NODE_H]);
  }
  points.push([x2, y2 - 3]);
  let d = `M${x1} ${y1}`;
  for (let i = 1; i < points.length; i++) {
    const [xa, ya] = points[i - 1];
    const [xb, yb] = points[i];
    // Odd steps cross the space between rows (a bend); even ones pass a row in its gap (straight down).
    if (i % 2 === 1) {
      const bend = yb > ya ? (yb - ya) / 2 : 16;
      d += ` C${xa} ${ya + bend} ${xb} ${yb - bend} ${xb} ${yb}`;
    } else {
      d += ` L${xb} ${yb}`;
    }
  }
  return { d, xs: points.map(([x]) => x) };
}

/** The SVG of a laid out graph; `current` is the key of the run whose page this is. */
function drawing(graph, size, current) {
  const byKey = new Map(graph.nodes.map((node) => [node.key, node]));
  const lanes = new Map();
  let left = 0;
  let right = size.width;
  const edges = graph.edges.map(({ parent, child }) => {
    const { d, xs } = edgePath(byKey.get(parent), byKey.get(child), graph.nodes, lanes);
    // A lane beside the outermost box widens the drawing.
    left = Math.min(left, ...xs.map((x) => x - PAD));
    right = Math.max(right, ...xs.map((x) => x + PAD));
    return s('path', { class: 'edge', d, 'marker-end': 'url(#graph-arrow)', 'data-parent': parent, 'data-child': child });
  });
  const nodes = [...graph.nodes].sort((a, b) => a.y - b.y || a.x - b.x).map((node) => {
    const { run } = node;
    const isCurrent = node.key === current;
    const title = run === null ? `${node.key}: named as a parent, not in this store` : `#${run.seq} ${run.model ?? 'no model'} · ${run.record.runId ?? `capture ${run.captureId} (no run identity)`}`;
    const lines = run === null
      ? [s('text', { x: 8, y: 19, class: 'label' }, 'not in this store'), s('text', { x: 8, y: 36, class: 'id' }, idLabel(node.key))]
      : [s('text', { x: 8, y: 19, class: 'label' }, `#${run.seq} ${run.model ?? '—'}`), s('text', { x: 8, y: 36, class: 'id' }, run.record.runId === null ? 'no run identity' : idLabel(run.record.runId, node.moreChildren ? 8 : 12))];
    const box = s('rect', { width: NODE_W, height: NODE_H, rx: 7 });
    const more = node.moreChildren ? s('text', { x: NODE_W - 8, y: 36, class: 'more', 'text-anchor': 'end' }, '+ more') : null;
    // The focus ring: drawn around the box, apart from it (PAD leaves room), shown on keyboard focus.
    const ring = run === null ? null : s('rect', { class: 'focus-ring', x: -4.5, y: -4.5, width: NODE_W + 9, height: NODE_H + 9, rx: 10 });
    const group = [s('title', {}, title), box, ...lines, more, ring];
    const classes = ['node', isCurrent ? 'current' : '', run === null ? 'missing' : '', run !== null && run.record.incomplete !== null ? 'failed' : ''].filter(Boolean).join(' ');
    const attributes = { class: classes, transform: `translate(${node.x} ${node.y})`, 'data-run': node.key, 'data-level': node.level };
    if (run === null) return s('g', { ...attributes, role: 'img', 'aria-label': title }, ...group);
    return s('a', { ...attributes, href: `#/run/${encodeURIComponent(run.record.runId ?? run.captureId)}`, 'aria-label': `${isCurrent ? 'This run: ' : ''}${title}`, 'aria-current': isCurrent ? 'page' : undefined }, ...group);
  });
  const width = right - left;
  return s('svg', { width, height: size.height, viewBox: `${left} 0 ${width} ${size.height}`, role: 'group', 'aria-label': 'Agent graph: parents above their children' },
    s('defs', {}, s('marker', { id: 'graph-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0 0 L10 5 L0 10 z', class: 'arrow' }))),
    s('g', { class: 'edges' }, edges), s('g', { class: 'nodes' }, nodes));
}

/** Room for a node's label: the box less its padding on both sides. */
const LABEL_ROOM = NODE_W - 16;

/**
 * Each node label wider than its box (a long model name: "#12 claude-sonnet-4-5" in bold), cut
 * with an ellipsis where it fits, measured as drawn; the whole label is its title. A drawing not
 * on the page yet measures 0 and keeps its labels.
 */
function fitLabels(figure) {
  for (const label of figure.querySelectorAll('text.label')) {
    const whole = label.textContent;
    const drawn = label.getComputedTextLength();
    if (drawn <= LABEL_ROOM) {
      // Not laid out (0): cut by characters, as many as a box holds of the widest.
      if (drawn === 0 && whole.length > 20) label.textContent = cut(whole, 20);
      continue;
    }
    let length = whole.length - 1;
    label.textContent = `${whole.slice(0, length)}…`;
    while (length > 1 && label.getComputedTextLength() > LABEL_ROOM) label.textContent = `${whole.slice(0, --length)}…`;
    label.dataset.full = whole;
    label.prepend(s('title', {}, whole));
  }
}

/**
 * The graph section of a run page: drawn once its runs are read, drawn again when the width
 * changes the number of nodes a row holds. `figure` gets data-ready when drawn.
 */
export function agentGraph(run) {
  const figure = h('figure', { class: 'agent-graph', id: 'agent-graph', 'aria-describedby': 'agent-graph-caption' }, h('p', { class: 'muted' }, 'Reading the runs around this one…'));
  const section = [h('h2', { id: 'graph' }, 'Agent graph'), figure];
  void (async () => {
    let graph;
    try {
      graph = await collectGraph(run);
    } catch (error) {
      figure.replaceChildren(errorBlock(error));
      figure.dataset.ready = '';
      return;
    }
    const caption = h('figcaption', { id: 'agent-graph-caption', class: 'muted' },
      graph.nodes.length === 1 ? 'This run names no parent and no stored run names it as a parent.'
        : [`${graph.nodes.length} runs up to ${GRAPH_STEPS} steps from this one${graph.truncated ? ` (the nearest ${GRAPH_NODES}: more are not drawn)` : ''}; arrows go from a parent to its child; this run has the thick border.`,
          graph.nodes.some((node) => node.moreChildren) ? ` “+ more”: that run has more than ${CHILDREN_READ} children, all in the runs list.` : '',
          graph.nodes.some((node) => node.run === null) ? ' Dashed: named as a parent, not in this store.' : ''].join(''));
    let drawnPerRow = 0;
    const draw = () => {
      const width = figure.clientWidth || NODE_W + 2 * PAD;
      const perRow = Math.max(1, Math.floor((width - 2 * PAD + GAP_X) / (NODE_W + GAP_X)));
      if (perRow === drawnPerRow) return;
      drawnPerRow = perRow;
      figure.replaceChildren(drawing(graph, layout(graph, width), keyOf(run)), caption);
      fitLabels(figure);
    };
    draw();
    if (typeof ResizeObserver === 'function') new ResizeObserver(draw).observe(figure);
    figure.dataset.ready = '';
  })();
  return section;
}
