/**
 * docker's --format for listings and inspect: "table" (the default columns), "json" (one object a
 * line, keys sorted as docker's formatter contexts marshal them), "table TEMPLATE" (a header from the
 * field names, columns split at tabs, docker's tabwriter) or any Go template, one line per object.
 * The template language itself is in engine/containers/format.ts.
 */
import { compileTemplate, goJson, renderDockerTable, strictFields } from "../engine/containers/format.ts";

/** docker's help text of a listing's --format flag */
export const FORMAT_HELP =
  "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template";

/** the object's own keys in sorted order (docker's `{{json .}}` of a listing row) */
export function sortedKeys<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) as T;
}

/**
 * print `rows` the way docker's formatter does. `headers` maps a field to its column title;
 * `table` prints the default layout (format "" or "table").
 */
export function formatRows(out: (s: string) => void, format: string | undefined, rows: object[], headers: Record<string, string>, table: () => void, typeName = "Context"): void {
  const f = (format ?? "").trim();
  if (f === "" || f === "table") return table();
  if (f === "json") return out(rows.map((r) => goJson(sortedKeys(r)) + "\n").join(""));
  if (f.startsWith("table")) {
    const tmpl = f.slice(5).trim();
    const render = compileTemplate(tmpl);
    const names = new Set([...Object.keys(headers), ...rows.flatMap((r) => Object.keys(r))]);
    const titles = Object.fromEntries([...names].map((k) => [k, headers[k] ?? k.toUpperCase()]));
    let header: string[];
    try {
      header = render(titles).split("\t");
    } catch {
      header = tmpl.replace(/\\t/g, "\t").replace(/\{\{[^}]*\}\}/g, "").split("\t");
    }
    out(renderDockerTable(header, rows.map((r) => render(strictFields(r, typeName)).split("\t"))));
    return;
  }
  const render = compileTemplate(f);
  out(rows.map((r) => render(strictFields(r, typeName)) + "\n").join(""));
}
