/**
 * docker's image list (`GET /images/json`): ImageSummary documents with the list's filters (dangling,
 * reference, before, since, until, label) and the hiding of intermediate images, computed from the
 * image service the way moby's daemon does.
 */
import { familiarName, parseReference } from "../image/references.ts";
import type { ImageListOptions, ImageSummary } from "./api/images.ts";
import { Filters, invalidFilter, matchLabel } from "./filters.ts";
import type { ImageService } from "./images.ts";
import { parseTimeArg } from "./containers/logs.ts";

export const IMAGE_FILTERS = ["dangling", "reference", "before", "since", "until", "label"] as const;

const escapeRe = (s: string) => s.replace(/[.+^${}()|[\]\\]/g, "\\$&");

/** a familiar "repo:tag" (or untagged "<none>") as docker's CLI splits it into REPOSITORY and TAG */
export function splitRepoTag(name: string): { repository: string; tag: string } {
  const i = name.lastIndexOf(":");
  return i > name.lastIndexOf("/") ? { repository: name.slice(0, i), tag: name.slice(i + 1) } : { repository: name, tag: "<none>" };
}

/** docker's reference filter: REPO or REPO:TAG with * and ? wildcards, a repository in its familiar form */
export function referenceMatches(v: string, r: { repository: string; tag: string }): boolean {
  const c = v.lastIndexOf(":");
  const [repoPat, tagPat] = c > v.lastIndexOf("/") ? [v.slice(0, c), v.slice(c + 1)] : [v, undefined];
  let repoNorm = repoPat;
  try {
    repoNorm = familiarName(parseReference(repoPat));
  } catch {
    // a pattern with wildcards is no reference: it is matched as written
  }
  const re = new RegExp("^" + escapeRe(repoNorm).replace(/\*/g, "[^/]*").replace(/\?/g, ".") + "$");
  return re.test(r.repository) && (tagPat === undefined || new RegExp("^" + escapeRe(tagPat).replace(/\*/g, ".*").replace(/\?/g, ".") + "$").test(r.tag));
}

/**
 * newest first. Without `all`, untagged images that are the parent of another (build steps, commits)
 * are left out. With a reference filter an image's RepoTags are the matching ones only.
 */
export async function listImages(images: ImageService, q: ImageListOptions = {}): Promise<ImageSummary[]> {
  const f = q.filters ?? new Filters();
  f.validate(IMAGE_FILTERS, "Invalid");
  for (const v of f.get("dangling")) if (!["true", "false", "1", "0"].includes(v.toLowerCase())) throw invalidFilter(`dangling=[${v}]`, "Invalid");
  const records = new Map(images.store.list().map((r) => [r.id as string, r]));
  let list = await images.list();
  if (!q.all) {
    const parents = new Set([...records.values()].map((r) => r.parent).filter(Boolean));
    list = list.filter((i) => i.names.length > 0 || !parents.has(i.id));
  }
  const created = (iso: string) => Date.parse(iso);
  const createdOf = async (ref: string) => {
    const { id } = await images.resolve(ref);
    return created(list.find((i) => i.id === id)?.created ?? "");
  };
  const before: number[] = [];
  for (const v of f.get("before")) before.push(await createdOf(v));
  const since: number[] = [];
  for (const v of f.get("since")) since.push(await createdOf(v));
  const until = f.get("until").map((v) => parseTimeArg(v));
  const dangling = f.get("dangling").at(-1)?.toLowerCase();
  const out: ImageSummary[] = [];
  for (const img of list) {
    const t = created(img.created);
    if (!before.every((b) => t < b) || !since.every((s) => t > s) || !until.every((u) => t < u)) continue;
    const labels = images.store.config(img.id).config?.Labels ?? {};
    if (!f.every("label", (v) => matchLabel(labels, v))) continue;
    const tags = img.names.filter((n) => !n.includes("@"));
    // docker's rows: one per tag, or one <none>:<none> for an untagged image
    const rows = tags.length ? tags.map((n) => ({ name: n, ...splitRepoTag(n) })) : [{ name: "", repository: "<none>", tag: "<none>" }];
    const kept = rows.filter(
      (r) =>
        (dangling === undefined || (r.repository === "<none>") === (dangling === "true" || dangling === "1")) &&
        f.any("reference", (v) => referenceMatches(v, r)),
    );
    if (kept.length === 0) continue;
    out.push({
      Id: img.id,
      ParentId: records.get(img.id)?.parent ?? "",
      RepoTags: kept.map((r) => r.name).filter((n) => n !== ""),
      RepoDigests: img.names.filter((n) => n.includes("@")),
      Created: Number.isNaN(t) ? 0 : Math.floor(t / 1000),
      Size: img.size,
      SharedSize: -1,
      Labels: labels,
      Containers: img.containers,
    });
  }
  return out;
}
