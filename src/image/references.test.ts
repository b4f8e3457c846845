// Cases follow distribution/reference's reference_test.go and normalize_test.go (same inputs, our own
// assertions), so a divergence from docker's grammar shows up here first.
import { describe, expect, test } from "bun:test";
import { EngineError } from "../lib/errors.ts";
import {
  familiarName,
  familiarString,
  familiarizeKey,
  isFullId,
  isIdPrefix,
  parseDockerRef,
  parseReference,
  parseStrict,
  parseTag,
  referenceString,
  withDefaultTag,
} from "./references.ts";

const F64 = "f".repeat(64);
const H = "e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582";

function errOf(fn: () => unknown): EngineError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    expect((e as EngineError).kind).toBe("invalid_argument");
    return e as EngineError;
  }
  throw new Error("expected an error");
}

describe("parseStrict (distribution Parse)", () => {
  const ok: [string, string, string, string?, string?][] = [
    // input, domain, path, tag, digest
    ["test_com", "", "test_com"],
    ["test.com:tag", "", "test.com", "tag"],
    ["test.com:5000", "", "test.com", "5000"],
    ["test.com/repo:tag", "test.com", "repo", "tag"],
    ["test:5000/repo", "test:5000", "repo"],
    ["test:5000/repo:tag", "test:5000", "repo", "tag"],
    [`test:5000/repo@sha256:${F64}`, "test:5000", "repo", undefined, `sha256:${F64}`],
    [`test:5000/repo:tag@sha256:${F64}`, "test:5000", "repo", "tag", `sha256:${F64}`],
    ["lowercase:Uppercase", "", "lowercase", "Uppercase"],
    [`${"a/".repeat(127)}a:tag-puts-this-over-max`, "a", `${"a/".repeat(126)}a`, "tag-puts-this-over-max"],
    ["sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux"],
    ["sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux", "some-long-tag"],
    ["b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app", "test.example.com"],
    ["xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com"],
    [`xn--7o8h.com/myimage:xn--7o8h.com@sha256:${F64}`, "xn--7o8h.com", "myimage", "xn--7o8h.com", `sha256:${F64}`],
    ["foo_bar.com:8080", "", "foo_bar.com", "8080"],
    ["foo/foo_bar.com:8080", "foo", "foo_bar.com", "8080"],
    ["192.168.1.1", "", "192.168.1.1"],
    ["192.168.1.1:tag", "", "192.168.1.1", "tag"],
    ["192.168.1.1:5000", "", "192.168.1.1", "5000"],
    ["192.168.1.1/repo", "192.168.1.1", "repo"],
    ["192.168.1.1:5000/repo", "192.168.1.1:5000", "repo"],
    ["192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050"],
    ["[2001:db8::1]/repo", "[2001:db8::1]", "repo"],
    ["[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag"],
    ["[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo"],
    ["[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag"],
    [`[2001:db8::1]:5000/repo@sha256:${F64}`, "[2001:db8::1]:5000", "repo", undefined, `sha256:${F64}`],
    [`[2001:db8::1]:5000/repo:tag@sha256:${F64}`, "[2001:db8::1]:5000", "repo", "tag", `sha256:${F64}`],
    ["[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo"],
    ["[::1]:5000/repo", "[::1]:5000", "repo"],
    [`example.com/${"a".repeat(255)}:tag`, "example.com", "a".repeat(255), "tag"],
  ];
  test.each(ok.map((r) => [r[0], r[1], r[2], r[3] ?? null, r[4] ?? null] as const))("%s", (input, domain, path, tag, digest) => {
    const r = parseStrict(input);
    expect(r).toEqual({ domain, path, ...(tag !== null && { tag }), ...(digest !== null && { digest }) } as never);
    expect(referenceString(r)).toBe(input);
  });

  const bad: [string, string][] = [
    ["", "invalid reference format: repository name must have at least one component"],
    [":justtag", "invalid reference format"],
    [`@sha256:${F64}`, "invalid reference format"],
    ["repo@sha256:ffffffffffffffffffffffffffffffffff", "invalid reference format: invalid checksum digest length"],
    [`validname@invaliddigest:${F64}`, "invalid reference format: unsupported digest algorithm"],
    [`validname@sha512:${F64}${F64}`, "invalid reference format: unsupported digest algorithm"],
    [`repo@sha256:${F64.toUpperCase()}`, "invalid reference format: invalid checksum digest format"],
    ["Uppercase:tag", "invalid reference format: repository name must be lowercase"],
    ["test:5000/Uppercase/lowercase:tag", "invalid reference format: repository name must be lowercase"],
    [`domain/${"a".repeat(256)}:tag`, "invalid reference format: repository name must not be more than 255 characters"],
    ["aa/asdf$$^/aa", "invalid reference format"],
    ["[2001:db8::1]", "invalid reference format"],
    ["[2001:db8::1]:5000", "invalid reference format"],
    ["[2001:db8::1]:tag", "invalid reference format"],
    ["[fe80::1%eth0]:5000/repo", "invalid reference format"],
    ["[fe80::1%@invalidzone]:5000/repo", "invalid reference format"],
    ["repo:" + "t".repeat(129), "invalid reference format"],
    ["repo:-tag", "invalid reference format"],
    ["repo@sha256:abc", "invalid reference format"],
  ];
  test.each(bad)("rejects %s", (input, message) => {
    expect(errOf(() => parseStrict(input)).message).toBe(message);
  });

  test("a 4 KiB adversarial name fails fast instead of backtracking", () => {
    expect(errOf(() => parseStrict("a" + "-".repeat(5000) + "!")).message).toBe("invalid reference format");
    expect(errOf(() => parseStrict("a.".repeat(1500) + "!")).message).toBe("invalid reference format");
  });
});

describe("parseReference (ParseNormalizedNamed)", () => {
  const valid = [
    "docker/docker",
    "library/debian",
    "debian",
    "localhost/library/debian",
    "localhost/debian",
    "LOCALDOMAIN/library/debian",
    "LOCALDOMAIN/debian",
    "docker.io/docker/docker",
    "docker.io/library/debian",
    "docker.io/debian",
    "index.docker.io/docker/docker",
    "index.docker.io/library/debian",
    "index.docker.io/debian",
    "127.0.0.1:5000/docker/docker",
    "127.0.0.1:5000/library/debian",
    "127.0.0.1:5000/debian",
    "192.168.0.1",
    "192.168.0.1:80",
    "192.168.0.1:8/debian",
    "192.168.0.2:25000/debian",
    "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
    "[fc00::1]:5000/docker",
    "[fc00::1]:5000/docker/docker",
    "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
    "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    "Docker/docker",
    "DOCKER/docker",
    "docker-rules/docker",
    "docker---rules/docker",
    "doc/docker",
    "d/docker",
    "jess/t",
    "dock__er/docker",
  ];
  test.each(valid)("accepts %s", (s) => {
    expect(() => parseReference(s)).not.toThrow();
  });

  const invalid = [
    "https://github.com/docker/docker",
    "docker/Docker",
    "-docker",
    "-docker/docker",
    "-docker.io/docker/docker",
    "docker///docker",
    "docker.io/docker/Docker",
    "docker.io/docker///docker",
    "[fc00::1]",
    "[fc00::1]:5000",
    "fc00::1:5000/debian",
    "[fe80::1%eth0]:5000/debian",
    "[2001:db8:3:4::192.0.2.33]:5000/debian",
    "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    "docker-/docker",
    "-docker-/docker",
    "____/____",
    "_docker/_docker",
    "dock..er/docker",
    "dock_.er/docker",
    "dock-.er/docker",
    "docker/",
    "",
    `${"this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_".repeat(4)}/docker`,
  ];
  test.each(invalid)("rejects %s", (s) => {
    errOf(() => parseReference(s));
  });

  test("docker's wording for upper case and for IDs", () => {
    expect(errOf(() => parseReference("Busybox")).message).toBe("invalid reference format: repository name (library/Busybox) must be lowercase");
    expect(errOf(() => parseReference("localhost:5000/Foo:tag")).message).toBe("invalid reference format: repository name (Foo) must be lowercase");
    expect(errOf(() => parseReference(F64)).message).toBe(`invalid repository name (${F64}), cannot specify 64-byte hexadecimal strings`);
  });

  const norm: [string, string, string, string][] = [
    // input, normalized, familiar name, familiar string
    ["busybox", "docker.io/library/busybox", "busybox", "busybox"],
    ["busybox:1.36", "docker.io/library/busybox:1.36", "busybox", "busybox:1.36"],
    ["user/app", "docker.io/user/app", "user/app", "user/app"],
    ["docker.io/busybox", "docker.io/library/busybox", "busybox", "busybox"],
    ["index.docker.io/user/app:v1", "docker.io/user/app:v1", "user/app", "user/app:v1"],
    ["docker.io/library/a/b", "docker.io/library/a/b", "library/a/b", "library/a/b"],
    ["localhost/fooo", "localhost/fooo", "localhost/fooo", "localhost/fooo"],
    ["localhost:5000/x", "localhost:5000/x", "localhost:5000/x", "localhost:5000/x"],
    ["LOCALDOMAIN/fooo/bar", "LOCALDOMAIN/fooo/bar", "LOCALDOMAIN/fooo/bar", "LOCALDOMAIN/fooo/bar"],
    ["gcr.io/library/busybox", "gcr.io/library/busybox", "gcr.io/library/busybox", "gcr.io/library/busybox"],
    [`host:5000/ns/name:tag@sha256:${H}`, `host:5000/ns/name:tag@sha256:${H}`, "host:5000/ns/name", `host:5000/ns/name:tag@sha256:${H}`],
    [`busybox:latest@sha256:${H}`, `docker.io/library/busybox:latest@sha256:${H}`, "busybox", `busybox:latest@sha256:${H}`],
  ];
  test.each(norm)("%s normalizes", (input, normalized, fname, fstring) => {
    const r = parseReference(input);
    expect(referenceString(r)).toBe(normalized);
    expect(familiarName(r)).toBe(fname);
    expect(familiarString(r)).toBe(fstring);
  });
});

describe("parseDockerRef", () => {
  const cases: [string, string][] = [
    ["busybox", "docker.io/library/busybox:latest"],
    ["busybox:latest", "docker.io/library/busybox:latest"],
    [`busybox@sha256:${H}`, `docker.io/library/busybox@sha256:${H}`],
    ["library/busybox", "docker.io/library/busybox:latest"],
    ["docker.io/busybox", "docker.io/library/busybox:latest"],
    ["docker.io/library/busybox", "docker.io/library/busybox:latest"],
    ["docker.io/busybox:latest", "docker.io/library/busybox:latest"],
    ["library/busybox:latest", "docker.io/library/busybox:latest"],
    ["gcr.io/library/busybox", "gcr.io/library/busybox:latest"],
    [`gcr.io/library/busybox:latest@sha256:${H}`, `gcr.io/library/busybox@sha256:${H}`],
    ["localhost:5000/x", "localhost:5000/x:latest"],
  ];
  test.each(cases)("%s → %s", (input, expected) => {
    const out = referenceString(parseDockerRef(input));
    expect(out).toBe(expected);
    expect(referenceString(parseStrict(out))).toBe(out);
  });

  test("withDefaultTag leaves tagged and digested references alone", () => {
    expect(withDefaultTag(parseReference("a:b")).tag).toBe("b");
    expect(withDefaultTag(parseReference(`a@sha256:${H}`)).tag).toBeUndefined();
  });

  test("familiarizeKey", () => {
    expect(familiarizeKey("docker.io/library/busybox:latest")).toBe("busybox:latest");
    expect(familiarizeKey(`docker.io/user/app@sha256:${H}`)).toBe(`user/app@sha256:${H}`);
  });
});

describe("tags and ids", () => {
  test.each(["latest", "1.36.1", "_x", "A-b.c_d", "t".repeat(128)])("tag %s is valid", (t) => {
    expect(parseTag(t)).toBe(t);
  });
  test.each(["", "-x", ".x", "a:b", "t".repeat(129), "a/b"])("tag %s is invalid", (t) => {
    expect(errOf(() => parseTag(t)).message).toStartWith("invalid tag format");
  });
  test("isIdPrefix / isFullId", () => {
    expect(isIdPrefix("a")).toBe(true);
    expect(isIdPrefix("0123456789ab")).toBe(true);
    expect(isIdPrefix(`sha256:${H}`)).toBe(true);
    expect(isIdPrefix(`sha256:${H.slice(0, 12)}`)).toBe(true);
    expect(isIdPrefix("")).toBe(false);
    expect(isIdPrefix("busybox")).toBe(false);
    expect(isIdPrefix("ABC")).toBe(false);
    expect(isIdPrefix(H + "0")).toBe(false);
    expect(isFullId(H)).toBe(true);
    expect(isFullId(`sha256:${H}`)).toBe(true);
    expect(isFullId(H.slice(1))).toBe(false);
  });
});
