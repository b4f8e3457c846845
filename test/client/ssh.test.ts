/**
 * Client mode over ssh:// (issue 12 item 4): an sshd of the test's own on 127.0.0.1 (a free port, a
 * temp host key and authorized key), and berth -H ssh://root@127.0.0.1:PORT/<socket> running `berth
 * system dial-stdio` on the far side, as docker's connhelper does. Root only (sshd needs it); needs
 * Debian's openssh-server (scripts/deps.sh).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { berth, distBin, useDist, repo, waitUntil } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";
import { clientFixture, freePort } from "./_fixture.ts";

const haveSshd = existsSync("/usr/sbin/sshd") && Bun.which("ssh") !== null;
const { dir, sock, config } = clientFixture("client-ssh");
const state: { sshd?: ReturnType<typeof Bun.spawn>; port: number } = { port: 0 };

beforeAll(async () => {
  if (!rootEnabled || !haveSshd) return;
  const d = join(dir, "ssh");
  mkdirSync(d, { recursive: true, mode: 0o700 });
  for (const k of ["host", "user"]) {
    const g = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", join(d, k)]);
    if (g.exitCode !== 0) throw new Error(`ssh-keygen: ${g.stderr}`);
  }
  writeFileSync(join(d, "authorized_keys"), await Bun.file(join(d, "user.pub")).text());
  chmodSync(join(d, "authorized_keys"), 0o600);
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
  state.port = await freePort();
  state.sshd = Bun.spawn(
    [
      "/usr/sbin/sshd",
      "-D",
      "-e",
      "-f",
      "/dev/null",
      "-p",
      String(state.port),
      "-h",
      join(d, "host"),
      "-o",
      "ListenAddress=127.0.0.1",
      "-o",
      `AuthorizedKeysFile=${join(d, "authorized_keys")}`,
      "-o",
      "StrictModes=no",
      "-o",
      "UsePAM=no",
      "-o",
      "PermitRootLogin=prohibit-password",
      "-o",
      "PasswordAuthentication=no",
      "-o",
      `PidFile=${join(d, "sshd.pid")}`,
    ],
    { stdout: Bun.file(join(d, "sshd.log")), stderr: Bun.file(join(d, "sshd.log")) },
  );
  await waitUntil("sshd listens", async () => {
    try {
      const c = await Bun.connect({ hostname: "127.0.0.1", port: state.port, socket: { data() {} } });
      c.end();
      return true;
    } catch {
      return false; // not listening yet
    }
  });
});

afterAll(async () => {
  state.sshd?.kill("SIGTERM");
  await state.sshd?.exited;
});

/** berth as a client over ssh: the far side's berth is this test's (dist/berth, or bun src/main.ts) */
function overSsh(args: string[], o: { stdin?: string } = {}) {
  const d = join(dir, "ssh");
  const remote = useDist ? distBin : `${process.execPath} ${join(repo, "src/main.ts")}`;
  return berth(["-H", `ssh://root@127.0.0.1:${state.port}${sock}`, ...args], {
    ...o,
    env: {
      BERTH_CONFIG: config,
      BERTH_SSH: `ssh -F /dev/null -i ${join(d, "user")} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`,
      BERTH_SSH_REMOTE_COMMAND: remote,
    },
  });
}

describe.skipIf(!rootEnabled || !haveSshd)("client mode over ssh://", () => {
  test("version, run with its status, -i with a pipe, ps, rm", async () => {
    const v = await overSsh(["version", "--format", "{{.Server.Os}}"]);
    expect(v).toMatchObject({ exitCode: 0, stdout: "linux\n" });
    const r = await overSsh(["run", "--name", "over-ssh", "busybox", "sh", "-c", "echo via ssh; exit 6"]);
    expect({ out: r.stdout, code: r.exitCode }).toEqual({ out: "via ssh\n", code: 6 });
    const i = await overSsh(["run", "--rm", "-i", "busybox", "cat"], { stdin: "piped over ssh\n" });
    expect(i).toMatchObject({ exitCode: 0, stdout: "piped over ssh\n" });
    expect((await overSsh(["ps", "-a", "--format", "{{.Names}} {{.Status}}"])).stdout).toContain("over-ssh Exited (6)");
    expect((await overSsh(["rm", "over-ssh"])).stdout).toBe("over-ssh\n");
  });

  test("a host that refuses the key: ssh's error, exit 1", async () => {
    const r = await berth(["-H", `ssh://nobody@127.0.0.1:${state.port}`, "ps"], {
      env: {
        BERTH_CONFIG: config,
        BERTH_SSH: "ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR",
      },
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("Permission denied");
  });
});
