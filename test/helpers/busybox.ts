/** A busybox image in a test's berth root, imported from Debian's busybox-static (scripts/busybox-rootfs.sh). */
import { join } from "node:path";
import { berth, repo } from "./cli.ts";

export async function importBusybox(root: string, name = "busybox:latest"): Promise<void> {
  const tar = join(root, "busybox.tar");
  const p = Bun.spawnSync(["bash", join(repo, "scripts/busybox-rootfs.sh"), tar]);
  if (p.exitCode !== 0) throw new Error(`busybox-rootfs.sh: ${p.stderr}`);
  const r = await berth(["import", "-c", 'CMD ["sh"]', tar, name], { root });
  if (r.exitCode !== 0) throw new Error(`import: ${r.stderr}`);
}
