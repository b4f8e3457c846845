/** docker's --format language (Go text/template as docker's CLI sets it up): one row per case */
import { describe, expect, test } from "bun:test";
import { compileTemplate, goJson, goTime, renderTemplate, strictFields, TemplateError } from "./template.ts";

const d = {
  Name: "/web",
  State: { Status: "running", Pid: 5, ExitCode: 0, Health: null },
  Config: { Labels: { app: "web", tier: "front" }, Cmd: ["sleep", "1000"], Entrypoint: null, Env: ["A=1", "B=2"], Volumes: null },
  NetworkSettings: {
    Networks: { bridge: { IPAddress: "172.17.0.2" }, back: { IPAddress: "10.0.0.3" } },
    Ports: { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "8080" }] },
  },
  Mounts: [],
};

/** [template, expected output] against `d` */
const renders: [string, string][] = [
  // fields, json, index
  ["{{.State.Status}} {{.Name}}", "running /web"],
  ["{{json .Config.Labels}}", '{"app":"web","tier":"front"}'],
  ["{{json .State}}", '{"Status":"running","Pid":5,"ExitCode":0,"Health":null}'],
  ["{{json .Nope}}", "null"],
  ['{{index .Config.Labels "app"}}', "web"],
  ['{{index .Config.Labels "nope"}}', "<nil>"],
  ['{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}', "8080"],
  // range over maps (sorted keys) and slices, with variables and else
  ["{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "app=web;tier=front;"],
  ["{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", "10.0.0.3 172.17.0.2 "],
  ["{{range $i, $c := .Config.Cmd}}{{$i}}:{{$c}}{{$.Name}} {{end}}", "0:sleep/web 1:1000/web "],
  ["{{range .Mounts}}m{{else}}none{{end}}", "none"],
  ["{{range .Config.Volumes}}v{{else}}no volumes{{end}}", "no volumes"],
  ["{{- range .Config.Env }}\n  {{ . }}\n{{- end }}", "\n  A=1\n  B=2"],
  // if / else if / with, comparisons and logic
  ['{{if eq .State.Status "exited"}}down{{else if eq .State.Status "running"}}up{{else}}?{{end}}', "up"],
  ["{{with .State}}{{.Pid}}{{end}}", "5"],
  ["{{with .State.Health}}h{{else}}no health{{end}}", "no health"],
  ['{{and .Name .State.Pid}} {{or "" "y"}} {{not .Name}} {{lt 1 2}} {{eq .State.Pid 4 5}} {{ne .Name "/web"}}', "5 y false true true false"],
  // functions docker adds and Go's print family
  ['{{len .Config.Cmd}} {{join .Config.Cmd ","}} {{printf "%s-%d" .Name .State.Pid}}', "2 sleep,1000 /web-5"],
  ['{{upper .Name}} {{.Name | printf "%.3s"}} {{title "hello world"}} {{truncate "abcdef" 3}} {{split "a:b" ":"}}', "/WEB /we Hello World abc [a b]"],
  ['{{printf "%5d|%-4s|%q|%t" .State.Pid "ab" .Name true}}', '    5|ab  |"/web"|true'],
  ['{{printf "%s"}}', "%!s(MISSING)"],
  ['{{pad "x" 1 2}}|{{lower "AB"}}', " x  |ab"],
  ["{{println .Name}}", "/web\n"],
  ['{{print 1 2}} {{print "a" "b"}}', "1 2 ab"],
  ["{{$x := .Name}}{{$x}}", "/web"],
  ["{{/* a comment */}}ok", "ok"],
  // values print as Go's %v: nil slices and maps, nil pointers, missing keys, maps and slices
  ["{{.Config.Entrypoint}}|{{.Config.Volumes}}|{{.State.Health}}|{{.Config.Labels.nope}}|{{.Config.Cmd}}", "[]|map[]|<nil>|<no value>|[sleep 1000]"],
  ["{{.Config.Labels}}", "map[app:web tier:front]"],
  ["{{.State}}", "map[ExitCode:0 Health:<nil> Pid:5 Status:running]"],
  ["{{.Mounts}} {{len .Mounts}}", "[] 0"],
  // \t and \n: turned into a tab and a newline for listings
  ["{{.Name}}\\t{{.State.Pid}}\\n", "/web\t5\n"],
  ['{{join .Config.Cmd "\\n"}}', "sleep\n1000"],
];

/** [template, data, expected] for values other than `d` */
const renderOthers: [string, unknown, string][] = [
  // a field docker's types always have prints as Go's nil slice or map when absent too
  ["{{.Config.Cmd}} {{.Config.Env}} {{.Config.Labels}} {{.Config.Nope}}", { Config: {} }, "[] [] map[] <no value>"],
  ["{{.RepoTags}} {{.Config.ExposedPorts}}", { RepoTags: null, Config: { ExposedPorts: null } }, "[] map[]"],
  // Go's json.Marshal escapes HTML characters
  ["{{json .}}", { Digest: "<none>", A: "a&b" }, '{"Digest":"\\u003cnone\\u003e","A":"a\\u0026b"}'],
  ["{{json .}}", [], "[]"],
  ["{{.}}", ["a", 1, true, null], "[a 1 true <nil>]"],
];

/** [template, stage, message fragment] */
const failures: [string, TemplateError["stage"], string][] = [
  ["{{foo}}", "parse", 'template parsing error: template: :1: function "foo" not defined'],
  ["{{.Name", "parse", "unclosed action"],
  ["{{if .Name}}x", "parse", "unexpected EOF"],
  ["{{end}}", "parse", "unexpected {{end}}"],
  ["{{else}}", "parse", "unexpected {{else}}"],
  ['{{"abc}}', "parse", "unclosed action"],
  ["{{/* open }}", "parse", "unclosed comment"],
  ['{{define "x"}}{{end}}', "parse", "{{define}} is not supported by berth"],
  ["{{$nope}}", "parse", 'undefined variable "$nope"'],
  ["{{index .Config.Cmd 5}}", "execute", "template: :1: error calling index: index out of range: 5"],
  ["{{.Name.Deeper}}", "execute", "can't evaluate field Deeper in type string"],
  ["{{.State.Health.Status}}", "execute", "nil pointer evaluating interface {}.Status"],
  ["{{len .State.Pid}}", "execute", "error calling len: len of type number"],
  ["{{lt .Name 1}}", "execute", "incompatible types for comparison"],
  ['{{join .Name ","}}', "execute", "error calling join: expected a list"],
  ["{{range .Name}}x{{end}}", "execute", "range can't iterate over /web"],
  ["{{.Name 1}}", "execute", "can't give argument to non-function .Name"],
];

const fail = (t: string, data: unknown = d): TemplateError => {
  try {
    renderTemplate(t, data);
  } catch (e) {
    return e as TemplateError;
  }
  throw new Error(`${t} did not fail`);
};

describe("--format templates", () => {
  test.each(renders)("%p", (t, want) => expect(renderTemplate(t, d)).toBe(want));
  test.each(renderOthers)("%p over other data", (t, data, want) => expect(renderTemplate(t, data)).toBe(want));
  test.each(failures)("%p fails while %s", (t, stage, msg) => {
    const e = fail(t);
    expect(e).toBeInstanceOf(TemplateError);
    expect(e.stage).toBe(stage);
    expect(e.kind).toBe("invalid_argument");
    expect(e.message).toContain(msg);
    // docker's exit statuses: 64 for a template that does not parse, 1 for one that fails on a value
    expect(e.code).toBe(stage === "parse" ? 64 : 1);
  });

  test("a template is parsed once, before any object is rendered", () => {
    expect(() => compileTemplate("{{end}}")).toThrow("unexpected {{end}}");
    const render = compileTemplate("{{.A}}");
    expect([{ A: 1 }, { A: 2 }].map(render)).toEqual(["1", "2"]);
  });

  test("inspect's templates keep \\t and \\n literally (raw)", () => {
    expect(renderTemplate("{{.Name}}\\t{{.State.Pid}}\\n", d, { raw: true })).toBe("/web\\t5\\n");
  });

  test("a listing row is a Go struct: an unknown field is an error, a method takes arguments", () => {
    const row = strictFields({ ID: "abc", Names: "web", Label: (k: unknown) => (k === "tier" ? "front" : "") }, "ContainerContext");
    expect(renderTemplate("{{.ID}} {{.Names}}", row)).toBe("abc web");
    expect(renderTemplate('{{.Label "tier"}}|{{.Label "x"}}', row)).toBe("front|");
    const e = fail("{{.Nmae}}", row);
    expect(e.message).toBe('template: :1: executing "" at <.Nmae>: can\'t evaluate field Nmae in type *formatter.ContainerContext');
    expect(e.stage).toBe("execute");
  });

  test("Go's json.Marshal and time.Time", () => {
    expect(goJson({ a: "<b>", c: "\u2028" })).toBe('{"a":"\\u003cb\\u003e","c":"\\u2028"}');
    expect(goTime(new Date("2024-01-02T03:04:05.678Z"))).toBe("2024-01-02 03:04:05 +0000 UTC");
  });
});

describe("Go structs (issue 16 item 12)", () => {
  const { goTypedInspect } = require("./go-types.ts") as typeof import("./go-types.ts");
  const doc = () =>
    goTypedInspect({
      State: { Status: "running", Running: true, Pid: 7 },
      GraphDriver: { Data: null, Name: "vfs" },
      Mounts: [{ Type: "volume", Name: "v", Source: "/s", Destination: "/d", Driver: "local", Mode: "z", RW: true, Propagation: "" }],
      HostConfig: {
        PortBindings: { "80/tcp": [{ HostIp: "", HostPort: "18080" }] },
        RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
        LogConfig: { Type: "json-file", Config: {} },
      },
      NetworkSettings: { Ports: { "80/tcp": [{ HostIp: "", HostPort: "18080" }], "443/tcp": null } },
    });
  test("a struct prints as {fields in order}, a nil slice in a map as []", () => {
    expect(renderTemplate("{{.NetworkSettings.Ports}}", doc())).toBe("map[443/tcp:[] 80/tcp:[{ 18080}]]");
    expect(renderTemplate("{{.HostConfig.RestartPolicy}}|{{.HostConfig.LogConfig}}", doc())).toBe("{no 0}|{json-file map[]}");
    expect(renderTemplate("{{.Mounts}}", doc())).toBe("[{volume v /s /d local z true }]");
    expect(renderTemplate("{{.State}}", doc())).toBe("&{running true false false false false 7 0    <nil>}");
    expect(renderTemplate("{{.GraphDriver}}", doc())).toBe("{map[] vfs}");
  });
  test("a field of a nil map is <no value>, not a nil-pointer error", () => {
    expect(renderTemplate("{{.GraphDriver.Data.MergedDir}}", doc())).toBe("<no value>");
    expect(JSON.stringify(doc().GraphDriver)).toBe('{"Data":null,"Name":"vfs"}');
  });
  test("range keeps the element types", () => {
    expect(renderTemplate("{{range $p, $b := .NetworkSettings.Ports}}{{$p}}={{$b}};{{end}}", doc())).toBe("443/tcp=[];80/tcp=[{ 18080}];");
  });
});
