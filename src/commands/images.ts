import { defineBerthCommand, type RunInput } from "./_command.ts";
import type { Context } from "./_context.ts";
import { humanDuration, humanSize } from "../lib/human.ts";
import { shortId } from "../lib/ids.ts";
import { Filters, type ImageSummary } from "../engine/index.ts";
import { goTime } from "./_format/template.ts";
import { FORMAT_HELP, formatRows, renderDockerTable } from "./_format/table.ts";
import { readClientConfig } from "./_client-config.ts";

/** docker's column titles for `images --format "table …"` */
const IMAGE_HEADERS: Record<string, string> = {
  Containers: "CONTAINERS",
  CreatedAt: "CREATED AT",
  CreatedSince: "CREATED",
  Digest: "DIGEST",
  ID: "IMAGE ID",
  Repository: "REPOSITORY",
  SharedSize: "SHARED SIZE",
  Size: "SIZE",
  Tag: "TAG",
  UniqueSize: "UNIQUE SIZE",
  VirtualSize: "VIRTUAL SIZE",
};

/** an engine ImageSummary as the rows below read it: familiar names (RepoTags, then RepoDigests) */
interface ListedImage {
  id: string;
  names: string[];
  created: string;
  size: number;
}

function listed(i: ImageSummary): ListedImage {
  return { id: i.Id, names: [...(i.RepoTags ?? []), ...(i.RepoDigests ?? [])], created: new Date(i.Created * 1000).toISOString(), size: i.Size };
}

/**
 * docker's rows (cli/command/formatter/image.go imageFormatTaggedAndDigest): one per repository:tag,
 * repeated for each digest of that repository when digests are shown (--digests, or {{.Digest}} in
 * --format), else "<none>"; a repository known only by digest gets rows with tag <none> (one per digest
 * with --digests, one with an empty digest without)
 */
export function imageRows(images: ListedImage[], digests: { flag: boolean; inFormat: boolean }) {
  const rows: { repository: string; tag: string; digest: string; id: string; created: string; size: number }[] = [];
  for (const img of images) {
    const row = (repository: string, tag: string, digest: string) => rows.push({ repository, tag, digest, id: img.id, created: img.created, size: img.size });
    if (img.names.length === 0) {
      row("<none>", "<none>", "<none>");
      continue;
    }
    const repoTags = new Map<string, string[]>();
    const repoDigests = new Map<string, string[]>();
    for (const n of img.names) {
      const at = n.indexOf("@");
      if (at >= 0) {
        repoDigests.set(n.slice(0, at), [...(repoDigests.get(n.slice(0, at)) ?? []), n.slice(at + 1)]);
        continue;
      }
      const i = n.lastIndexOf(":");
      const hasTag = i > n.lastIndexOf("/");
      const repo = hasTag ? n.slice(0, i) : n;
      repoTags.set(repo, [...(repoTags.get(repo) ?? []), hasTag ? n.slice(i + 1) : "<none>"]);
    }
    for (const [repo, tags] of repoTags) {
      const ds = digests.flag || digests.inFormat ? (repoDigests.get(repo) ?? []) : [];
      repoDigests.delete(repo);
      for (const tag of tags) {
        if (ds.length === 0) row(repo, tag, "<none>");
        for (const d of ds) row(repo, tag, d);
      }
    }
    for (const [repo, ds] of repoDigests) {
      if (digests.flag) for (const d of ds) row(repo, "<none>", d);
      else row(repo, "<none>", "");
    }
  }
  return rows;
}

export default defineBerthCommand({
  meta: {
    name: "images",
    description: "List images",
    usage: "[OPTIONS] [REPOSITORY[:TAG]]",
    aliases: ["berth image ls", "berth image list", "berth images"],
    maxArgs: 1,
  },
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
    const filters = Filters.fromFlags(flags.filter);
    if (positionals[0]) filters.add("reference", positionals[0]);
    // the filters, and without -a the hiding of intermediate images, are the engine's (engine/image-list.ts)
    printImages(ctx, flags, await engine.imageList({ all: !!flags.all, filters, digests: !!flags.digests }));
  },
});

/** images' output (table, -q, --format) for an image list: the engine's or a daemon's (client mode) */
export function printImages(ctx: Context, flags: RunInput["flags"], list: ImageSummary[]): void {
  // docker: without --format, the client config's imagesFormat (not with -q)
  const given = typeof flags.format === "string" ? flags.format : flags.quiet ? undefined : readClientConfig(ctx).imagesFormat;
  const format = given ?? "";
  const rows = imageRows(list.map(listed), {
    flag: !!flags.digests,
    inFormat: format.includes("{{.Digest}}"),
  });
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
    // docker/cli imageContext: Size at 3 digits, VirtualSize through units.HumanSize (4)
    VirtualSize: humanSize(r.size, 4),
  }));
  formatRows(
    ctx.out,
    given,
    objs,
    IMAGE_HEADERS,
    () => {
      const header = ["REPOSITORY", "TAG", ...(flags.digests ? ["DIGEST"] : []), "IMAGE ID", "CREATED", "SIZE"];
      ctx.out(
        renderDockerTable(
          header,
          rows.map((r) => [r.repository, r.tag, ...(flags.digests ? [r.digest] : []), id(r.id), since(r), humanSize(r.size)]),
        ),
      );
    },
    "imageContext",
  );
}
