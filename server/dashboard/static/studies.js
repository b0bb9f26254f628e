// The studies list: name, policy, counts by state, best value, last update; a search box.
import { api } from "./api.js";
import { STATES, el, errorBox, every, formatNumber, formatTime } from "./view.js";

const PAGE = 50;

export function renderStudies(main) {
  let search = "";
  let offset = 0;
  const best = new Map(); // study id -> {signature, text}
  const body = el("tbody");
  const status = el("p", { class: "muted", id: "studies-status" });
  const previous = el("button", { id: "studies-prev", onclick: () => move(-PAGE) }, "Previous");
  const next = el("button", { id: "studies-next", onclick: () => move(PAGE) }, "Next");
  let typing = null;
  const input = el("input", {
    id: "study-search",
    type: "search",
    placeholder: "Search studies by name",
    oninput: () => {
      clearTimeout(typing);
      typing = setTimeout(() => {
        search = input.value.trim();
        offset = 0;
        load().catch(show);
      }, 200);
    },
  });
  const head = el(
    "tr",
    {},
    ["Name", "Policy", "Objectives", "Trials", ...STATES, "Best", "Updated"].map((t) =>
      el("th", { scope: "col" }, t),
    ),
  );
  const error = el("div");
  main.replaceChildren(
    el("h1", {}, "Studies"),
    input,
    error,
    el("table", { id: "studies-table", class: "grid" }, el("thead", {}, head), body),
    el("div", { class: "pager" }, previous, status, next),
  );

  function show(failure) {
    error.replaceChildren(errorBox(failure));
  }

  function move(by) {
    offset = Math.max(0, offset + by);
    load().catch(show);
  }

  async function bestText(study) {
    const signature = JSON.stringify(study.trial_counts);
    const known = best.get(study.id);
    if (known && known.signature === signature) return known.text;
    let text = "";
    if (study.trial_counts.completed) {
      const answer = await api(`/studies/${study.id}/best`);
      if (study.objectives.length === 1 && answer.trials.length) {
        text = formatNumber(answer.trials[0].values[study.objectives[0].name]);
      } else if (answer.trials.length) {
        text = `${answer.trials.length} on the Pareto front`;
      }
    }
    best.set(study.id, { signature, text });
    return text;
  }

  async function load() {
    const page = await api("/studies", { search, limit: PAGE, offset });
    const bests = await Promise.all(page.studies.map(bestText));
    body.replaceChildren(
      ...page.studies.map((study, i) => {
        const counts = study.trial_counts;
        const total = Object.values(counts).reduce((a, b) => a + b, 0);
        return el(
          "tr",
          { dataset: { studyId: study.id } },
          el("td", {}, el("a", { href: `#/studies/${study.id}` }, study.name)),
          el("td", {}, study.policy.name),
          el("td", {}, study.objectives.map((o) => `${o.name} (${o.direction.slice(0, 3)})`).join(", ")),
          el("td", { class: "num" }, String(total)),
          STATES.map((s) => el("td", { class: `num state-${s}` }, String(counts[s] || 0))),
          el("td", { class: "num best" }, bests[i]),
          el("td", {}, formatTime(study.updated_at)),
        );
      }),
    );
    if (!page.studies.length) {
      body.replaceChildren(
        el("tr", {}, el("td", { colspan: 6 + STATES.length }, search ? "No study matches." : "No studies yet.")),
      );
    }
    const last = Math.min(offset + page.studies.length, page.count);
    status.textContent = page.count ? `${offset + 1}–${last} of ${page.count}` : "";
    previous.disabled = offset === 0;
    next.disabled = last >= page.count;
    error.replaceChildren();
  }

  load().catch(show);
  const stop = every(3000, load);
  return { stop };
}
