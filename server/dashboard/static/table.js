// The trial table: paginated, sorted and filtered by the server; CSV download of every trial.
import { api, fetchAll } from "./api.js";
import { STATES, el, errorBox, formatDuration, formatNumber, formatParams, seconds } from "./view.js";

const SIZES = [25, 50, 100, 200];
// [header, sort key (null: not sortable), cell]
const COLUMNS = [
  ["#", "number", (t) => String(t.number)],
  ["state", "state", (t) => t.state],
  ["params", null, (t) => formatParams(t.params)],
  ["values", "value", (t) => (t.values ? formatParams(t.values) : "")],
  ["cost", "cost", (t) => formatNumber(t.cost)],
  ["budget", "budget", (t) => formatNumber(t.budget)],
  ["worker", "worker", (t) => t.worker || ""],
  ["duration", "duration", (t) => formatDuration(seconds(t))],
  ["error", null, (t) => (t.error ? t.error.split("\n").filter(Boolean).slice(-1)[0] : "")],
];

// Studies run on instances (algorithm configuration): which one, the cutoff the run had
// (its own when a policy capped it, else the study's), and whether it hit it.
function runsOnInstances(study) {
  return Boolean(study.instances || study.cutoff);
}

function columnsFor(study) {
  if (!runsOnInstances(study)) return COLUMNS;
  const at = COLUMNS.findIndex(([title]) => title === "values") + 1;
  return [
    ...COLUMNS.slice(0, at),
    ["instance", "instance", (t) => t.instance || ""],
    ["cutoff", "cutoff", (t) => formatNumber(t.cutoff ?? study.cutoff)],
    ["timed out", "timed_out", (t) => (t.timed_out ? "timed out" : "")],
    ...COLUMNS.slice(at),
  ];
}

export class TrialTable {
  constructor(study) {
    this.study = study;
    this.columns = columnsFor(study);
    this.sort = "number";
    this.state = "";
    this.size = 50;
    this.offset = 0;
    this.body = el("tbody");
    this.status = el("span", { id: "trials-status", class: "muted" });
    this.error = el("div");
    this.head = el("tr");
    this.previous = el("button", { id: "trials-prev", onclick: () => this.move(-this.size) }, "Previous");
    this.next = el("button", { id: "trials-next", onclick: () => this.move(this.size) }, "Next");
    const filter = el(
      "select",
      {
        id: "trials-state",
        "aria-label": "Filter by state",
        onchange: (event) => {
          this.state = event.target.value;
          this.offset = 0;
          this.reload();
        },
      },
      el("option", { value: "" }, "all states"),
      STATES.map((s) => el("option", { value: s }, s)),
    );
    const size = el(
      "select",
      {
        id: "trials-size",
        "aria-label": "Rows per page",
        onchange: (event) => {
          this.size = Number(event.target.value);
          this.offset = 0;
          this.reload();
        },
      },
      SIZES.map((n) => el("option", { value: n, selected: n === this.size }, `${n} rows`)),
    );
    const download = el("button", { id: "download-csv", onclick: () => this.download() }, "Download CSV");
    this.node = el(
      "div",
      {},
      el("div", { class: "controls" }, filter, size, download),
      this.error,
      el("div", { class: "scroll" }, el("table", { id: "trials-table", class: "grid" }, el("thead", {}, this.head), this.body)),
      el("div", { class: "pager" }, this.previous, this.status, this.next),
    );
    this.renderHead();
  }

  renderHead() {
    this.head.replaceChildren(
      ...this.columns.map(([title, key]) => {
        if (!key) return el("th", { scope: "col" }, title);
        const active = this.sort.replace(/^-/, "") === key;
        const arrow = active ? (this.sort.startsWith("-") ? " ▼" : " ▲") : "";
        return el(
          "th",
          { scope: "col", class: "sortable", dataset: { sort: key }, "aria-sort": active ? (arrow === " ▲" ? "ascending" : "descending") : null },
          el("button", { class: "link", onclick: () => this.sortBy(key) }, title + arrow),
        );
      }),
    );
  }

  sortBy(key) {
    this.sort = this.sort === key ? `-${key}` : key;
    this.offset = 0;
    this.renderHead();
    this.reload();
  }

  move(by) {
    this.offset = Math.max(0, this.offset + by);
    this.reload();
  }

  reload() {
    return this.load().catch((error) => this.error.replaceChildren(errorBox(error)));
  }

  async load() {
    const page = await api(`/studies/${this.study.id}/trials`, {
      limit: this.size,
      offset: this.offset,
      sort: this.sort,
      state: this.state || undefined,
    });
    this.body.replaceChildren(
      ...page.trials.map((t) =>
        el(
          "tr",
          { dataset: { number: t.number, state: t.state } },
          this.columns.map(([title, , cell]) => el("td", { class: `col-${title.replace(" ", "-")}` }, cell(t))),
        ),
      ),
    );
    if (!page.trials.length) this.body.replaceChildren(el("tr", {}, el("td", { colspan: this.columns.length }, "No trials.")));
    const last = Math.min(this.offset + page.trials.length, page.count);
    this.status.textContent = page.count ? `${this.offset + 1}–${last} of ${page.count}` : "0 trials";
    this.previous.disabled = this.offset === 0;
    this.next.disabled = last >= page.count;
    this.error.replaceChildren();
  }

  async download() {
    const trials = await fetchAll(`/studies/${this.study.id}/trials`, "trials");
    const blob = new Blob([toCsv(this.study, trials)], { type: "text/csv" });
    const link = el("a", { href: URL.createObjectURL(blob), download: `${safeName(this.study.name)}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }
}

function safeName(name) {
  return name.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+/, "") || "study";
}

// Text a spreadsheet would run as a formula (OWASP's list) gets a leading quote; numbers
// are written as they are, a negative one included.
const FORMULA_START = /^[=+\-@\t\r]/;

function quote(value) {
  if (value === null || value === undefined) return "";
  let text = typeof value === "string" ? value : JSON.stringify(value);
  if (typeof value === "string" && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(study, trials) {
  const params = Object.keys(study.space);
  const objectives = study.objectives.map((o) => o.name);
  const instances = runsOnInstances(study);
  const header = [
    "number", "state", ...params.map((p) => `params_${p}`), ...objectives.map((o) => `values_${o}`),
    ...(instances ? ["instance", "cutoff", "timed_out"] : []),
    "cost", "budget", "worker", "started_at", "finished_at", "duration_s", "error",
  ];
  const lines = [header.map(quote).join(",")];
  for (const t of trials) {
    const row = [
      t.number, t.state, ...params.map((p) => t.params[p]), ...objectives.map((o) => (t.values ? t.values[o] : null)),
      ...(instances ? [t.instance, t.cutoff ?? study.cutoff, t.timed_out] : []),
      t.cost, t.budget, t.worker, t.started_at, t.finished_at, seconds(t), t.error,
    ];
    lines.push(row.map(quote).join(","));
  }
  return `${lines.join("\n")}\n`;
}
