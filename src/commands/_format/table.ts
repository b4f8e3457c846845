/**
 * docker's listing output: text/tabwriter tables as docker's CLI configures them, and --format for
 * listings: "table" (the default columns), "json" (one object a line, keys sorted as docker's formatter
 * contexts marshal them), "table TEMPLATE" (a header from the field names, columns split at tabs) or
 * any Go template (template.ts), one line per object.
 */
import { compileTemplate, goJson, strictFields } from "./template.ts";

/** text/tabwriter as docker's CLI configures it: minwidth 10, tabwidth 1, padding 3 */
export function renderDockerTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(10, ...all.map((r) => [...(r[c] ?? "")].length + 3)));
  return (
    all.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell + " ".repeat(Math.max(0, widths[c]! - [...cell].length)))).join("")).join("\n") + "\n"
  );
}

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
export function formatRows(
  out: (s: string) => void,
  format: string | undefined,
  rows: object[],
  headers: Record<string, string>,
  table: () => void,
  typeName = "Context",
): void {
  const f = (format ?? "").trim();
  if (f === "" || f === "table") {
    table();
    return;
  }
  if (f === "json") {
    out(rows.map((r) => goJson(sortedKeys(r)) + "\n").join(""));
    return;
  }
  if (f.startsWith("table")) {
    const tmpl = f.slice(5).trim();
    const render = compileTemplate(tmpl);
    const names = new Set([...Object.keys(headers), ...rows.flatMap((r) => Object.keys(r))]);
    const titles = Object.fromEntries([...names].map((k) => [k, headers[k] ?? k.toUpperCase()]));
    let header: string[];
    try {
      header = render(titles).split("\t");
    } catch {
      // a header that the template cannot render (a method, a function over a value): the literal
      // text between the actions, as docker's header falls back to
      header = tmpl
        .replace(/\\t/g, "\t")
        .replace(/\{\{[^}]*\}\}/g, "")
        .split("\t");
    }
    out(
      renderDockerTable(
        header,
        rows.map((r) => render(strictFields(r, typeName)).split("\t")),
      ),
    );
    return;
  }
  const render = compileTemplate(f);
  out(rows.map((r) => render(strictFields(r, typeName)) + "\n").join(""));
}
