import { defineBerthCommand } from "./_command.ts";
import { insecureFor, progressPrinter } from "./pull.ts";

export default defineBerthCommand({
  meta: {
    name: "push",
    description: "Upload an image to a registry",
    usage: "[OPTIONS] NAME[:TAG]",
    aliases: ["berth image push", "berth push"],
    minArgs: 1,
    maxArgs: 1,
  },
  args: {
    "all-tags": { type: "boolean", alias: "a", description: "Push all tags of an image to the repository" },
    "disable-content-trust": { type: "boolean", description: "Skip image signing (default true)" },
    quiet: { type: "boolean", alias: "q", description: "Suppress verbose output" },
  },
  async run({ flags, positionals, ctx }) {
    if (flags["all-tags"]) {
      const { EngineError } = await import("../lib/errors.ts");
      throw new EngineError("invalid_argument", "push --all-tags is not supported");
    }
    const engine = await ctx.engine();
    // docker's push progress is on stdout, with the final digest line
    const p = progressPrinter(!!flags.quiet, ctx.out, !!process.stdout.isTTY);
    await engine.imagePush(positionals[0]!, {
      insecure: await insecureFor(ctx),
      // tests force the chunked upload path on small blobs
      ...(Number(process.env.BERTH_PUSH_CHUNK_SIZE) > 0 ? { chunkSize: Number(process.env.BERTH_PUSH_CHUNK_SIZE) } : {}),
      onProgress: (e) => {
        if (e.type === "start") p.line(`The push refers to repository [${e.repository}]`);
        else if (e.type === "layer") p.layer(e.id, e.status, e.current, e.total);
        else if (e.type === "done") ctx.out(flags.quiet ? `${positionals[0]}\n` : `${e.tag}: digest: ${e.digest} size: ${e.size}\n`);
      },
    });
  },
});
