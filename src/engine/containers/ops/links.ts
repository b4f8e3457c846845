/**
 * --link, as the container's processes see it: the linked containers (running, on this container's
 * network) as hosts entries and docker's variables, for `start` and `exec`.
 */
import { EngineError } from "../../../lib/errors.ts";
import { parseLink } from "../create-config.ts";
import * as netw from "../networking.ts";
import { isActive, type ContainerConfigFile } from "../types.ts";
import type { ContainerDeps } from "./deps.ts";
import { refreshState } from "./state.ts";

/** docker: link variables come before the container's own environment, which wins on a clash */
export function withLinkEnv(env: string[], linkEnv: string[]): string[] {
  if (linkEnv.length === 0) return env;
  const own = new Set(env.map((e) => e.split("=")[0]));
  return [...env, ...linkEnv.filter((e) => !own.has(e.split("=")[0]))];
}

/** --link: the linked containers (running, on this container's network) as hosts entries and docker's variables */
export function linkedContainers(d: ContainerDeps, cfg: ContainerConfigFile): ReturnType<typeof netw.linkVariables> {
  const linked = (cfg.HostConfig.Links ?? []).map((l) => {
    const { name, alias } = parseLink(l);
    let lid: string;
    try {
      lid = d.store.resolve(name);
    } catch {
      throw new EngineError("not_found", `could not get container for ${name}`);
    }
    const lcfg = d.store.readConfig(lid);
    if (!isActive(refreshState(d, lid).Status))
      throw new EngineError("failed_precondition", `cannot link to a non running container: ${lcfg.Name} AS /${cfg.Name.slice(1)}/${alias}`);
    return { id: lid, name: lcfg.Name.slice(1), alias, cfg: lcfg };
  });
  return netw.linkVariables(d.networks, cfg, linked);
}
