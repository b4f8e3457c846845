/**
 * `run -t` at the runtime level: the container's PID 1 gets the pty slave as its controlling terminal
 * (setsid + TIOCSCTTY in the shim), so resize, ^C and job control work inside. The test plays the
 * terminal emulator on the master side. Root only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { read } from "node:fs";
import { rootEnabled } from "../helpers/root.ts";
import { makeRootfs, testSpec, leaks, removeRoot } from "./runtime-fixture.ts";
import { createContainer, execInContainer, killContainer, openConsole, openContainerPty, removeCgroup, DEFAULT_CAPABILITIES } from "../../src/runtime/index.ts";
import { pipe2 } from "../../src/ffi/container-io.ts";
import { setWinsize, closeFd } from "../../src/ffi/container-io.ts";

let root = "";
beforeAll(() => {
  if (rootEnabled) root = makeRootfs("runtime");
});
afterAll(() => {
  if (root) removeRoot(root);
});

/**
 * The test's side of a terminal: everything the container writes, typing, waiting for output. The
 * master is read with fs.read on the threadpool, never through a stream: Bun's fs read streams close
 * their fd themselves (even with autoClose: false), and that late close hit the next test's fd, which
 * had been given the same number (its pty vanished before the container mounted it).
 */
function terminal(master: number) {
  const t = { out: "" };
  const buf = Buffer.alloc(4096);
  const done = (async () => {
    for (;;) {
      const n = await new Promise<number>((res) => read(master, buf, 0, buf.length, null, (e, k) => res(e ? -1 : k)));
      if (n <= 0) return; // EIO: the last slave is closed
      t.out += buf.toString("utf8", 0, n);
    }
  })();
  return Object.assign(t, {
    until: async (re: RegExp) => {
      for (let i = 0; i < 500 && !re.test(t.out); i++) await Bun.sleep(10);
      expect(t.out).toMatch(re);
    },
    type: (text: string) => Bun.write(Bun.file(master), text),
    /** once the container's processes are gone: the reader has seen EIO; the master is closed once */
    close: async () => {
      await Promise.race([done, Bun.sleep(2000)]);
      closeFd(master);
    },
  });
}

describe.skipIf(!rootEnabled)("runtime: terminal", () => {
  test("tty, stty size after resize, ^C interrupts sleep, exit code", async () => {
    const pty = openConsole();
    setWinsize(pty.master, { rows: 24, cols: 80 });
    const spec = testSpec(root, ["sh", "-i"], {}, { terminal: true, env: ["PATH=/bin", "PS1=ctr# ", "TERM=dumb"] });
    const c = await createContainer(spec, { stdin: pty.slave, stdout: pty.slave, stderr: pty.slave, devpts: { mountFd: pty.mountFd, name: pty.name } });
    closeFd(pty.slave);
    closeFd(pty.mountFd);
    const term = terminal(pty.master);
    const { until, type } = term;
    try {
      await until(/ctr# /);
      await type("tty; stty size; echo A$((6*7))\r");
      await until(/A42/);
      expect(term.out).toContain("/dev/pts/0\r\n"); // as under docker: the container's own devpts, pty 0
      expect(term.out).toContain("24 80");
      setWinsize(pty.master, { rows: 50, cols: 132 }); // the kernel sends SIGWINCH to the foreground group
      await type("stty size; echo B$((1+1))\r");
      await until(/B2/);
      expect(term.out).toContain("50 132");
      await type("sleep 20; echo sleep-finished\r");
      await Bun.sleep(300);
      await type("\x03");
      await type("echo C$((2+1))\r");
      await until(/C3/);
      expect(term.out).not.toMatch(/\nsleep-finished/); // only the echo of the typed line
      await type("exit 3\r");
      expect(await c.wait()).toEqual({ exitCode: 3, oomKilled: false, oomRead: true });
    } finally {
      removeCgroup(spec.cgroupPath);
      await term.close();
    }
    expect(leaks(root)).toEqual([]);
  }, 20000);

  test("--init with a terminal: ^C reaches the process once, the exit code passes through", async () => {
    const pty = openConsole();
    const script = 'trap "echo got-INT" INT; echo ready; n=0; while [ $n -lt 30 ]; do sleep 0.1; n=$((n+1)); done; exit 7';
    const spec = testSpec(root, ["sh", "-c", script], {}, { terminal: true, init: true, env: ["PATH=/bin"] });
    const c = await createContainer(spec, { stdin: pty.slave, stdout: pty.slave, stderr: pty.slave, devpts: { mountFd: pty.mountFd, name: pty.name } });
    closeFd(pty.slave);
    closeFd(pty.mountFd);
    const term = terminal(pty.master);
    try {
      await term.until(/ready/);
      await term.type("\x03");
      const exit = await c.wait();
      // once, not twice (tty + the reaper's forwarding); the output is in the object for a failure's diff
      expect({ exit, ints: term.out.match(/got-INT/g), out: term.out }).toEqual({
        exit: { exitCode: 7, oomKilled: false, oomRead: true },
        ints: ["got-INT"],
        out: expect.any(String),
      });
    } finally {
      removeCgroup(spec.cgroupPath);
      await term.close();
    }
    expect(leaks(root)).toEqual([]);
  }, 20000);

  test("exec -t: a pty from the container's devpts, ^C and exit code", async () => {
    const [a, b] = pipe2();
    const spec = testSpec(root, ["sleep", "30"]);
    const c = await createContainer(spec, { stdin: a, stdout: b, stderr: b });
    closeFd(a);
    closeFd(b);
    const pty = openContainerPty(c.pid);
    expect(pty.name).toMatch(/^\/dev\/pts\/\d+$/);
    const term = terminal(pty.master);
    const { until, type } = term;
    try {
      setWinsize(pty.master, { rows: 30, cols: 100 });
      const ex = await execInContainer(
        c.pid,
        {
          args: ["sh", "-i"],
          env: ["PATH=/bin", "PS1=ex# ", "TERM=dumb"],
          cwd: "/",
          uid: 0,
          gid: 0,
          additionalGids: [],
          terminal: true,
          capabilities: DEFAULT_CAPABILITIES,
          noNewPrivileges: false,
          init: false,
        },
        { stdin: pty.slave, stdout: pty.slave, stderr: pty.slave },
        spec.cgroupPath,
      );
      closeFd(pty.slave);
      await until(/ex# /);
      await type("tty; stty size; echo D$((2*2))\r");
      await until(/D4/);
      expect(term.out).toContain(`${pty.name}\r\n`);
      expect(term.out).toContain("30 100");
      await type("sleep 20; echo sleep-finished\r");
      await Bun.sleep(300);
      await type("\x03");
      await type("echo E$((2+3))\r");
      await until(/E5/);
      expect(term.out).not.toMatch(/\nsleep-finished/);
      await type("exit 4\r");
      expect(await ex.wait()).toEqual({ exitCode: 4, oomKilled: false });
    } finally {
      killContainer(c.pid, 9);
      await c.wait();
      removeCgroup(spec.cgroupPath);
      await term.close();
    }
    expect(leaks(root)).toEqual([]);
  }, 20000);
});
