// Starts ReDoc on this server's OpenAPI document. A file rather than an inline script,
// so the page's Content-Security-Policy can refuse every inline script.
import { init } from "./redoc.standalone.js";

// ReDoc's sidebar shows a logo from its CDN: offline it cannot load, and online the
// page's img-src would block it and log a violation. An image from another origin
// is hidden and never requested (data: and blob: images stay).
function local(value) {
  try {
    const url = new URL(String(value), document.baseURI);
    return url.origin === location.origin || url.protocol === "data:" || url.protocol === "blob:";
  } catch {
    return false;
  }
}

const setAttribute = Element.prototype.setAttribute;
HTMLImageElement.prototype.setAttribute = function (name, value) {
  if (String(name).toLowerCase() === "src" && !local(value)) {
    this.style.display = "none";
    return;
  }
  setAttribute.call(this, name, value);
};
const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
Object.defineProperty(HTMLImageElement.prototype, "src", {
  ...src,
  set(value) {
    if (local(value)) src.set.call(this, value);
    else this.style.display = "none";
  },
});

const root = document.getElementById("redoc");
// Telemetry would post to Redocly's collector: off, as the policy forbids it anyway.
init(root.dataset.specUrl, { disableTelemetry: true }, root);
