import { expect, test } from "bun:test";
import { referenceMatches, splitRepoTag } from "./image-list.ts";

test("docker's REPOSITORY/TAG split and reference patterns", () => {
  expect(splitRepoTag("busybox:latest")).toEqual({ repository: "busybox", tag: "latest" });
  expect(splitRepoTag("localhost:5000/app")).toEqual({ repository: "localhost:5000/app", tag: "<none>" });
  expect(splitRepoTag("localhost:5000/app:v1")).toEqual({ repository: "localhost:5000/app", tag: "v1" });
  const r = { repository: "library/x", tag: "1.0" };
  expect(referenceMatches("busybox", { repository: "busybox", tag: "latest" })).toBe(true);
  expect(referenceMatches("docker.io/library/busybox:latest", { repository: "busybox", tag: "latest" })).toBe(true);
  expect(referenceMatches("busy*", { repository: "busybox", tag: "latest" })).toBe(true);
  expect(referenceMatches("busybox:1.*", { repository: "busybox", tag: "latest" })).toBe(false);
  expect(referenceMatches("*", r)).toBe(false);
  expect(referenceMatches("*/*:1.?", r)).toBe(true);
});
