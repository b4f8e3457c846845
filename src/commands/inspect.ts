/**
 * `berth inspect` / `berth container inspect`: docker-shaped JSON. Plain `inspect` also covers images
 * through the engine's image inspect hook (ContainerServiceOptions.inspectImage) when it is wired.
 */
import { defineBerthCommand } from "./_command.ts";
import { EngineError } from "../lib/errors.ts";
import type { Context } from "./_context.ts";
import { compileTemplate, goJson } from "./_format/template.ts";
import { goTypedInspect } from "./_format/go-types.ts";

function inspectCommand(onlyContainers: boolean) {
  return defineBerthCommand({
    meta: onlyContainers
      ? { name: "inspect", description: "Display detailed information on one or more containers", usage: "[OPTIONS] CONTAINER [CONTAINER...]", minArgs: 1 }
      : { name: "inspect", description: "Return low-level information on Docker objects", usage: "[OPTIONS] NAME|ID [NAME|ID...]", minArgs: 1 },
    args: {
      format: { type: "string", alias: "f", description: "Format output using a custom template" },
      size: { type: "boolean", alias: "s", description: "Display total file sizes if the type is container" },
      type: { type: "string", description: "Return JSON for specified type" },
    },
    async run({ flags, positionals, ctx }) {
      const engine = await ctx.engine();
      const type = typeof flags.type === "string" ? flags.type : onlyContainers ? "container" : "";
      if (!["", "container", "image", "network", "volume"].includes(type)) {
        throw new EngineError(
          "invalid_argument",
          `unknown type: ${JSON.stringify(type)}: must be one of "config", "container", "image", "network", "node", "plugin", "secret", "service", "task", "volume"`,
        );
      }
      const out: unknown[] = [];
      let failed = false;
      for (const ref of positionals) {
        let obj: unknown;
        if (type === "" || type === "container") {
          try {
            obj = await engine.containerInspect(ref, { size: !!flags.size });
          } catch (e) {
            if (!(e instanceof EngineError && e.kind === "not_found")) throw e;
          }
        }
        if (obj === undefined && (type === "" || type === "image")) {
          try {
            obj = await engine.imageInspect(ref);
          } catch (e) {
            if (!(e instanceof EngineError && e.kind === "not_found")) throw e;
          }
        }
        if (obj === undefined && (type === "" || type === "network")) {
          try {
            obj = engine.networkInspect(ref);
          } catch (e) {
            if (!(e instanceof EngineError && e.kind === "not_found")) throw e;
          }
        }
        if (obj === undefined) {
          process.stderr.write(
            type === "network"
              ? `berth: network ${ref} not found\n`
              : `Error: No such ${type === "container" ? "container" : type === "image" ? "image" : "object"}: ${ref}\n`,
          );
          failed = true;
          continue;
        }
        out.push(obj);
      }
      printInspect(ctx, flags.format, out);
      return failed ? 1 : 0;
    },
  });
}

export const containerInspect = inspectCommand(true);
export default inspectCommand(false);

/** inspect's output for the objects found: indented JSON, `--format json` on one line, or a template per object */
export function printInspect(ctx: Context, format: unknown, out: unknown[]): void {
  if (typeof format === "string" && format !== "") {
    const f = format;
    // parse before printing anything (docker: a bad template is exit 64 with no output)
    // docker: `--format json` is the whole array on one line
    if (f === "json") ctx.out(goJson(out) + "\n");
    else {
      const render = compileTemplate(f, { raw: true });
      for (const o of out) ctx.out(render(goTypedInspect(o)) + "\n");
    }
  } else {
    ctx.out(JSON.stringify(out, null, 4) + "\n");
  }
}
