// DOM and formatting helpers shared by the pages; data never goes through innerHTML.

// Trial states in the order the pages show them.
export const STATES = ["completed", "running", "pending", "pruned", "stopped", "failed"];

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

export function formatNumber(value) {
  if (value === null || value === undefined) return "";
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value)) return String(value);
  const size = Math.abs(value);
  if (size !== 0 && (size >= 1e5 || size < 1e-3)) return value.toExponential(3);
  return String(Number(value.toPrecision(5)));
}

export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function seconds(trial) {
  if (!trial.started_at || !trial.finished_at) return null;
  return (Date.parse(trial.finished_at) - Date.parse(trial.started_at)) / 1000;
}

export function formatDuration(value) {
  if (value === null || value === undefined) return "";
  if (value < 60) return `${value.toFixed(1)} s`;
  if (value < 3600) return `${(value / 60).toFixed(1)} min`;
  return `${(value / 3600).toFixed(1)} h`;
}

export function formatParams(params) {
  return Object.entries(params)
    .map(([name, value]) => `${name}=${formatNumber(value)}`)
    .join(", ");
}

// Plotly reads a subset of HTML (links, styles, line breaks) in all the text it draws and
// decodes entities (&quot; is not among those it knows, hence &#34;): text escaped here
// shows exactly as written.
const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;" };

export function plotText(text) {
  return String(text).replace(/[&<>"]/g, (c) => ENTITIES[c]);
}

export function errorBox(error) {
  return el("p", { class: "error", role: "alert" }, error.detail || error.message || String(error));
}

// Runs ``tick`` every ``ms`` after the previous run ends, until the returned function is called.
export function every(ms, tick) {
  let stopped = false;
  let timer = null;
  const indicator = document.getElementById("live");
  const run = async () => {
    if (stopped) return;
    try {
      await tick();
      indicator.classList.remove("stale");
    } catch (error) {
      indicator.classList.add("stale");
      indicator.title = `Last update failed: ${error.message}`;
    }
    if (!stopped) timer = setTimeout(run, ms);
  };
  timer = setTimeout(run, ms);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

// At most ``n`` items, evenly spaced, first and last included.
export function evenly(items, n) {
  if (items.length <= n) return items;
  const out = [];
  const last = items.length - 1;
  let previous = -1;
  for (let i = 0; i < n; i += 1) {
    const index = Math.round((i * last) / (n - 1));
    if (index !== previous) out.push(items[index]);
    previous = index;
  }
  return out;
}
