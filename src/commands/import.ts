import { defineBerthCommand } from "./_command.ts";
import { EngineError } from "../lib/errors.ts";
import { existsSync, statSync } from "node:fs";

export default defineBerthCommand({
  meta: {
    name: "import",
    description: "Import the contents from a tarball to create a filesystem image",
    usage: "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
    aliases: ["berth image import", "berth import"],
    minArgs: 1,
    maxArgs: 2,
  },
  args: {
    change: { type: "string", alias: "c", multiple: true, description: "Apply Dockerfile instruction to the created image" },
    message: { type: "string", alias: "m", description: "Set commit message for imported image" },
    platform: { type: "string", description: "Set platform if server is multi-platform capable" },
    quiet: { type: "boolean", alias: "q", description: "Suppress progress output" },
  },
  async run({ flags, positionals, ctx }) {
    const [src, ref] = positionals as [string, string | undefined];
    let stream: ReadableStream<Uint8Array> | { file: string };
    if (src === "-") {
      stream = Bun.stdin.stream();
    } else if (/^https?:\/\//.test(src)) {
      const res = await fetch(src);
      if (!res.ok || !res.body) throw new EngineError("unavailable", `import ${src}: ${res.status} ${res.statusText}`);
      stream = res.body;
    } else {
      if (!existsSync(src)) throw new EngineError("not_found", `open ${src}: no such file or directory`);
      const st = statSync(src);
      if (st.isDirectory()) throw new EngineError("invalid_argument", `import ${src}: is a directory, not a tarball`);
      // a regular file is read by the engine itself, into reused memory (a fifo or device as a stream)
      stream = st.isFile() ? { file: src } : Bun.file(src).stream();
    }
    const engine = await ctx.engine();
    const { applyChanges } = await import("../engine/index.ts");
    const changes = flags.change.length ? applyChanges({}, flags.change) : undefined;
    let platform;
    if (flags.platform) {
      const [os, architecture, variant] = String(flags.platform).split("/");
      if (!os || !architecture) throw new EngineError("invalid_argument", `invalid platform "${flags.platform}": expected os/arch[/variant]`);
      platform = { os, architecture, ...(variant ? { variant } : {}) };
    }
    const id = await engine.images.importTarball(stream, {
      sourceName: src,
      ref,
      message: flags.message,
      changes,
      platform,
      // BERTH_IMPORT_TAR_SPLIT=0: store a plain tarball as a blob again, not as a tar-split over its snapshot
      tarSplit: process.env.BERTH_IMPORT_TAR_SPLIT !== "0",
      // BERTH_IMPORT_BODY_WRITER=0: write the files' bodies on the JS thread (no native writer thread)
      bodyWriter: process.env.BERTH_IMPORT_BODY_WRITER !== "0",
      // BERTH_IMPORT_COPY_BODIES=0: the writer writes the bodies from the bytes read here (no copy_file_range)
      copyBodies: process.env.BERTH_IMPORT_COPY_BODIES !== "0",
    });
    ctx.out(`${id}\n`);
  },
});
