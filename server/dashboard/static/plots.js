// Plotly figures built from API documents. Each returns {data, layout}. Trials come from the
// server's plot sample, which keeps every trial that set a new best and the Pareto front, so
// the best-so-far line and the front are exact; dense plots thin them further.
import { evenly, formatNumber, formatParams, plotText } from "./view.js";

const MAX_POINTS = 2000;
const MAX_LINES = 1000;
// Per slice panel: a dozen panels of SVG markers must still draw in well under a second.
const MAX_SLICE_POINTS = 800;
const VIRIDIS = ["#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725"];
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

export const CONFIG = { displaylogo: false, responsive: true };

// A figure as Plotly must get it: every string in it escaped by plotText, so that names,
// choices and values from the server (titles, axis titles, tick and category labels, trace
// names, hover text, annotations) show literally instead of as Plotly's HTML. The figures
// here hold no markup of their own, and Plotly's other string settings (types, modes,
// colours, axis ids) never contain the characters escaped. Numbers, null and booleans stay.
export function literal(figure) {
  const walk = (value) => {
    if (typeof value === "string") return plotText(value);
    if (Array.isArray(value)) return value.map(walk);
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, walk(item)]));
    }
    return value;
  };
  return { data: walk(figure.data), layout: walk(figure.layout) };
}

function better(direction) {
  return direction === "maximize" ? (a, b) => a > b : (a, b) => a < b;
}

function objectiveOf(study, name) {
  return study.objectives.find((o) => o.name === name) || study.objectives[0];
}

function valued(trials, name) {
  return trials.filter((t) => t.state === "completed" && t.values && Number.isFinite(t.values[name]));
}

// The best few by the objective plus an even spread of the rest.
function thin(trials, name, direction, n) {
  if (trials.length <= n) return trials;
  const sign = direction === "maximize" ? -1 : 1;
  const ranked = [...trials].sort((a, b) => sign * (a.values[name] - b.values[name]));
  const top = ranked.slice(0, Math.floor(n / 5));
  const picked = new Set(top);
  const rest = evenly(trials.filter((t) => !picked.has(t)), n - top.length);
  return [...top, ...rest].sort((a, b) => a.number - b.number);
}

export function history(study, trials, name) {
  const objective = objectiveOf(study, name);
  const done = valued(trials, objective.name).sort((a, b) => a.number - b.number);
  const isBetter = better(objective.direction);
  // With a fidelity only the highest budget's results are comparable: best-so-far uses those.
  const top = study.fidelity ? Math.max(...done.map((t) => t.budget ?? -Infinity)) : null;
  const bestX = [];
  const bestY = [];
  let best = null;
  for (const t of done) {
    const v = t.values[objective.name];
    if (top !== null && t.budget !== top) continue;
    if (best === null || isBetter(v, best)) {
      best = v;
      bestX.push(t.number);
      bestY.push(v);
    }
  }
  if (done.length) {
    bestX.push(done[done.length - 1].number);
    bestY.push(best);
  }
  const shown = thin(done, objective.name, objective.direction, MAX_POINTS);
  return {
    data: [
      {
        type: "scatter",
        mode: "markers",
        name: "trial",
        x: shown.map((t) => t.number),
        y: shown.map((t) => t.values[objective.name]),
        text: shown.map((t) => formatParams(t.params)),
        marker: study.fidelity
          ? {
              size: 6,
              color: shown.map((t) => Math.log(t.budget ?? 1)),
              colorscale: "Viridis",
              showscale: true,
              colorbar: { title: { text: `log ${study.fidelity.name}` } },
            }
          : { size: 6, color: COLORS[0], opacity: 0.6 },
      },
      {
        type: "scatter",
        mode: "lines",
        name: top === null ? "best so far" : `best so far at ${study.fidelity.name} ${top}`,
        x: bestX,
        y: bestY,
        line: { shape: "hv", color: COLORS[3], width: 2 },
      },
    ],
    layout: {
      title: { text: `Optimization history: ${objective.name}` },
      height: 400,
      xaxis: { title: { text: "trial number" } },
      yaxis: { title: { text: objective.name } },
      margin: { t: 40, r: 10 },
      legend: { orientation: "h" },
    },
  };
}

// A conditional parameter that is inactive in a trial sits just below its axis.
const INACTIVE = -0.12;

function inactiveTick(spec) {
  return spec.condition ? [[INACTIVE, "inactive"]] : [];
}

// One axis of the parallel-coordinates plot: values mapped to [0, 1], with a few labels.
function axis(name, spec, trials) {
  const raw = trials.map((t) => t.params[name]);
  if (spec.type === "categorical") {
    const choices = spec.choices.map(String);
    const scale = Math.max(choices.length - 1, 1);
    return {
      label: name,
      at: raw.map((v) => (v === undefined ? INACTIVE : choices.indexOf(String(v)) / scale)),
      ticks: [...choices.map((c, i) => [i / scale, c]), ...inactiveTick(spec)],
    };
  }
  const f = spec.log ? Math.log10 : (x) => x;
  const [low, high] = [f(spec.low), f(spec.high)];
  const span = high - low || 1;
  return {
    label: name,
    at: raw.map((v) => (v === undefined ? INACTIVE : (f(v) - low) / span)),
    ticks: [[0, formatNumber(spec.low)], [1, formatNumber(spec.high)], ...inactiveTick(spec)],
  };
}

// Parallel coordinates drawn as SVG lines (no WebGL needed): one trace per objective band.
export function parallel(study, trials, name) {
  const objective = objectiveOf(study, name);
  const done = thin(valued(trials, objective.name), objective.name, objective.direction, MAX_LINES);
  const values = done.map((t) => t.values[objective.name]);
  const low = Math.min(...values);
  const high = Math.max(...values);
  const axes = Object.entries(study.space).map(([param, spec]) => axis(param, spec, done));
  axes.push({
    label: objective.name,
    at: values.map((v) => (v - low) / (high - low || 1)),
    ticks: [
      [0, formatNumber(low)],
      [1, formatNumber(high)],
    ],
  });
  // Bands by rank: the best band is drawn last, on top.
  const bands = 6;
  const order = done.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  if (objective.direction === "minimize") order.reverse();
  const data = [];
  for (let band = 0; band < bands; band += 1) {
    const members = order.slice(Math.floor((band * order.length) / bands), Math.floor(((band + 1) * order.length) / bands));
    if (!members.length) continue;
    const x = [];
    const y = [];
    for (const i of members) {
      axes.forEach((a, k) => {
        x.push(k);
        y.push(a.at[i]);
      });
      x.push(null);
      y.push(null);
    }
    data.push({
      type: "scatter",
      mode: "lines",
      name: band === bands - 1 ? "best band" : `band ${band + 1}`,
      x,
      y,
      hoverinfo: "skip",
      line: { width: 1, color: VIRIDIS[Math.round((band * (VIRIDIS.length - 1)) / (bands - 1))] },
      opacity: 0.35 + (0.5 * band) / (bands - 1),
    });
  }
  const annotations = axes.flatMap((a, k) =>
    a.ticks.map(([at, text]) => ({ x: k, y: at, text, showarrow: false, xanchor: "left", xshift: 4, font: { size: 10 } })),
  );
  return {
    data,
    layout: {
      title: { text: `Parallel coordinates (${done.length} trials, colour: ${objective.name})` },
      height: 460,
      xaxis: { tickvals: axes.map((_, k) => k), ticktext: axes.map((a) => a.label), showgrid: true, zeroline: false },
      yaxis: { visible: false, range: [-0.17, 1.05] },
      annotations,
      showlegend: false,
      margin: { t: 50, l: 30, r: 60 },
    },
  };
}

export function importance(result) {
  const entries = Object.entries(result.importances).sort((a, b) => a[1] - b[1]);
  return {
    data: [
      {
        type: "bar",
        orientation: "h",
        x: entries.map((e) => e[1]),
        y: entries.map((e) => e[0]),
        marker: { color: COLORS[0] },
      },
    ],
    layout: {
      title: { text: `Parameter importance for ${result.objective} (${result.method}, ${result.n_trials} trials)` },
      xaxis: { title: { text: "share of variance" } },
      height: Math.max(240, 40 * entries.length + 100),
      margin: { t: 40, l: 120 },
    },
  };
}

export function slices(study, trials, name) {
  const objective = objectiveOf(study, name);
  const done = thin(valued(trials, objective.name), objective.name, objective.direction, MAX_SLICE_POINTS);
  const params = Object.entries(study.space).slice(0, 12);
  const columns = Math.min(3, params.length);
  const rows = Math.ceil(params.length / columns);
  const layout = {
    title: { text: `Slices: ${objective.name} against each parameter` },
    grid: { rows, columns, pattern: "independent", ygap: 0.35, xgap: 0.12 },
    showlegend: false,
    height: Math.max(320, 260 * rows),
    margin: { t: 50 },
  };
  const data = params.map(([param, spec], i) => {
    const axis = i === 0 ? "" : String(i + 1);
    const having = done.filter((t) => t.params[param] !== undefined);
    layout[`xaxis${axis}`] = {
      title: { text: param },
      type: spec.type === "categorical" ? "category" : spec.log ? "log" : "linear",
    };
    layout[`yaxis${axis}`] = { title: { text: i % columns === 0 ? objective.name : "" } };
    return {
      type: "scatter",
      mode: "markers",
      name: param,
      x: having.map((t) => t.params[param]),
      y: having.map((t) => t.values[objective.name]),
      xaxis: `x${axis}`,
      yaxis: `y${axis}`,
      marker: { size: 5, color: having.map((t) => t.number), colorscale: "Blues", opacity: 0.7 },
    };
  });
  return { data, layout };
}

// Non-dominated points when both axes are to be minimized (signs already applied).
function frontOf(points) {
  const sorted = [...points].sort((a, b) => a.x - b.x || a.y - b.y);
  const front = [];
  let bestY = Infinity;
  for (const p of sorted) {
    if (p.y < bestY) {
      front.push(p);
      bestY = p.y;
    }
  }
  return front;
}

// Two objectives against each other, or the objective against cost.
export function pareto(study, trials) {
  const done = trials.filter((t) => t.state === "completed" && t.values);
  let axes;
  if (study.objectives.length >= 2) {
    axes = study.objectives.slice(0, 2).map((o) => ({
      label: o.name,
      get: (t) => t.values[o.name],
      sign: o.direction === "maximize" ? -1 : 1,
    }));
  } else {
    const o = study.objectives[0];
    axes = [
      { label: "cost", get: (t) => t.cost, sign: 1 },
      { label: o.name, get: (t) => t.values[o.name], sign: o.direction === "maximize" ? -1 : 1 },
    ];
  }
  const points = done
    .map((t) => ({ t, x: axes[0].get(t), y: axes[1].get(t) }))
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
    .map((p) => ({ ...p, sx: axes[0].sign * p.x, sy: axes[1].sign * p.y }));
  const front = frontOf(points.map((p) => ({ ...p, x: p.sx, y: p.sy }))).map((p) => p.t);
  const onFront = new Set(front);
  const others = evenly(points.filter((p) => !onFront.has(p.t)), MAX_POINTS);
  // In order along the first axis, so the step line runs through the front.
  const frontPoints = points.filter((p) => onFront.has(p.t)).sort((a, b) => a.x - b.x);
  return {
    data: [
      {
        type: "scatter",
        mode: "markers",
        name: "dominated",
        x: others.map((p) => p.x),
        y: others.map((p) => p.y),
        marker: { color: "#bbbbbb", size: 6 },
      },
      {
        type: "scatter",
        mode: "lines+markers",
        name: "Pareto front",
        x: frontPoints.map((p) => p.x),
        y: frontPoints.map((p) => p.y),
        text: frontPoints.map((p) => `#${p.t.number} ${formatParams(p.t.params)}`),
        line: { shape: "hv", color: COLORS[3] },
        marker: { color: COLORS[3], size: 8 },
      },
    ],
    layout: {
      title: { text: study.objectives.length >= 2 ? "Pareto front" : `${axes[1].label} against cost` },
      height: 420,
      xaxis: { title: { text: axes[0].label }, type: axes[0].label === "cost" ? "log" : "linear" },
      yaxis: { title: { text: axes[1].label } },
      margin: { t: 40 },
      legend: { orientation: "h" },
    },
  };
}

export function curves(study, list) {
  const name = study.objectives[0].name;
  const data = list.curves.map((curve, i) => {
    const metric = curve.values[name] ? name : Object.keys(curve.values)[0];
    return {
      type: "scatter",
      mode: "lines",
      name: `#${curve.number}`,
      x: curve.steps,
      y: curve.values[metric],
      line: { width: 1, color: curve.state === "completed" ? COLORS[i % COLORS.length] : "#999999" },
      opacity: curve.state === "completed" ? 0.9 : 0.5,
    };
  });
  const shown = list.curves.length < list.count ? ` (latest ${list.curves.length} of ${list.count})` : "";
  return {
    data,
    layout: {
      title: { text: `Learning curves${shown}` },
      height: 420,
      xaxis: { title: { text: study.fidelity ? study.fidelity.name : "step" } },
      yaxis: { title: { text: name } },
      showlegend: false,
      margin: { t: 40 },
    },
  };
}

// A scheduler's trial sits on a rung (ASHA has a single bracket, numbered 0).
function placement(trial) {
  const meta = trial.policy_meta;
  if (!meta || meta.rung === undefined) return null;
  return { bracket: meta.bracket ?? 0, rung: meta.rung };
}

// Trials of bracket-based schedulers: value against budget, one colour per bracket.
export function brackets(study, trials) {
  const name = study.objectives[0].name;
  const byBracket = new Map();
  for (const t of trials) {
    const place = placement(t);
    if (!place) continue;
    const key = place.bracket;
    if (!byBracket.has(key)) byBracket.set(key, []);
    byBracket.get(key).push(t);
  }
  const keys = [...byBracket.keys()].sort((a, b) => a - b);
  const data = keys.map((key, i) => {
    const members = evenly(byBracket.get(key).filter((t) => t.values && Number.isFinite(t.values[name])), MAX_POINTS);
    return {
      type: "scatter",
      mode: "markers",
      name: `bracket ${key}`,
      x: members.map((t) => t.budget),
      y: members.map((t) => t.values[name]),
      text: members.map((t) => `#${t.number} rung ${placement(t).rung}`),
      marker: { color: COLORS[i % COLORS.length], size: 7, opacity: 0.7 },
    };
  });
  return {
    data,
    layout: {
      title: { text: "Brackets and rungs: value at each budget" },
      height: 420,
      xaxis: { title: { text: study.fidelity ? study.fidelity.name : "budget" }, type: "log" },
      yaxis: { title: { text: name } },
      margin: { t: 40 },
    },
  };
}
