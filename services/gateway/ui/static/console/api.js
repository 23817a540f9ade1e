// The console's one door to the JSON API: same-origin fetch with the session cookie, and the session's
// CSRF token on every state-changing request. The token lives in this module's memory only.

let csrfToken = "";
let scope = "";
let onSignedOut = () => {};

export function useSession(session, signedOut) {
  csrfToken = session ? session.csrfToken : "";
  scope = session ? session.scope : "";
  if (signedOut) onSignedOut = signedOut;
}

// A `read` session may look at everything and change nothing: the API refuses it with a 403 either way,
// the console does not offer the controls.
export function readOnly() {
  return scope === "read";
}

export class ApiError extends Error {
  constructor(status, problem) {
    const detail = problem && typeof problem === "object" ? problem.detail || problem.title : String(problem);
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.errors = (problem && problem.errors) || [];
  }
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    if (response.status === 401 && path !== "/api/session") onSignedOut();
    throw new ApiError(response.status, data);
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const one of [].concat(value)) {
      if (one !== undefined && one !== null && one !== "") search.append(name, one);
    }
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
