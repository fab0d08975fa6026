// The API's own description drives the panel: which pages exist, their filters, their forms.

let doc = null;

export async function loadSpec() {
  const response = await fetch("/api/v1/openapi.json");
  doc = await response.json();
  return doc;
}

export function resolve(schema) {
  let s = schema;
  while (s && s.$ref) {
    s = s.$ref.split("/").slice(1).reduce((node, key) => node[key], doc);
  }
  if (s && s.anyOf) {
    // Optional fields come as anyOf [T, null]: keep T, remember that null is allowed.
    const kinds = s.anyOf.filter((x) => x.type !== "null");
    if (kinds.length === 1) {
      return { ...resolve(kinds[0]), nullable: true, title: s.title, default: s.default, description: s.description ?? resolve(kinds[0]).description };
    }
  }
  return s || {};
}

// Paths in the document, with their {param} parts as written.
export function operation(path, method) {
  const item = doc && doc.paths[`/api/v1${path}`];
  return item ? item[method.toLowerCase()] : undefined;
}

export const has = (path, method = "get") => Boolean(operation(path, method));

export function requestSchema(path, method) {
  const op = operation(path, method);
  const content = op && op.requestBody && op.requestBody.content;
  if (!content) return null;
  const media = content["application/json"] || content["application/x-www-form-urlencoded"];
  return media ? resolve(media.schema) : null;
}

export function responseSchema(path, method = "get") {
  const op = operation(path, method);
  const ok = op && (op.responses["200"] || op.responses["201"]);
  const media = ok && ok.content && ok.content["application/json"];
  return media ? resolve(media.schema) : null;
}

// The row schema of a paginated list: Page[X] -> X.
export function itemSchema(path) {
  const page = responseSchema(path);
  if (!page || !page.properties) return null;
  if (page.properties.items) return resolve(page.properties.items.items);
  return page;
}

export function queryParams(path) {
  const op = operation(path, "get");
  return ((op && op.parameters) || [])
    .filter((p) => p.in === "query")
    .map((p) => ({ name: p.name, description: p.description, schema: resolve(p.schema) }));
}

// Sub-paths of a resource item: POST /lines/{line_id}/extend -> {verb: "extend", ...}.
export function itemActions(base) {
  if (!doc) return [];
  const prefix = `/api/v1${base}/{`;
  const found = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!path.startsWith(prefix)) continue;
    const rest = path.slice(prefix.length);
    const close = rest.indexOf("}");
    const tail = rest.slice(close + 1);
    if (!tail.startsWith("/") || tail.slice(1).includes("{")) continue;
    for (const method of ["post", "put"]) {
      if (item[method]) {
        found.push({ verb: tail.slice(1), method, path: path.slice(7), op: item[method] });
      }
    }
  }
  return found;
}

// Collection actions: POST /lines/bulk and the like (any POST on /base/<word> without an id).
export function collectionActions(base) {
  if (!doc) return [];
  const prefix = `/api/v1${base}/`;
  return Object.entries(doc.paths)
    .filter(([path, item]) => path.startsWith(prefix) && !path.slice(prefix.length).includes("/") && !path.includes("{") && item.post)
    .map(([path, item]) => ({ verb: path.slice(prefix.length), path: path.slice(7), op: item.post }));
}

export function itemPath(base) {
  if (!doc) return null;
  const prefix = `/api/v1${base}/{`;
  const path = Object.keys(doc.paths).find((p) => p.startsWith(prefix) && p.endsWith("}") && p.slice(prefix.length).indexOf("/") === -1);
  return path ? path.slice(7) : null;
}

// The first GET path (without /api/v1) matching one of the patterns.
export function findGet(patterns) {
  if (!doc) return null;
  for (const pattern of patterns) {
    for (const [path, item] of Object.entries(doc.paths)) {
      const short = path.slice(7);
      if (item.get && pattern.test(short)) return short;
    }
  }
  return null;
}
