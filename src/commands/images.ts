import { defineBerthCommand } from "./_command.ts";
import { humanDuration, humanSize } from "../lib/human.ts";
import { shortId } from "../lib/ids.ts";
import { Filters, type ImageSummary } from "../engine/index.ts";
import { goTime } from "./_format/template.ts";
import { FORMAT_HELP, formatRows, renderDockerTable } from "./_format/table.ts";

/** docker's column titles for `images --format "table …"` */
const IMAGE_HEADERS: Record<string, string> = {
  Containers: "CONTAINERS", CreatedAt: "CREATED AT", CreatedSince: "CREATED", Digest: "DIGEST", ID: "IMAGE ID", Repository: "REPOSITORY",
  SharedSize: "SHARED SIZE", Size: "SIZE", Tag: "TAG", UniqueSize: "UNIQUE SIZE", VirtualSize: "VIRTUAL SIZE",
};

/** an engine ImageSummary as the rows below read it: familiar names (RepoTags, then RepoDigests) */
interface ListedImage {
  id: string;
  names: string[];
  created: string;
  size: number;
}

function listed(i: ImageSummary): ListedImage {
  return { id: i.Id, names: [...i.RepoTags, ...i.RepoDigests], created: new Date(i.Created * 1000).toISOString(), size: i.Size };
}

export function imageRows(images: ListedImage[], all: boolean) {
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
    const filters = Filters.fromFlags(flags.filter);
    if (positionals[0]) filters.add("reference", positionals[0]);
    // the filters, and without -a the hiding of intermediate images, are the engine's (engine/image-list.ts)
    const rows = imageRows((await engine.imageList({ all: !!flags.all, filters, digests: !!flags.digests })).map(listed), flags.all);
    const id = (d: string) => (flags["no-trunc"] ? d : shortId(d));
    if (flags.quiet) {
      // docker prints one line per row, so an image with two tags shows twice
      ctx.out(rows.map((r) => id(r.id) + "\n").join(""));
      return;
    }
    const now = Date.now();
    const since = (r: (typeof rows)[number]) => `${humanDuration(now - Date.parse(r.created))} ago`;
    const objs = rows.map((r) => ({
      Containers: "N/A",
      CreatedAt: goTime(new Date(Date.parse(r.created))),
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
