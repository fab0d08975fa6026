// The one way the panel talks to the admin REST API: fetch with the bearer token.

export const API = "/api/v1";
const TOKEN_KEY = "palinsesto.token";

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `Request failed (${status}).`);
    this.status = status;
    this.code = error.code || "http_error";
    this.fields = error.fields || {};
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  onUnauthorized: () => {},
};

export function query(params = {}) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export async function api(method, path, { json, form, multipart, raw, headers: extra, params, signal } = {}) {
  const headers = { Accept: "application/json", ...extra };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = new URLSearchParams(form);
  } else if (multipart) {
    body = multipart; // a FormData: the browser writes its Content-Type with the boundary
  } else if (raw) {
    headers["Content-Type"] = "application/octet-stream";
    body = raw; // a Blob (an upload's chunk): the browser streams it from the file
  }
  const response = await fetch(`${API}${path}${query(params)}`, { method, headers, body, signal });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && session.token && !path.startsWith("/auth/token")) {
      session.onUnauthorized(error);
    }
    throw error;
  }
  // Anything that changed data may have moved a balance: the header listens.
  if (method !== "GET" && !path.startsWith("/auth/")) window.dispatchEvent(new Event("palinsesto:changed"));
  return data;
}

export const get = (path, params, signal) => api("GET", path, { params, signal });

/** A binary answer (an image) as a Blob: an <img> cannot send the bearer token itself. */
export async function getBlob(path, params) {
  const headers = session.token ? { Authorization: `Bearer ${session.token}` } : {};
  const response = await fetch(`${API}${path}${query(params)}`, { headers });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  return response.blob();
}
