import { defineBerthCommand } from "./_command.ts";
import { humanDuration, humanSize } from "../lib/human.ts";
import { shortId } from "../lib/ids.ts";
import { Filters, splitRepoTag, type ImageSummary } from "../engine/index.ts";
import { goTime } from "./_format/template.ts";
import { FORMAT_HELP, formatRows, renderDockerTable } from "./_format/table.ts";

/** docker's column titles for `images --format "table …"` */
const IMAGE_HEADERS: Record<string, string> = {
  Containers: "CONTAINERS", CreatedAt: "CREATED AT", CreatedSince: "CREATED", Digest: "DIGEST", ID: "IMAGE ID", Repository: "REPOSITORY",
  SharedSize: "SHARED SIZE", Size: "SIZE", Tag: "TAG", UniqueSize: "UNIQUE SIZE", VirtualSize: "VIRTUAL SIZE",
};

/** docker's rows: one per tag, or one <none>:<none> for an untagged image */
function imageRows(images: ImageSummary[]) {
  return images.flatMap((img) => {
    const base = { digest: "<none>", id: img.Id, created: img.Created, size: img.Size };
    if (img.RepoTags.length === 0) return [{ repository: "<none>", tag: "<none>", ...base }];
    return img.RepoTags.map((n) => ({ ...splitRepoTag(n), ...base }));
  });
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
    const rows = imageRows(await engine.imageList({ all: !!flags.all, filters, digests: !!flags.digests }));
    const id = (d: string) => (flags["no-trunc"] ? d : shortId(d));
    if (flags.quiet) {
      // docker prints one line per row, so an image with two tags shows twice
      ctx.out(rows.map((r) => id(r.id) + "\n").join(""));
      return;
    }
    const now = Date.now();
    const since = (r: (typeof rows)[number]) => `${humanDuration(now - r.created * 1000)} ago`;
    const objs = rows.map((r) => ({
      Containers: "N/A",
      CreatedAt: goTime(new Date(r.created * 1000)),
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
