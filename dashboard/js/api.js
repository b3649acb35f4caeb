// The public API over fetch: JSON in and out, the session cookie, the CSRF header on
// every state-changing request, and a 401 anywhere sending the user to the login page.

const BASE = "/api/v1";
const CSRF_KEY = "fairlane.csrf";

/** An error answer from the API: status plus the error envelope's code/message/details. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `request failed (${status})`);
    this.status = status;
    this.code = error.code || "http_" + status;
    this.details = error.details || {};
  }
  /** Per-field messages from `details.field` (a single field) or `details.fields`. */
  fieldErrors() {
    const d = this.details;
    const out = {};
    if (d.field) out[d.field] = d.reason || d.message || this.message;
    if (d.fields && typeof d.fields === "object") Object.assign(out, d.fields);
    return out;
  }
}

let onUnauthorized = () => {};

/** Registers what to do when a request answers 401 (outside the login itself). */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

export function setCsrf(token) {
  if (token) sessionStorage.setItem(CSRF_KEY, token);
  else sessionStorage.removeItem(CSRF_KEY);
}

export function csrf() {
  return sessionStorage.getItem(CSRF_KEY) || "";
}

function headers(method, extra) {
  const h = Object.assign({ Accept: "application/json" }, extra);
  if (method !== "GET" && method !== "HEAD") h["X-CSRF-Token"] = csrf();
  return h;
}

/** Sends a request; resolves with the parsed JSON body (or null), rejects with ApiError. */
export async function request(method, path, body, { quiet401 = false } = {}) {
  const init = { method, credentials: "same-origin", headers: headers(method, {}) };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(BASE + path, init);
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, json);
    if (response.status === 401 && !quiet401) onUnauthorized(error);
    throw error;
  }
  return json;
}

export const get = (path, opts) => request("GET", path, undefined, opts);
export const post = (path, body, opts) => request("POST", path, body, opts);
export const put = (path, body) => request("PUT", path, body);
export const patch = (path, body) => request("PATCH", path, body);
export const del = (path, body) => request("DELETE", path, body);

/** Uploads a file with progress callbacks (XMLHttpRequest exposes upload progress). */
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", BASE + "/files");
    xhr.withCredentials = true;
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    });
    xhr.addEventListener("load", () => {
      let json = null;
      try {
        json = JSON.parse(xhr.responseText);
      } catch {
        json = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(json);
      else {
        const error = new ApiError(xhr.status, json);
        if (xhr.status === 401) onUnauthorized(error);
        reject(error);
      }
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, null)));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

/** A file's bytes as text (for CSV results read client-side). */
export async function fileText(id) {
  const response = await fetch(`${BASE}/files/${id}/content`, { credentials: "same-origin" });
  if (!response.ok) {
    const error = new ApiError(response.status, null);
    if (response.status === 401) onUnauthorized(error);
    throw error;
  }
  return response.text();
}

/** The download address of a file (the cookie authenticates the plain link). */
export const contentUrl = (id) => `${BASE}/files/${id}/content`;

/** The job's event stream (EventSource sends the cookie; event name `job`). */
export function jobEvents(id) {
  return new EventSource(`${BASE}/jobs/${id}/events`, { withCredentials: true });
}
