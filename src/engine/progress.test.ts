/** The pull and push events as the JSON messages docker's daemon streams (what docker's CLI reads). */
import { expect, test } from "bun:test";
import { pullMessages, pushMessages } from "./progress.ts";

test("pull: docker's status lines, layer ids and byte counts", () => {
  expect(pullMessages({ type: "start", tagOrDigest: "latest", repo: "library/busybox" })).toEqual([{ status: "Pulling from library/busybox", id: "latest" }]);
  expect(pullMessages({ type: "layer", id: "a3ed95caeb02", status: "Pulling fs layer" })).toEqual([{ status: "Pulling fs layer", id: "a3ed95caeb02" }]);
  expect(pullMessages({ type: "layer", id: "a3ed95caeb02", status: "Downloading", current: 512, total: 2048 })).toEqual([
    { status: "Downloading", id: "a3ed95caeb02", progressDetail: { current: 512, total: 2048 } },
  ]);
  expect(pullMessages({ type: "digest", digest: `sha256:${"a".repeat(64)}` })).toEqual([{ status: `Digest: sha256:${"a".repeat(64)}` }]);
  expect(pullMessages({ type: "status", message: "Downloaded newer image for busybox:latest" })).toEqual([
    { status: "Status: Downloaded newer image for busybox:latest" },
  ]);
});

test("push: the repository line, layers, and the final line with its aux record", () => {
  expect(pushMessages({ type: "start", repository: "127.0.0.1:5000/team/app" })).toEqual([
    { status: "The push refers to repository [127.0.0.1:5000/team/app]" },
  ]);
  expect(pushMessages({ type: "layer", id: "5f70bf18a086", status: "Pushed" })).toEqual([{ status: "Pushed", id: "5f70bf18a086" }]);
  const digest = `sha256:${"b".repeat(64)}` as const;
  expect(pushMessages({ type: "done", tag: "1.2", digest, size: 527 })).toEqual([
    { status: `1.2: digest: ${digest} size: 527` },
    { progressDetail: {}, aux: { Tag: "1.2", Digest: digest, Size: 527 } },
  ]);
});
