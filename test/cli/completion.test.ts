/**
 * `berth completion bash|zsh|fish` as a user loads it: the bash script is sourced in a real bash, `complete
 * -p berth` names its function, and completing a command line (COMP_WORDS/COMP_CWORD, as bash sets them on
 * TAB) gives commands, subcommands, flags and the names of containers, images, networks and volumes in the
 * root the line names. zsh and fish scripts are syntax-checked when those shells are installed.
 */
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { berth, berthArgv, busyboxRoot } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

const { root, run } = busyboxRoot("compl");
const sfx = Math.random().toString(36).slice(2, 8);

/** a `berth` on PATH that runs the binary under test, as an installed berth would */
function withBerthOnPath<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync("/tmp/berth-compl-bin-");
  try {
    const argv = berthArgv([]);
    writeFileSync(join(dir, "berth"), `#!/bin/sh\nexec ${argv.map((a) => `'${a}'`).join(" ")} "$@"\n`);
    chmodSync(join(dir, "berth"), 0o755);
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** what bash offers after typing `line` and TAB (the last word may be partial) */
async function complete(line: string): Promise<string[]> {
  const script = (await berth(["completion", "bash"])).stdout;
  return withBerthOnPath((dir) => {
    const words = line.split(" ");
    const program = [
      script,
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})`,
      `COMP_CWORD=${words.length - 1}`,
      `COMP_LINE='${line}'`,
      "_berth_complete",
      `printf '%s\\n' "\${COMPREPLY[@]}"`,
    ].join("\n");
    const p = Bun.spawnSync(["bash", "-c", program], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
    expect(p.stderr.toString()).toBe("");
    return p.stdout.toString().split("\n").filter(Boolean);
  });
}

describe("completion scripts", () => {
  test("bash: complete -p names the function; commands, subcommands and flags complete", async () => {
    const script = (await berth(["completion", "bash"])).stdout;
    const p = Bun.spawnSync(["bash", "-c", `${script}\ncomplete -p berth`]);
    expect(p.stdout.toString()).toBe("complete -o bashdefault -o default -F _berth_complete berth\n");
    expect(await complete("berth st")).toEqual(["start", "stats", "stop"]);
    expect(await complete("berth network ")).toEqual(["connect", "create", "disconnect", "inspect", "ls", "prune", "rm"]);
    const flags = await complete("berth run --ne");
    expect(flags).toEqual(["--net", "--network", "--network-alias"]);
    expect(await complete("berth --root /x -s ")).toEqual(["btrfs", "overlay", "vfs"]);
    expect(await complete("berth --root /x -s vfs ima")).toEqual(["image", "images"]);
    expect(await complete("berth run --storage")).toEqual([]);
    // compgen against the same candidates, as a script author would check them
    const words = await complete("berth ");
    const c = Bun.spawnSync(["bash", "-c", `compgen -W "${words.join(" ")}" -- ima`]);
    expect(c.stdout.toString()).toBe("image\nimages\n");
  });

  test("an unknown shell is refused in one line", async () => {
    const r = await berth(["completion", "tcsh"]);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toStartWith('berth: unsupported shell "tcsh": use bash, zsh or fish\n');
  });

  test("zsh and fish scripts parse", async () => {
    for (const [sh, check] of [
      ["zsh", ["zsh", "-n"]],
      ["fish", ["fish", "--no-execute"]],
    ] as const) {
      const script = (await berth(["completion", sh])).stdout;
      expect(script).toContain("__complete --");
      if (!Bun.which(check[0])) continue; // not installed on this machine: only the content is checked
      const dir = mkdtempSync("/tmp/berth-compl-");
      try {
        writeFileSync(join(dir, `s.${sh}`), script);
        const p = Bun.spawnSync([...check, join(dir, `s.${sh}`)]);
        expect(p.stderr.toString()).toBe("");
        expect(p.exitCode).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});

describe.skipIf(!rootEnabled)("completion of names from the root the line names", () => {
  test("containers, images, networks and volumes", async () => {
    const ctr = `cpl-${sfx}`;
    const vol = `vol-${sfx}`;
    expect((await run(["create", "--name", ctr, "--network", "none", "busybox", "true"])).exitCode).toBe(0);
    expect((await run(["volume", "create", vol])).exitCode).toBe(0);
    try {
      expect(await complete(`berth --root ${root} rm cpl-`)).toEqual([ctr]);
      expect(await complete(`berth --root ${root} start `)).toContain(ctr);
      expect(await complete(`berth --root ${root} stop `)).not.toContain(ctr); // stop offers running containers only
      expect(await complete(`berth --root ${root} run busy`)).toEqual(["busybox:latest"]);
      expect(await complete(`berth --root ${root} run --network `)).toEqual(expect.arrayContaining(["bridge", "host", "none"]));
      expect(await complete(`berth --root ${root} volume rm vol-`)).toEqual([vol]);
      expect(await complete(`berth --root ${root} cp cpl-`)).toEqual([`${ctr}:`]);
      expect(await complete(`berth --root ${root} run -e X=1 busybox `)).toEqual([]);
    } finally {
      await run(["rm", "-f", ctr]);
      await run(["volume", "rm", vol]);
    }
  });
});
