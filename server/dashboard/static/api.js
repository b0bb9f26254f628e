// The public REST API, as the dashboard reads it; the API key lives in session storage.

const KEY = "tunehub.apiKey";
const PAGE = 1000;

export class ApiError extends Error {
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

let keyPrompt = null;

// One dialog for however many requests were refused at once.
function askForKey(reason) {
  if (keyPrompt) return keyPrompt;
  const dialog = document.getElementById("key-dialog");
  const input = document.getElementById("key-input");
  document.getElementById("key-reason").textContent = reason;
  keyPrompt = new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        const key = input.value.trim();
        if (key) sessionStorage.setItem(KEY, key);
        input.value = "";
        keyPrompt = null;
        showForget();
        resolve(Boolean(key));
      },
      { once: true },
    );
  });
  dialog.showModal();
  return keyPrompt;
}

function showForget() {
  document.getElementById("forget-key").hidden = !sessionStorage.getItem(KEY);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY);
  showForget();
}

function apiUrl(path, params) {
  const url = new URL(`/api/v1${path}`, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) url.searchParams.append(name, one);
  }
  return url;
}

// GET a JSON document; a 401 asks for a key and tries again with it.
export async function api(path, params) {
  showForget();
  for (;;) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(KEY);
    if (key) headers.Authorization = `Bearer ${key}`;
    const response = await fetch(apiUrl(path, params), { headers });
    if (response.status === 401) {
      const reason = key ? "That API key was refused; enter another." : "This server asks for an API key.";
      if (key) sessionStorage.removeItem(KEY);
      if (await askForKey(reason)) continue;
    }
    if (!response.ok) {
      let detail = response.statusText;
      try {
        detail = (await response.json()).detail || detail;
      } catch {
        // not a problem document
      }
      throw new ApiError(response.status, detail);
    }
    return response.json();
  }
}

// Every row of a paginated list (``key`` names the array): the first page, then the rest at once.
export async function fetchAll(path, key, params) {
  const first = await api(path, { ...params, limit: PAGE, offset: 0 });
  const pages = [];
  for (let offset = PAGE; offset < first.count; offset += PAGE) {
    pages.push(api(path, { ...params, limit: PAGE, offset }));
  }
  const rest = await Promise.all(pages);
  return [first, ...rest].flatMap((page) => page[key]);
}
