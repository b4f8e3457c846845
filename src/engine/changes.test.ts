import { expect, test } from "bun:test";
import { applyChanges } from "./changes.ts";

test("CMD and ENTRYPOINT in exec and shell form", () => {
  expect(applyChanges({}, ['CMD ["sh","-c","echo hi"]']).Cmd).toEqual(["sh", "-c", "echo hi"]);
  expect(applyChanges({}, ["CMD echo hi"]).Cmd).toEqual(["/bin/sh", "-c", "echo hi"]);
  expect(applyChanges({}, ['ENTRYPOINT ["/bin/app"]']).Entrypoint).toEqual(["/bin/app"]);
});

test("ENV replaces by key and keeps order; legacy form", () => {
  const c = applyChanges({ Env: ["PATH=/bin", "A=1"] }, ['ENV A=2 B="two words"', "ENV C value with spaces"]);
  expect(c.Env).toEqual(["PATH=/bin", "A=2", "B=two words", "C=value with spaces"]);
});

test("EXPOSE, LABEL, VOLUME, USER, WORKDIR, STOPSIGNAL", () => {
  const c = applyChanges({}, ["EXPOSE 80 53/udp", "LABEL a=b", "VOLUME /data", "USER nobody", "WORKDIR /srv", "STOPSIGNAL SIGQUIT"]);
  expect(c).toEqual({
    ExposedPorts: { "80/tcp": {}, "53/udp": {} },
    Labels: { a: "b" },
    Volumes: { "/data": {} },
    User: "nobody",
    WorkingDir: "/srv",
    StopSignal: "SIGQUIT",
  });
});

test("unknown instructions are refused", () => {
  expect(() => applyChanges({}, ["RUN rm -rf /"])).toThrow("RUN is not a valid change command");
  expect(() => applyChanges({}, ["EXPOSE eighty"])).toThrow("invalid containerPort: eighty");
});
