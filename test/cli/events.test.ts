/** `events`: what container and network operations report, followed live and replayed with --since/--until. Root only. */
import { describe, expect, test } from "bun:test";
import { berthArgv, type CliResult, busyboxRoot } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

const { root, run } = busyboxRoot("events");
const ok = (r: CliResult) => expect(r).toMatchObject({ exitCode: 0 });
const sfx = Math.random().toString(36).slice(2, 8);

describe.skipIf(!rootEnabled)("events", () => {
  test("a live stream sees create, start, die, destroy of run --rm; filters; --since/--until replay; docker's text line", async () => {
    const t0 = new Date().toISOString();
    const live = Bun.spawn(
      berthArgv([
        "--root",
        root,
        "events",
        "--filter",
        "type=container",
        "--filter",
        `container=ev-${sfx}`,
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}",
      ]),
      { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } },
    );
    try {
      await Bun.sleep(700); // the follower has read to the end of the log
      ok(
        await run(["run", "--rm", "--network", "none", "--name", `ev-${sfx}`, "--label", "team=x", "busybox", "sh", "-c", "exit 3"]).then((r) => ({
          ...r,
          exitCode: r.exitCode === 3 ? 0 : r.exitCode,
        })),
      );
      ok(await run(["create", "--network", "none", "--name", `other-${sfx}`, "busybox", "true"]));
      await Bun.sleep(700);
    } finally {
      live.kill();
    }
    const lines = (await new Response(live.stdout).text()).trim().split("\n");
    expect(lines).toEqual([
      `container create ev-${sfx} <no value>`,
      `container start ev-${sfx} <no value>`,
      `container die ev-${sfx} 3`,
      `container destroy ev-${sfx} <no value>`,
    ]);

    const t1 = new Date(Date.now() + 1000).toISOString();
    const replay = await run(["events", "--since", t0, "--until", t1, "--filter", "event=create"]);
    ok(replay);
    const re = (name: string) =>
      new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z container create [0-9a-f]{64} \\(image=busybox, name=${name}(, team=x)?\\)$`);
    const rl = replay.stdout.trim().split("\n");
    expect(rl.length).toBe(2);
    expect(rl[0]).toMatch(re(`ev-${sfx}`));
    expect(rl[0]).toContain("team=x");
    expect(rl[1]).toMatch(re(`other-${sfx}`));
    const json = JSON.parse((await run(["events", "--since", t0, "--until", t1, "--filter", `container=other-${sfx}`, "--format", "json"])).stdout.trim());
    expect(json).toMatchObject({
      Type: "container",
      Action: "create",
      status: "create",
      from: "busybox",
      scope: "local",
      Actor: { Attributes: { name: `other-${sfx}`, image: "busybox" } },
    });
    expect(typeof json.timeNano).toBe("number");
    const bad = await run(["events", "--filter", "colour=red", "--until", t1]);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toContain("invalid filter 'colour'");
    ok(await run(["rm", `other-${sfx}`]));
  });
});
