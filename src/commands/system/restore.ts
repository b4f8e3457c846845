/**
 * `berth system restore`: start every container whose restart policy says it should be running — what
 * docker's daemon does when it starts. Run at boot by contrib/berth-restore.service (systemd) or
 * contrib/berth-restore.openrc; prints the name of each container it started.
 */
import { defineBerthCommand } from "../_command.ts";

export default defineBerthCommand({
  meta: {
    name: "restore",
    description: "Start the containers whose restart policy says they should run (at boot)",
    usage: "[OPTIONS]",
    maxArgs: 0,
  },
  args: {
    quiet: { type: "boolean", alias: "q", description: "Do not print the names of the started containers" },
  },
  async run({ flags, ctx }) {
    const svc = (await ctx.engine()).containers;
    const r = await svc.restore();
    const name = (id: string) => {
      try {
        return svc.store.readConfig(id).Name.slice(1);
      } catch {
        return id.slice(0, 12); // removed since: its id says which
      }
    };
    if (!flags.quiet) for (const id of r.started) ctx.out(`${name(id)}\n`);
    for (const f of r.failed) process.stderr.write(`berth: restore ${name(f.id)}: ${f.error.message}\n`);
    return r.failed.length ? 1 : 0;
  },
});
