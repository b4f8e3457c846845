/**
 * `berth help [COMMAND [SUBCOMMAND]]`: docker's (cobra's) help command. It prints what
 * `berth COMMAND --help` prints, the command list alone, and for an unknown name docker's
 * "unknown help topic: NAME" on stderr with exit 1.
 */
import { defineBerthCommand, type BerthCommand } from "./_command.ts";
import { renderGroupUsage, renderUsage, topUsage } from "./_usage.ts";

export default defineBerthCommand({
  meta: { name: "help", description: "Help about any command", usage: "[COMMAND]" },
  args: {},
  async run({ positionals, ctx }) {
    if (positionals.length === 0) return void ctx.out(await topUsage());
    const { commands } = await import("./index.ts");
    const unknown = (topic: string) => {
      process.stderr.write(`unknown help topic: ${topic}\n`);
      return 1;
    };
    const lazy = commands[positionals[0]!];
    if (!lazy) return unknown(positionals[0]!);
    let cmd: BerthCommand = (await lazy()).default;
    const path = [positionals[0]!];
    for (const name of positionals.slice(1)) {
      const next = cmd.subCommands?.[name];
      if (!next) return unknown(name);
      cmd = (await next()).default;
      path.push(name);
    }
    ctx.out(cmd.subCommands ? await renderGroupUsage(cmd, path) : renderUsage(cmd, path));
  },
});
