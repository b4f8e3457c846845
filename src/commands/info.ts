/** `berth info` / `berth system info`: docker's whole-engine summary, as text or through --format */
import { defineBerthCommand } from "./_command.ts";
import { ENGINE_MAX_API, VERSION } from "../version.ts";
import { renderTemplate } from "./_format/template.ts";
import { renderInfo } from "./_format/info.ts";

export default defineBerthCommand({
  meta: { name: "info", description: "Display system-wide information", usage: "[OPTIONS]", maxArgs: 0 },
  args: {
    format: { type: "string", alias: "f", description: "Format output using a custom template: 'json', or a Go template" },
  },
  async run({ flags, ctx }) {
    // dockerd's whole /info document, as `berth daemon` serves it: --format reads the same fields
    const { dockerInfo } = await import("../daemon/routes/system.ts");
    const info = await dockerInfo(await ctx.engine(), { debug: ctx.debug, apiVersion: ENGINE_MAX_API, daemon: ctx.daemon });
    const client = { Version: VERSION, Context: "default", Debug: ctx.debug };
    if (flags.format) {
      // docker: the server's fields at the top level, the client's under ClientInfo
      const data = { ...info, ClientInfo: client };
      const f = flags.format === "json" ? "{{json .}}" : flags.format;
      ctx.out(renderTemplate(f, data) + "\n");
      return;
    }
    ctx.out(`Client:\n Version:    ${client.Version}\n Context:    ${client.Context}\n Debug Mode: ${client.Debug}\n\n`);
    ctx.out(renderInfo(info));
    if (info.Warnings) process.stderr.write(info.Warnings.join("\n") + "\n");
  },
});
