import { defineBerthCommand } from "./_command.ts";
import { humanDuration, humanSize } from "../lib/human.ts";
import { shortId } from "../lib/ids.ts";
import { parseReference, familiarName } from "../image/references.ts";
import type { ImageSummary } from "../engine/images.ts";
import { goTime, renderDockerTable } from "../engine/containers/format.ts";
import { EngineError } from "../lib/errors.ts";
import { FORMAT_HELP, formatRows } from "./_format.ts";

/** docker's column titles for `images --format "table …"` */
const IMAGE_HEADERS: Record<string, string> = {
  Containers: "CONTAINERS", CreatedAt: "CREATED AT", CreatedSince: "CREATED", Digest: "DIGEST", ID: "IMAGE ID", Repository: "REPOSITORY",
  SharedSize: "SHARED SIZE", Size: "SIZE", Tag: "TAG", UniqueSize: "UNIQUE SIZE", VirtualSize: "VIRTUAL SIZE",
};

export function imageRows(images: ImageSummary[], all: boolean) {
  const rows: { repository: string; tag: string; digest: string; id: string; created: string; size: number }[] = [];
  for (const img of images) {
    const tags = img.names.filter((n) => !n.includes("@"));
    if (tags.length === 0) {
      rows.push({ repository: "<none>", tag: "<none>", digest: "<none>", id: img.id, created: img.created, size: img.size });
      continue;
    }
    for (const n of tags) {
      const i = n.lastIndexOf(":");
      const slash = n.lastIndexOf("/");
      const hasTag = i > slash;
      rows.push({ repository: hasTag ? n.slice(0, i) : n, tag: hasTag ? n.slice(i + 1) : "<none>", digest: "<none>", id: img.id, created: img.created, size: img.size });
    }
  }
  void all;
  return rows;
}

/** docker's reference filter: REPO or REPO:TAG with * and ? wildcards, a repository in its familiar form */
function referenceMatches(v: string, r: { repository: string; tag: string }): boolean {
  const c = v.lastIndexOf(":");
  const [repoPat, tagPat] = c > v.lastIndexOf("/") ? [v.slice(0, c), v.slice(c + 1)] : [v, undefined];
  let repoNorm = repoPat;
  try { repoNorm = familiarName(parseReference(repoPat)); } catch {}
  const re = new RegExp("^" + repoNorm.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, ".") + "$");
  return re.test(r.repository) && (tagPat === undefined || new RegExp("^" + tagPat.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$").test(r.tag));
}

export default defineBerthCommand({
  meta: { name: "images", description: "List images", usage: "[OPTIONS] [REPOSITORY[:TAG]]", aliases: ["berth image ls", "berth image list", "berth images"], maxArgs: 1 },
  args: {
    all: { type: "boolean", alias: "a", description: "Show all images (default hides intermediate images)" },
    quiet: { type: "boolean", alias: "q", description: "Only show image IDs" },
    "no-trunc": { type: "boolean", description: "Don't truncate output" },
    digests: { type: "boolean", description: "Show digests" },
    filter: { type: "string", alias: "f", multiple: true, description: "Filter output based on conditions provided" },
    format: { type: "string", description: FORMAT_HELP },
  },
  async run({ flags, positionals, ctx }) {
    const engine = await ctx.engine();
    let list = await engine.images.list();
    if (!flags.all) {
      // docker hides intermediate images (untagged parents of other images, e.g. build steps) unless -a
      const parents = new Set(engine.imageStore.list().map((r) => r.parent).filter(Boolean));
      list = list.filter((i) => i.names.length > 0 || !parents.has(i.id));
    }
    let rows = imageRows(list, flags.all);
    const want = positionals[0];
    const filters: string[] = [...flags.filter];
    if (want) filters.push(`reference=${want}`);
    // docker: values of one key are alternatives (reference=a --filter reference=b), keys all apply
    const by = new Map<string, string[]>();
    for (const f of filters) {
      const [k, v = ""] = f.split(/=(.*)/s);
      if (!["dangling", "reference", "before", "since", "until", "label"].includes(k!)) throw new EngineError("invalid_argument", `Invalid filter '${k}'`);
      if (k === "dangling" && !["true", "false", "1", "0"].includes(v.toLowerCase())) throw new EngineError("invalid_argument", `Invalid filter 'dangling=[${v}]'`);
      by.set(k!, [...(by.get(k!) ?? []), v]);
    }
    const created = (r: { created: string }) => Date.parse(r.created);
    const createdOf = async (ref: string) => {
      const { id } = await engine.images.resolve(ref);
      return created(list.find((i) => i.id === id) ?? { created: "" });
    };
    const dangling = by.get("dangling")?.at(-1)?.toLowerCase();
    if (dangling !== undefined) rows = rows.filter((r) => (r.repository === "<none>") === (dangling === "true" || dangling === "1"));
    const refs = by.get("reference");
    if (refs) rows = rows.filter((r) => refs.some((v) => referenceMatches(v, r)));
    for (const v of by.get("before") ?? []) { const t = await createdOf(v); rows = rows.filter((r) => created(r) < t); }
    for (const v of by.get("since") ?? []) { const t = await createdOf(v); rows = rows.filter((r) => created(r) > t); }
    if (by.has("until")) {
      const { parseTimeArg } = await import("../engine/containers/logs.ts");
      for (const v of by.get("until")!) { const t = parseTimeArg(v); rows = rows.filter((r) => created(r) < t); }
    }
    for (const v of by.get("label") ?? []) {
      const [lk, lv] = v.split(/=(.*)/s);
      rows = rows.filter((r) => {
        const labels = engine.imageStore.config(r.id).config?.Labels ?? {};
        return lk! in labels && (lv === undefined || labels[lk!] === lv);
      });
    }
    const id = (d: string) => (flags["no-trunc"] ? d : shortId(d));
    if (flags.quiet) {
      // docker prints one line per row, so an image with two tags shows twice
      ctx.out(rows.map((r) => id(r.id) + "\n").join(""));
      return;
    }
    const now = Date.now();
    // a config without `created` is docker's Created 0: "N/A" since, the epoch as the date
    const since = (r: (typeof rows)[number]) => (Date.parse(r.created) ? `${humanDuration(now - Date.parse(r.created))} ago` : "N/A");
    const objs = rows.map((r) => ({
      Containers: "N/A",
      CreatedAt: goTime(new Date(Date.parse(r.created) || 0)),
      CreatedSince: since(r),
      Digest: r.digest,
      ID: id(r.id),
      Repository: r.repository,
      SharedSize: "N/A",
      Size: humanSize(r.size),
      Tag: r.tag,
      UniqueSize: "N/A",
      VirtualSize: humanSize(r.size),
    }));
    formatRows(ctx.out, typeof flags.format === "string" ? flags.format : undefined, objs, IMAGE_HEADERS, () => {
      const header = ["REPOSITORY", "TAG", ...(flags.digests ? ["DIGEST"] : []), "IMAGE ID", "CREATED", "SIZE"];
      ctx.out(renderDockerTable(header, rows.map((r) => [r.repository, r.tag, ...(flags.digests ? [r.digest] : []), id(r.id), since(r), humanSize(r.size)])));
    }, "imageContext");
  },
});
