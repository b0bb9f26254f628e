// Hash routes: #/ lists the studies, #/studies/<id> shows one.
import { forgetKey } from "./api.js";
import { renderStudies } from "./studies.js";
import { renderStudy } from "./study.js";

let current = null;

function route() {
  if (current) current.stop();
  const main = document.getElementById("main");
  const match = window.location.hash.match(/^#\/studies\/(\d+)/);
  current = match ? renderStudy(main, Number(match[1])) : renderStudies(main);
}

window.addEventListener("hashchange", route);
document.getElementById("forget-key").addEventListener("click", () => {
  forgetKey();
  route();
});
route();
