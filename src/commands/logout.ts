import { defineBerthCommand } from "./_command.ts";
import { serverDomain } from "./login.ts";

export default defineBerthCommand({
  meta: {
    name: "logout",
    description: "Log out from a registry",
    usage: "[SERVER]",
    aliases: ["berth logout"],
    maxArgs: 1,
  },
  args: {},
  async run({ positionals, ctx }) {
    const { registryLogout, dockerConfigPath } = await import("../engine/index.ts");
    const { shown, removed } = await registryLogout(serverDomain(positionals[0]), dockerConfigPath(ctx.env));
    if (!removed) {
      ctx.out(`Not logged in to ${shown}\n`);
      return;
    }
    ctx.out(`Removing login credentials for ${shown}\n`);
  },
});
