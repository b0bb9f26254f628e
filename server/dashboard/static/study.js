// One study: header, plots and the trial table, refreshed while the study changes.
import { api } from "./api.js";
import * as plots from "./plots.js";
import { TrialTable } from "./table.js";
import { el, errorBox, every, formatTime } from "./view.js";

const SECTIONS = [
  ["history", "History"],
  ["parallel", "Parallel coordinates"],
  ["importance", "Importance"],
  ["slice", "Slices"],
  ["pareto", "Pareto front"],
  ["curves", "Learning curves"],
  ["brackets", "Brackets"],
  ["trials", "Trials"],
];
const CURVES = 200;
// Trials the plots draw; the server picks them so that the plots still tell the whole story.
const SAMPLE = 2000;
let plotlyLoading = null;

// Plotly (1.2 MB to compile) loads once the table is up, so the table never waits for it.
function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  plotlyLoading ??= new Promise((resolve, reject) => {
    const script = el("script", { src: "/dashboard/plotly-basic.min.js" });
    script.addEventListener("load", () => resolve(window.Plotly));
    script.addEventListener("error", () => {
      plotlyLoading = null;
      reject(new Error("could not load /dashboard/plotly-basic.min.js"));
    });
    document.head.append(script);
  });
  return plotlyLoading;
}
const IMPORTANCE_EVERY_MS = 15_000;

// A timer, not requestAnimationFrame: that one never fires in a hidden tab.
function nextTask() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
const SAMPLED = new Set(["history", "parallel", "slice", "pareto", "brackets"]);
const SAMPLE_NOTE = "every new best, the Pareto front, the best by each objective and an even spread of the rest.";

export function renderStudy(main, id) {
  let stopped = false;
  let stopPolling = () => {};
  let study = null;
  let signature = "";
  let trials = [];
  let sampled = "";
  let objective = null;
  let importanceAt = 0;
  let table = null;
  const sections = {};
  const header = el("div", { id: "study-header" });
  const nav = el("nav", { class: "sections" });
  const content = el("div");
  main.replaceChildren(el("p", {}, el("a", { href: "#/" }, "← all studies")), header, nav, content);

  for (const [name, title] of SECTIONS) {
    const body = el("div", { class: "plot", id: `plot-${name}` });
    const note = el("p", { class: "muted note" });
    const section = el("section", { id: `view-${name}`, hidden: true }, el("h2", {}, title), note, body);
    sections[name] = { section, body, note };
    content.append(section);
    nav.append(el("a", { href: `#/studies/${id}`, onclick: (e) => jump(e, section) }, title));
  }

  function jump(event, section) {
    event.preventDefault();
    section.scrollIntoView({ behavior: "smooth" });
  }

  function signatureOf(s) {
    return JSON.stringify([s.trial_counts, s.updated_at, s.fidelity]);
  }

  function renderHeader() {
    const counts = Object.entries(study.trial_counts)
      .filter(([, n]) => n)
      .map(([state, n]) => el("span", { class: `badge state-${state}`, dataset: { state } }, `${state} ${n}`));
    const pick =
      study.objectives.length > 1
        ? el(
            "select",
            { id: "objective", "aria-label": "Objective", onchange: (e) => redrawObjective(e.target.value) },
            study.objectives.map((o) => el("option", { value: o.name, selected: o.name === objective }, o.name)),
          )
        : null;
    const fidelity = study.fidelity
      ? `${study.fidelity.name} ${study.fidelity.min}…${study.fidelity.max} (eta ${study.fidelity.eta})`
      : null;
    header.replaceChildren(
      el("h1", {}, study.name),
      el(
        "dl",
        { class: "facts" },
        el("dt", {}, "policy"),
        el("dd", {}, study.policy.name, Object.keys(study.policy.options).length ? ` ${JSON.stringify(study.policy.options)}` : ""),
        el("dt", {}, "objectives"),
        el("dd", {}, study.objectives.map((o) => `${o.name} (${o.direction})`).join(", ")),
        el("dt", {}, "parameters"),
        el("dd", {}, Object.keys(study.space).join(", ")),
        fidelity ? [el("dt", {}, "fidelity"), el("dd", {}, fidelity)] : null,
        el("dt", {}, "updated"),
        el("dd", {}, formatTime(study.updated_at)),
      ),
      el("div", { class: "counts" }, counts),
      ...(pick ? [pick] : []),
    );
  }

  function draw(name, figure, visible = true) {
    const part = sections[name];
    part.section.hidden = !visible;
    if (!visible || stopped) return;
    part.note.textContent = sampled && SAMPLED.has(name) ? `Showing ${sampled}: ${SAMPLE_NOTE}` : "";
    const { data, layout } = plots.literal(figure);
    window.Plotly.react(part.body, data, layout, plots.CONFIG);
  }

  function explain(name, text) {
    const part = sections[name];
    part.section.hidden = false;
    part.note.textContent = text;
    window.Plotly.purge(part.body);
  }

  function guarded(name, work) {
    try {
      work();
    } catch (error) {
      sections[name].section.hidden = false;
      sections[name].note.replaceChildren(errorBox(error));
    }
  }

  // One plot at a time, letting the browser paint in between: the history shows first.
  async function drawObjectivePlots() {
    const completed = trials.some((t) => t.state === "completed");
    if (!completed) {
      for (const name of ["history", "parallel", "slice"]) explain(name, "No completed trials yet.");
      return;
    }
    guarded("history", () => draw("history", plots.history(study, trials, objective)));
    await nextTask();
    guarded("parallel", () => draw("parallel", plots.parallel(study, trials, objective)));
    await nextTask();
    guarded("slice", () => draw("slice", plots.slices(study, trials, objective)));
  }

  function redrawObjective(name) {
    objective = name;
    drawObjectivePlots().catch(() => {});
    importanceAt = 0;
    drawImportance().catch(() => {});
  }

  async function drawImportance() {
    if (Date.now() - importanceAt < IMPORTANCE_EVERY_MS) return;
    importanceAt = Date.now();
    try {
      draw("importance", plots.importance(await api(`/studies/${id}/importance`, { objective })));
    } catch (error) {
      explain("importance", error.detail || error.message);
    }
  }

  async function drawCurves() {
    // The latest CURVES trials that reported: the first page is them unless there are more.
    let list = await api(`/studies/${id}/reports`, { limit: CURVES, max_points: 500 });
    if (!list.count) {
      if (study.fidelity) explain("curves", "No trial has reported yet.");
      else sections.curves.section.hidden = true;
      return;
    }
    if (list.count > CURVES) {
      list = await api(`/studies/${id}/reports`, { limit: CURVES, offset: list.count - CURVES, max_points: 500 });
    }
    draw("curves", plots.curves(study, list));
  }

  async function drawBrackets() {
    const { rungs } = await api(`/studies/${id}/rungs`);
    if (!rungs.length) {
      sections.brackets.section.hidden = true;
      return;
    }
    draw("brackets", plots.brackets(study, trials));
    const body = rungs.map((r) =>
      el(
        "tr",
        {},
        [r.bracket, r.rung, r.budget, r.trials, r.completed, r.best === null ? "" : r.best.toPrecision(5)].map((v) =>
          el("td", { class: "num" }, String(v ?? "")),
        ),
      ),
    );
    const head = el("tr", {}, ["bracket", "rung", "budget", "trials", "completed", "best"].map((h) => el("th", {}, h)));
    const old = sections.brackets.section.querySelector("table");
    const rungTable = el("table", { id: "rungs-table", class: "grid compact" }, el("thead", {}, head), el("tbody", {}, body));
    if (old) old.replaceWith(rungTable);
    else sections.brackets.section.append(rungTable);
  }

  async function drawAll() {
    const [sample] = await Promise.all([api(`/studies/${id}/trials/sample`, { limit: SAMPLE }), loadPlotly()]);
    if (stopped) return;
    trials = sample.trials;
    sampled = trials.length < sample.count ? `${trials.length} of ${sample.count} trials` : "";
    // The server computes these while the browser draws the rest.
    const others = Promise.all([
      drawImportance(),
      drawCurves().catch((error) => explain("curves", error.message)),
      drawBrackets().catch((error) => explain("brackets", error.message)),
    ]);
    await drawObjectivePlots();
    await nextTask();
    const pareto = study.objectives.length > 1 || trials.some((t) => t.cost !== null && t.cost !== undefined);
    if (pareto) guarded("pareto", () => draw("pareto", plots.pareto(study, trials)));
    else sections.pareto.section.hidden = true;
    await others;
  }

  async function poll() {
    const fresh = await api(`/studies/${id}`);
    const next = signatureOf(fresh);
    if (next === signature || stopped) return;
    study = fresh;
    signature = next;
    renderHeader();
    await table.load();
    await drawAll();
  }

  async function start() {
    study = await api(`/studies/${id}`);
    signature = signatureOf(study);
    objective = study.objectives[0].name;
    document.title = `${study.name} · Tunehub`;
    renderHeader();
    table = new TrialTable(study);
    sections.trials.body.append(table.node);
    sections.trials.section.hidden = false;
    await table.load();
    await drawAll();
    if (!stopped) stopPolling = every(2000, poll);
  }

  start().catch((error) => {
    if (!stopped) main.append(errorBox(error));
  });
  return {
    stop() {
      stopped = true;
      stopPolling();
      document.title = "Tunehub";
      if (window.Plotly) for (const { body } of Object.values(sections)) window.Plotly.purge(body);
    },
  };
}
