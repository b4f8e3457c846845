import { describe, expect, test } from "bun:test";
import { DockerfileError, parseDockerfile, parseDuration, parseNodes, splitWords, type Instruction } from "./parser.ts";
import { ShellLex } from "./shell-lex.ts";
import { IgnoreMatcher, parseDockerignore } from "./dockerignore.ts";
import { applyMeta, joinWorkdir, nopCreatedBy, runArgs, type StageState } from "./state.ts";

const one = (text: string): Instruction => parseDockerfile(`FROM scratch\n${text}`).stages[0]!.instructions[0]!;
const errOf = (text: string): string => {
  try {
    parseDockerfile(text);
  } catch (e) {
    expect(e).toBeInstanceOf(DockerfileError);
    return (e as Error).message;
  }
  throw new Error("no error");
};

describe("lines", () => {
  test("continuations, comments inside them, blank lines", () => {
    const { nodes } = parseNodes("FROM a\nRUN echo a \\\n  # comment\n\n  && echo b\n# c\nCMD x\n");
    expect(nodes.map((n) => [n.keyword, n.rest, n.line, n.endLine])).toEqual([
      ["FROM", "a", 1, 1],
      ["RUN", "echo a   && echo b", 2, 5],
      ["CMD", "x", 7, 7],
    ]);
  });
  test("escape directive switches the continuation character", () => {
    const r = parseNodes("# escape=`\nFROM a\nRUN dir c:\\ `\n  x\n");
    expect(r.escape).toBe("`");
    expect(r.nodes[1]!.rest).toBe("dir c:\\   x");
  });
  test("syntax directive; directives only at the top", () => {
    const r = parseNodes("# syntax=docker/dockerfile:1\n# escape=\\\nFROM a\n# escape=`\nRUN a \\\n b");
    expect(r.syntax).toBe("docker/dockerfile:1");
    expect(r.escape).toBe("\\");
    expect(r.nodes[1]!.rest).toBe("a  b");
  });
  test("a comment before the directive ends directive parsing", () => {
    expect(parseNodes("# hello\n# escape=`\nFROM a").escape).toBe("\\");
  });
  test("invalid escape and duplicate directives", () => {
    expect(errOf("# escape=x\nFROM a")).toContain("Dockerfile:1: invalid escape token");
    expect(errOf("# escape=`\n# escape=`\nFROM a")).toBe("Dockerfile:2: only one escape parser directive can be used");
  });
  test("heredocs: body, <<- strips tabs, quoted delimiter disables expansion, several", () => {
    const { nodes } = parseNodes("FROM a\nRUN <<EOF\necho $A\nEOF\nRUN <<-X cat\n\tline\n\tX\nCOPY <<'A' <<B /dst/\none\nA\ntwo\nB\nCMD x");
    expect(nodes[1]!.heredocs).toEqual([{ name: "EOF", content: "echo $A\n", expand: true }]);
    expect(nodes[2]!.heredocs).toEqual([{ name: "X", content: "line\n", expand: true }]);
    expect(nodes[3]!.heredocs.map((h) => [h.name, h.content, h.expand])).toEqual([
      ["A", "one\n", false],
      ["B", "two\n", true],
    ]);
    expect(nodes[4]!.keyword).toBe("CMD");
    expect(nodes[4]!.line).toBe(13);
  });
  test("unterminated heredoc", () => {
    expect(errOf("FROM a\nRUN <<EOF\necho\n")).toBe("Dockerfile:2: unterminated heredoc EOF");
  });
  test("flags", () => {
    const { nodes } = parseNodes("COPY --from=build --chown=1:2 --chmod=755 a b\nFROM --platform=linux/amd64 x AS y");
    expect(nodes[0]!.flags).toEqual({ from: ["build"], chown: ["1:2"], chmod: ["755"] });
    expect(nodes[0]!.rest).toBe("a b");
    expect(nodes[1]!.flags).toEqual({ platform: ["linux/amd64"] });
  });
  test("CRLF and BOM", () => {
    expect(parseNodes("\uFEFFFROM a\r\nRUN b \\\r\n c\r\n").nodes.map((n) => n.rest)).toEqual(["a", "b  c"]);
  });
});

describe("instructions", () => {
  test("FROM forms, stages, ARG before FROM", () => {
    const df = parseDockerfile("ARG V=1\nARG B\nFROM busybox:${V} AS Build\nRUN x\nFROM build\nFROM --platform=linux/amd64 scratch");
    expect(df.metaArgs.map((a) => a.args)).toEqual([[{ name: "V", value: "1" }], [{ name: "B" }]]);
    expect(df.stages.map((s) => [s.index, s.name, s.from.kind === "FROM" && s.from.image, s.instructions.length])).toEqual([
      [0, "build", "busybox:${V}", 1],
      [1, undefined, "build", 0],
      [2, undefined, "scratch", 0],
    ]);
    expect(df.stages[2]!.from.platform).toBe("linux/amd64");
  });
  test("errors name file and line", () => {
    expect(errOf("FROM a\n\nFOO bar")).toBe("Dockerfile:3: unknown instruction: FOO");
    expect(errOf("RUN x")).toContain("Dockerfile:1: RUN not allowed before FROM");
    expect(errOf("FROM a b")).toBe("Dockerfile:1: FROM requires either one or three arguments");
    expect(errOf("FROM a\nCOPY onlyone")).toContain("Dockerfile:2: COPY requires at least two arguments");
    expect(errOf("FROM a\nENV X")).toBe("Dockerfile:2: ENV must have two arguments");
    expect(errOf("FROM a\nENV =x")).toBe("Dockerfile:2: ENV names can not be blank");
    expect(errOf("FROM a\nRUN --bogus=1 x")).toBe("Dockerfile:2: Unknown flag: bogus");
    expect(errOf("FROM a\nSHELL sh -c")).toBe("Dockerfile:2: SHELL requires the arguments to be in JSON form");
    expect(errOf("FROM a\nONBUILD ONBUILD RUN x")).toContain("Chaining ONBUILD");
    expect(errOf("FROM a\nONBUILD FROM x")).toContain("FROM isn't allowed as an ONBUILD trigger");
    expect(errOf("FROM a AS x\nFROM b AS x")).toBe("Dockerfile:2: duplicate name x");
    expect(errOf("FROM a\nHEALTHCHECK --interval=abc CMD x")).toBe('Dockerfile:2: time: invalid duration "abc"');
    expect(errOf("FROM a\nUSER")).toBe("Dockerfile:2: USER requires exactly one argument");
    expect(errOf("# only a comment\n")).toBe("Dockerfile:1: the Dockerfile (Dockerfile) cannot be empty");
  });
  test("the offending line is the hint", () => {
    try {
      parseDockerfile("FROM a\n\n  BOGUS x  \n");
      throw new Error("no error");
    } catch (e) {
      expect((e as DockerfileError).hint).toBe("   3 | BOGUS x");
    }
  });
  test("RUN/CMD/ENTRYPOINT shell and exec forms", () => {
    expect(one("RUN echo hi").kind === "RUN" && (one("RUN echo hi") as any).cmd).toEqual({ json: false, text: "echo hi" });
    expect((one('CMD ["a", "b c"]') as any).cmd).toEqual({ json: true, args: ["a", "b c"] });
    // not valid JSON: shell form, kept verbatim
    expect((one("ENTRYPOINT [a, b]") as any).cmd).toEqual({ json: false, text: "[a, b]" });
    expect((one("RUN --network=none true") as any).network).toBe("none");
  });
  test("ENV and LABEL: pairs, quotes, legacy form", () => {
    expect((one('ENV A=1 B="two words" C=x\\ y') as any).pairs).toEqual([
      ["A", "1"],
      ["B", '"two words"'],
      ["C", "x\\ y"],
    ]);
    expect((one("ENV A some value") as any).pairs).toEqual([["A", "some value"]]);
    expect((one('LABEL "com.x"="y z" k=v') as any).pairs).toEqual([
      ['"com.x"', '"y z"'],
      ["k", "v"],
    ]);
  });
  test("ARG, EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL, MAINTAINER", () => {
    expect((one("ARG A B=2") as any).args).toEqual([{ name: "A" }, { name: "B", value: "2" }]);
    expect((one("EXPOSE 80 443/udp") as any).ports).toEqual(["80", "443/udp"]);
    expect(one('VOLUME ["/a", "/b"]') as any).toMatchObject({ paths: ["/a", "/b"], json: true });
    expect(one("VOLUME /a /b") as any).toMatchObject({ paths: ["/a", "/b"], json: false });
    expect((one("USER 1000:1000") as any).value).toBe("1000:1000");
    expect((one("WORKDIR /app") as any).value).toBe("/app");
    expect((one("STOPSIGNAL SIGTERM") as any).value).toBe("SIGTERM");
    expect((one("MAINTAINER me <me@x>") as any).value).toBe("me <me@x>");
  });
  test("COPY and ADD: flags, globs, JSON form, heredoc source", () => {
    expect(one("COPY --from=b --chown=1:1 --chmod=600 a* dir/ /dst/")).toMatchObject({
      kind: "COPY",
      sources: ["a*", "dir/"],
      dest: "/dst/",
      from: "b",
      chown: "1:1",
      chmod: "600",
    });
    expect(one('COPY ["a b", "/c d"]')).toMatchObject({ sources: ["a b"], dest: "/c d" });
    expect(one("ADD --checksum=sha256:abc http://h/x /x")).toMatchObject({ kind: "ADD", checksum: "sha256:abc", sources: ["http://h/x"] });
    expect(one("COPY <<EOF /f\nhello\nEOF")).toMatchObject({ sources: ["<<EOF"], dest: "/f" });
    expect(errOf("FROM a\nADD --from=x a b")).toBe("Dockerfile:2: Unknown flag: from");
  });
  test("ONBUILD, SHELL, HEALTHCHECK", () => {
    const ob = one("ONBUILD RUN echo hi") as any;
    expect(ob.trigger).toBe("RUN echo hi");
    expect(ob.inner.kind).toBe("RUN");
    expect((one('SHELL ["/bin/ash", "-eo", "pipefail", "-c"]') as any).args).toEqual(["/bin/ash", "-eo", "pipefail", "-c"]);
    expect(one("HEALTHCHECK NONE")).toMatchObject({ none: true });
    expect(one("HEALTHCHECK --interval=5s --retries=3 CMD wget -q x || exit 1")).toMatchObject({
      none: false,
      test: ["CMD-SHELL", "wget -q x || exit 1"],
      interval: 5e9,
      retries: 3,
    });
    expect(one('HEALTHCHECK CMD ["true"]')).toMatchObject({ test: ["CMD", "true"] });
  });
  test("keywords are case-insensitive", () => {
    expect(one("run echo").kind).toBe("RUN");
  });
  test("durations", () => {
    expect(parseDuration("1m30s")).toBe(90e9);
    expect(parseDuration("500ms")).toBe(500e6);
    expect(parseDuration("x")).toBeUndefined();
  });
  test("splitWords keeps quotes and escapes", () => {
    expect(splitWords(`a="b c" d='e f' g\\ h`, "\\")).toEqual([`a="b c"`, `d='e f'`, `g\\ h`]);
  });
});

describe("substitution", () => {
  const env = new Map([
    ["A", "1"],
    ["E", ""],
    ["P", "/p"],
  ]);
  const lex = new ShellLex();
  test.each([
    ["$A", "1"],
    ["${A}", "1"],
    ["x${A}y", "x1y"],
    ["$NOPE", ""],
    ["${NOPE:-d}", "d"],
    ["${E:-d}", "d"],
    ["${E-d}", ""],
    ["${A:+set}", "set"],
    ["${NOPE:+set}", ""],
    ["${E+set}", "set"],
    ["'$A'", "$A"],
    ['"$A b"', "1 b"],
    ["\\$A", "$A"],
    ["${NOPE:-${P}/x}", "/p/x"],
    ["a$", "a$"],
    ['"q\\"x"', 'q"x'],
  ])("%s → %s", (input, out) => {
    expect(lex.processWord(input, env)).toBe(out);
  });
  test("errors", () => {
    expect(() => lex.processWord("${NOPE:?needed}", env)).toThrow("NOPE: needed");
    expect(() => lex.processWord("${A", env)).toThrow("missing '}'");
    expect(() => lex.processWord("'open", env)).toThrow("single-quote");
  });
  test("words split on unquoted whitespace", () => {
    expect(lex.processWords('80 "$A 2" ${P}', env)).toEqual(["80", "1 2", "/p"]);
  });
  test("backtick escape", () => {
    expect(new ShellLex("`").processWord("c:\\x `$A", env)).toBe("c:\\x $A");
  });
});

describe("config instructions", () => {
  const fresh = (): StageState => ({ config: { Env: ["PATH=/bin"] }, args: new Map(), cmdSet: false });
  const lex = new ShellLex();
  const ba = () => ({ given: new Map([["V", "9"]]), used: new Set<string>() });
  test("ENV sees earlier pairs and ARGs; comment text", () => {
    const st = fresh();
    const args = ba();
    applyMeta(st, one("ARG V=1"), lex, args);
    expect(args.used.has("V")).toBe(true);
    expect(applyMeta(st, one("ENV A=$V B=${A}x"), lex, args)).toBe("ENV A=9 B=9x");
    expect(st.config.Env).toEqual(["PATH=/bin", "A=9", "B=9x"]);
    expect(runArgs(st)).toEqual([["V", "9"]]);
    applyMeta(st, one("ENV V=env"), lex, args);
    expect(runArgs(st)).toEqual([]);
    expect(nopCreatedBy(st, "ENV A=1")).toBe("/bin/sh -c #(nop)  ENV A=1");
  });
  test("ARG without a value in a stage takes the value of the ARG before FROM", () => {
    const st = fresh();
    applyMeta(st, one("ARG VERSION"), lex, { given: new Map(), used: new Set(), meta: new Map([["VERSION", "1.2"]]) });
    expect(st.args.get("VERSION")).toBe("1.2");
    applyMeta(st, one("ARG OTHER"), lex, { given: new Map(), used: new Set(), meta: new Map() });
    expect(st.args.has("OTHER")).toBe(true);
    expect(runArgs(st)).toEqual([["VERSION", "1.2"]]);
  });
  test("CMD, ENTRYPOINT resets CMD unless set in this stage, SHELL changes the shell form", () => {
    const st = fresh();
    st.config.Cmd = ["base"];
    applyMeta(st, one("ENTRYPOINT x"), lex, ba());
    expect(st.config).toMatchObject({ Entrypoint: ["/bin/sh", "-c", "x"], Cmd: null });
    applyMeta(st, one('SHELL ["/bin/ash", "-c"]'), lex, ba());
    expect(applyMeta(st, one("CMD y"), lex, ba())).toBe('CMD ["/bin/ash" "-c" "y"]');
    applyMeta(st, one('ENTRYPOINT ["e"]'), lex, ba());
    expect(st.config.Cmd).toEqual(["/bin/ash", "-c", "y"]);
  });
  test("EXPOSE ranges, VOLUME, USER, WORKDIR relative, LABEL, ONBUILD, STOPSIGNAL, HEALTHCHECK", () => {
    const st = fresh();
    applyMeta(st, one("ENV P=8080"), lex, ba());
    expect(applyMeta(st, one("EXPOSE $P 53/UDP 1-2"), lex, ba())).toBe("EXPOSE 8080/tcp 53/udp 1/tcp 2/tcp");
    applyMeta(st, one("VOLUME /data /logs"), lex, ba());
    applyMeta(st, one("USER nobody"), lex, ba());
    applyMeta(st, one("WORKDIR /a"), lex, ba());
    applyMeta(st, one("WORKDIR b/../c"), lex, ba());
    applyMeta(st, one('LABEL a="x y"'), lex, ba());
    applyMeta(st, one("ONBUILD RUN echo hi"), lex, ba());
    applyMeta(st, one("STOPSIGNAL SIGINT"), lex, ba());
    applyMeta(st, one("HEALTHCHECK --interval=1s CMD true"), lex, ba());
    expect(st.config).toMatchObject({
      ExposedPorts: { "8080/tcp": {}, "53/udp": {}, "1/tcp": {}, "2/tcp": {} },
      Volumes: { "/data": {}, "/logs": {} },
      User: "nobody",
      WorkingDir: "/a/c",
      Labels: { a: "x y" },
      OnBuild: ["RUN echo hi"],
      StopSignal: "SIGINT",
      Healthcheck: { Test: ["CMD-SHELL", "true"], Interval: 1e9 },
    });
    expect(() => applyMeta(st, one("EXPOSE abc"), lex, ba())).toThrow("invalid containerPort: abc");
  });
  test("joinWorkdir", () => {
    expect(joinWorkdir(undefined, "x")).toBe("/x");
    expect(joinWorkdir("/a/b", "../c")).toBe("/a/c");
  });
});

describe(".dockerignore", () => {
  const m = (text: string) => new IgnoreMatcher(parseDockerignore(text));
  test("plain names, directories cover their contents, comments", () => {
    const i = m("# c\nnode_modules\n/build/\n*.log\n");
    expect(i.ignores("node_modules")).toBe(true);
    expect(i.ignores("node_modules/x/y.js")).toBe(true);
    expect(i.ignores("build/a")).toBe(true);
    expect(i.ignores("a.log")).toBe(true);
    expect(i.ignores("sub/a.log")).toBe(false);
    expect(i.ignores("src/a.ts")).toBe(false);
  });
  test("** and ? and classes", () => {
    const i = m("**/*.tmp\ndoc?/x\n[ab].txt");
    expect(i.ignores("a/b/c.tmp")).toBe(true);
    expect(i.ignores("c.tmp")).toBe(true);
    expect(i.ignores("doc1/x")).toBe(true);
    expect(i.ignores("a.txt")).toBe(true);
    expect(i.ignores("c.txt")).toBe(false);
  });
  test("! exceptions, last match wins", () => {
    const i = m("*.md\n!README.md\ndocs\n!docs/keep.md\nREADME*.md");
    expect(i.ignores("a.md")).toBe(true);
    expect(i.ignores("README.md")).toBe(true);
    expect(i.ignores("docs/x")).toBe(true);
    expect(i.ignores("docs/keep.md")).toBe(false);
    expect(i.canSkipDir("docs")).toBe(false);
    expect(m("docs").canSkipDir("docs")).toBe(true);
  });
  test("patterns are cleaned", () => {
    expect(m("./a/../b").ignores("b")).toBe(true);
  });
});
