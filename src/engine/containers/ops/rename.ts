/** `rename`: a new name for a container, taken atomically, and for its embedded-DNS entries */
import { EngineError } from "../../../lib/errors.ts";
import { validateName } from "../names.ts";
import * as netw from "../networking.ts";
import { ev, type ContainerDeps } from "./deps.ts";

export function rename(d: ContainerDeps, ref: string, newName: string): void {
  const id = d.store.resolve(ref);
  const name = validateName(newName);
  d.store.withLock(id, () => {
    const cfg = d.store.readConfig(id);
    const old = cfg.Name.slice(1);
    if (old === name) throw new EngineError("invalid_argument", "Renaming a container with the same name as its current name");
    d.store.reserveName(name, id);
    d.store.writeConfig({ ...cfg, Name: `/${name}` });
    d.store.releaseName(old, id);
    ev(d, "rename", { ...cfg, Name: `/${name}` }, { oldName: `/${old}` });
    // the embedded DNS answers for the new name from now on (docker does the same)
    if (netw.isBridgeMode(netw.primaryNetwork(cfg))) d.networks.mgr.renameEndpoints(id, (ns) => [...new Set(ns.map((n) => (n === old ? name : n)))]);
  });
}
