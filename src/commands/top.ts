/** `berth top`: `ps -ef`-like table of the processes in the container's cgroup */
import { defineBerthCommand } from "./_command.ts";
import { renderDockerTable } from "../engine/containers/index.ts";
import { containers } from "./container.ts";

export default defineBerthCommand({
  meta: { name: "top", description: "Display the running processes of a container", usage: "CONTAINER [ps OPTIONS]", aliases: ["berth container top", "berth top"], minArgs: 1, stopAtPositional: true },
  args: {},
  async run({ positionals, ctx }) {
    const svc = await containers(ctx);
    const { titles, processes } = svc.top(positionals[0]!);
    ctx.out(renderDockerTable(titles, processes));
  },
});
