/** docker's --format language (Go text/template as docker's CLI sets it up), without any container */
import { describe, expect, test } from "bun:test";
import { compileTemplate, renderTemplate } from "../../src/engine/containers/format.ts";
import { EngineError } from "../../src/lib/errors.ts";

const d = {
  Name: "/web",
  State: { Status: "running", Pid: 5, ExitCode: 0, Health: null },
  Config: { Labels: { app: "web", tier: "front" }, Cmd: ["sleep", "1000"], Entrypoint: null, Env: ["A=1", "B=2"], Volumes: null },
  NetworkSettings: { Networks: { bridge: { IPAddress: "172.17.0.2" }, back: { IPAddress: "10.0.0.3" } }, Ports: { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "8080" }] } },
  Mounts: [],
};
const r = (t: string, o: { raw?: boolean } = {}) => renderTemplate(t, d, o);
const fails = (t: string): EngineError => {
  try {
    r(t);
  } catch (e) {
    return e as EngineError;
  }
  throw new Error(`${t} did not fail`);
};

describe("--format templates", () => {
  test("fields, json, index", () => {
    expect(r("{{.State.Status}} {{.Name}}")).toBe("running /web");
    expect(r("{{json .Config.Labels}}")).toBe('{"app":"web","tier":"front"}');
    // Go's json.Marshal escapes HTML characters
    expect(renderTemplate("{{json .}}", { Digest: "<none>", A: "a&b" })).toBe('{"Digest":"\\u003cnone\\u003e","A":"a\\u0026b"}');
    expect(r('{{index .Config.Labels "app"}}')).toBe("web");
    expect(r('{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}')).toBe("8080");
  });

  test("range over maps (sorted keys) and slices, with variables and else", () => {
    expect(r("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}")).toBe("app=web;tier=front;");
    expect(r("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}")).toBe("10.0.0.3 172.17.0.2 ");
    expect(r("{{range $i, $c := .Config.Cmd}}{{$i}}:{{$c}}{{$.Name}} {{end}}")).toBe("0:sleep/web 1:1000/web ");
    expect(r("{{range .Mounts}}m{{else}}none{{end}}")).toBe("none");
    expect(r("{{- range .Config.Env }}\n  {{ . }}\n{{- end }}")).toBe("\n  A=1\n  B=2");
  });

  test("if / else if / with, comparisons and logic", () => {
    expect(r('{{if eq .State.Status "exited"}}down{{else if eq .State.Status "running"}}up{{else}}?{{end}}')).toBe("up");
    expect(r("{{with .State}}{{.Pid}}{{end}}")).toBe("5");
    expect(r("{{and .Name .State.Pid}} {{or \"\" \"y\"}} {{not .Name}} {{lt 1 2}} {{eq .State.Pid 4 5}} {{ne .Name \"/web\"}}")).toBe("5 y false true true false");
  });

  test("functions docker adds and Go's print family", () => {
    expect(r('{{len .Config.Cmd}} {{join .Config.Cmd ","}} {{printf "%s-%d" .Name .State.Pid}}')).toBe("2 sleep,1000 /web-5");
    expect(r('{{upper .Name}} {{.Name | printf "%.3s"}} {{title "hello world"}} {{truncate "abcdef" 3}} {{split "a:b" ":"}}')).toBe("/WEB /we Hello World abc [a b]");
    expect(r("{{println .Name}}")).toBe("/web\n");
    expect(r("{{$x := .Name}}{{$x}}")).toBe("/web");
    expect(r("{{/* a comment */}}ok")).toBe("ok");
  });

  test("values print as Go's %v: nil slices and maps, nil pointers, missing keys", () => {
    expect(r("{{.Config.Entrypoint}}|{{.Config.Volumes}}|{{.State.Health}}|{{.Config.Labels.nope}}|{{.Config.Cmd}}")).toBe("[]|map[]|<nil>|<no value>|[sleep 1000]");
    expect(renderTemplate("{{.Config.Cmd}} {{.Config.Env}} {{.Config.Nope}}", { Config: {} })).toBe("[] [] <no value>");
  });

  test("\\t and \\n: turned into tab and newline for listings, kept literally for inspect", () => {
    expect(r("{{.Name}}\\t{{.State.Pid}}\\n")).toBe("/web\t5\n");
    expect(r("{{.Name}}\\t{{.State.Pid}}\\n", { raw: true })).toBe("/web\\t5\\n");
    expect(r('{{join .Config.Cmd "\\n"}}')).toBe("sleep\n1000");
  });

  test("a template that does not parse is exit 64, one that fails running exit 1", () => {
    let e = fails("{{foo}}");
    expect(e.message).toBe('template parsing error: template: :1: function "foo" not defined');
    expect(e.exitCode).toBe(64);
    expect(fails("{{.Name").exitCode).toBe(64);
    expect(fails("{{if .Name}}x").exitCode).toBe(64);
    e = fails("{{index .Config.Cmd 5}}");
    expect(e.exitCode).toBe(1);
    expect(e.message).toContain("index out of range");
    expect(() => compileTemplate("{{end}}")).toThrow("unexpected {{end}}");
  });
});
