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
    const { removeCredentials, authKey, dockerConfigPath } = await import("../image/registry/index.ts");
    const domain = serverDomain(positionals[0]);
    const shown = authKey(domain);
    if (!removeCredentials(domain, dockerConfigPath(ctx.env))) {
      ctx.out(`Not logged in to ${shown}\n`);
      return;
    }
    ctx.out(`Removing login credentials for ${shown}\n`);
  },
});
