import { defineBerthCommand } from "../_command.ts";
import { EngineError } from "../../lib/errors.ts";
import { compileTemplate, goJson } from "../_format/template.ts";
import { goTypedInspect } from "../_format/go-types.ts";

export default defineBerthCommand({
  meta: { name: "inspect", description: "Display detailed information on one or more images", usage: "[OPTIONS] IMAGE [IMAGE...]", minArgs: 1 },
  args: {
    format: { type: "string", alias: "f", description: "Format output using a custom template: 'json', or a Go-template path like '{{.Id}}'" },
  },
  async run({ flags, positionals, ctx }) {
    const engine = await ctx.engine();
    const found: unknown[] = [];
    let failed = false;
    for (const ref of positionals) {
      try {
        found.push(await engine.imageInspect(ref));
      } catch (e) {
        if (!(e instanceof EngineError) || e.kind !== "not_found") throw e;
        process.stderr.write(`Error: No such image: ${ref}\n`);
        failed = true;
      }
    }
    if (flags.format && flags.format !== "json") {
      const render = compileTemplate(String(flags.format), { raw: true });
      for (const v of found) ctx.out(render(goTypedInspect(v)) + "\n");
    } else if (flags.format === "json") ctx.out(goJson(found) + "\n");
    else ctx.out(JSON.stringify(found, null, 4) + "\n");
    return failed ? 1 : 0;
  },
});
