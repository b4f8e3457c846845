/**
 * The engine's pull and push progress events as docker's JSON-message stream (moby pkg/jsonmessage), the
 * lines `POST /images/create` and `POST /images/{name}/push` answer: pure conversions, one event to the
 * messages docker's daemon writes for it.
 */
import type { JSONMessage } from "./api/progress.ts";
import type { PullEvent } from "./pull.ts";
import type { PushEvent } from "./push.ts";

/** `latest: Pulling from library/busybox` is {"status":"Pulling from library/busybox","id":"latest"} */
export function pullMessages(e: PullEvent): JSONMessage[] {
  switch (e.type) {
    case "start":
      return [{ status: `Pulling from ${e.repo}`, id: e.tagOrDigest }];
    case "layer":
      return [{ status: e.status, id: e.id, ...progress(e.current, e.total) }];
    case "digest":
      return [{ status: `Digest: ${e.digest}` }];
    case "status":
      return [{ status: `Status: ${e.message}` }];
  }
}

/** a finished push is two messages: the line the CLI prints, and the aux record tools read */
export function pushMessages(e: PushEvent): JSONMessage[] {
  switch (e.type) {
    case "start":
      return [{ status: `The push refers to repository [${e.repository}]` }];
    case "layer":
      return [{ status: e.status, id: e.id, ...progress(e.current, e.total) }];
    case "done":
      return [{ status: `${e.tag}: digest: ${e.digest} size: ${e.size}` }, { progressDetail: {}, aux: { Tag: e.tag, Digest: e.digest, Size: e.size } }];
  }
}

function progress(current: number | undefined, total: number | undefined): Pick<JSONMessage, "progressDetail"> {
  if (current === undefined) return {};
  return { progressDetail: total === undefined ? { current } : { current, total } };
}
