import { defineBerthCommand } from "./_command.ts";
import type { Context } from "./_context.ts";
import { humanSize } from "../lib/human.ts";

/**
 * docker's progress display (pkg/jsonmessage): one line per layer, rewritten in place on a TTY with
 * a 50-column bar; plain status lines (no Downloading chatter) when not a TTY. `pull` and `push` write
 * it to stdout as docker does (scripts grep it there); the pull that `run`/`create` make for a missing
 * image writes it to stderr, as docker's, so `id=$(berth run -d …)` gets only the ID.
 */
export function progressPrinter(quiet: boolean, write: (s: string) => void = (s) => void process.stderr.write(s), tty = !!process.stderr.isTTY) {
  const order: string[] = [];
  const lines = new Map<string, string>();
  const last = new Map<string, string>();
  const bar = (cur: number, total: number) => {
    const width = 50;
    // pkg/jsonmessage: "[" + "="×percentage + ">" + " "×(width-percentage) + "]"
    const p = total > 0 ? Math.min(width, Math.floor((cur / total) * width)) : 0;
    return `[${"=".repeat(p)}>${" ".repeat(width - p)}] ${humanSize(cur).padStart(7)}/${humanSize(total)}`;
  };
  return {
    line(s: string) {
      if (!quiet) write(`${s}\n`);
    },
    layer(id: string, status: string, current?: number, total?: number) {
      if (quiet) return;
      if (!tty) {
        // docker's plain output has no byte counts: Downloading/Pushing lines are left out
        if (status === "Extracting" && last.get(id) === status) return;
        last.set(id, status);
        if (status === "Downloading" || status === "Pushing") return;
        write(`${id}: ${status}\n`);
        return;
      }
      const text = `${id}: ${status}${current !== undefined && total ? ` ${bar(current, total)}` : ""}`;
      if (!lines.has(id)) {
        order.push(id);
        lines.set(id, text);
        write(`${text}\n`);
        return;
      }
      lines.set(id, text);
      const up = order.length - order.indexOf(id);
      write(`\x1b[${up}A\r\x1b[2K${text}\x1b[${up}B\r`);
    },
  };
}

export function insecureFor(ctx: Context): Promise<string[]> {
  // the daemon config file's insecure-registries, with <root>/daemon.json's and the environment's
  return import("../engine/index.ts").then(async (m) => [...(await m.insecureRegistries(ctx.root, ctx.env)), ...(ctx.daemon?.["insecure-registries"] ?? [])]);
}

/** pull `ref` with docker's progress lines: on stdout for `pull` (`toStdout`), on stderr for `run`/`create` when the image is missing */
export async function pullWithProgress(ctx: Context, ref: string, o: { quiet: boolean; platform?: string; toStdout?: boolean }): Promise<{ name: string }> {
  const { parsePlatform } = await import("../engine/index.ts");
  const engine = await ctx.engine();
  const p = o.toStdout ? progressPrinter(o.quiet, ctx.out, !!process.stdout.isTTY) : progressPrinter(o.quiet);
  return engine.imagePull(ref, {
    platform: o.platform ? parsePlatform(o.platform) : undefined,
    insecure: await insecureFor(ctx),
    // the measured alternatives of issue 13 (engine/pull.ts PullOptions), for benches and tests
    unpackAtOnce: { "1": true, "0": false }[process.env.BERTH_PULL_UNPACK_AT_ONCE ?? ""],
    inflater: inflaterFromEnv(process.env.BERTH_PULL_INFLATE),
    onProgress: (e) => {
      if (e.type === "start") p.line(`${e.tagOrDigest}: Pulling from ${e.repo}`);
      else if (e.type === "layer") p.layer(e.id, e.status, e.current, e.total);
      else if (e.type === "digest") p.line(`Digest: ${e.digest}`);
      else if (e.type === "status") p.line(`Status: ${e.message}`);
    },
  });
}

export default defineBerthCommand({
  meta: {
    name: "pull",
    description: "Download an image from a registry",
    usage: "[OPTIONS] NAME[:TAG|@DIGEST]",
    aliases: ["berth image pull", "berth pull"],
    minArgs: 1,
    maxArgs: 1,
  },
  args: {
    "all-tags": { type: "boolean", alias: "a", description: "Download all tagged images in the repository" },
    "disable-content-trust": { type: "boolean", description: "Skip image verification (default true)" },
    platform: { type: "string", description: "Set platform if server is multi-platform capable" },
    quiet: { type: "boolean", alias: "q", description: "Suppress verbose output" },
  },
  async run({ flags, positionals, ctx }) {
    if (flags["all-tags"]) {
      const { EngineError } = await import("../lib/errors.ts");
      throw new EngineError("invalid_argument", "pull --all-tags is not supported");
    }
    const res = await pullWithProgress(ctx, positionals[0]!, {
      quiet: !!flags.quiet,
      platform: flags.platform ? String(flags.platform) : undefined,
      toStdout: true,
    });
    ctx.out(`${res.name}\n`);
  },
});

/** BERTH_PULL_INFLATE: libz, native or thread; anything else leaves the engine's default */
function inflaterFromEnv(v: string | undefined): "libz" | "native" | "thread" | undefined {
  return v === "libz" || v === "native" || v === "thread" ? v : undefined;
}
