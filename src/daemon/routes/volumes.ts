/**
 * The Engine API's volume routes (moby api/swagger.yaml "Volume" tag) over the engine's volume calls, the
 * ones `berth volume` makes. The local driver only; driver options are refused by the engine.
 */
import { EngineError } from "../../lib/errors.ts";
import type { Route } from "../types.ts";
import { boolParam, filtersParam } from "./_params.ts";

const strings = (o: unknown, what: string): Record<string, string> => {
  if (o === undefined || o === null) return {};
  if (typeof o !== "object" || Array.isArray(o) || Object.values(o).some((v) => typeof v !== "string"))
    throw new EngineError("invalid_argument", `${what} must be an object of strings`);
  return o as Record<string, string>;
};

/** "1.41" < "1.42" as numbers */
export function versionBefore(v: string, than: string): boolean {
  const [a1, a2] = v.split(".").map(Number);
  const [b1, b2] = than.split(".").map(Number);
  return a1! < b1! || (a1 === b1 && a2! < b2!);
}

export const routes: Route[] = [
  {
    method: "GET",
    path: "/volumes",
    handler(req, { engine }) {
      // dockerd's list carries no UsageData (only /system/df measures volumes): with berth's Size -1 the
      // docker CLI printed "-1B" in `volume ls --format {{.Size}}` where docker prints N/A
      const list = engine.volumeList(filtersParam(req));
      return { json: { ...list, Volumes: list.Volumes.map(({ UsageData: _, ...v }) => v) } };
    },
  },
  {
    method: "POST",
    path: "/volumes/create",
    async handler(req, { engine }) {
      const body = (await req.json<Record<string, unknown>>()) ?? {};
      if (typeof body !== "object" || Array.isArray(body)) throw new EngineError("invalid_argument", "the request body must be a JSON object");
      const name = typeof body.Name === "string" ? body.Name : undefined;
      const driver = typeof body.Driver === "string" && body.Driver !== "" ? body.Driver : "local";
      const { volume } = engine.containers.volumes.create(name, {
        driver,
        labels: strings(body.Labels, "Labels"),
        options: strings(body.DriverOpts, "DriverOpts"),
      });
      return { status: 201, json: engine.volumeInspect(volume.Name) };
    },
  },
  {
    method: "POST",
    path: "/volumes/prune",
    handler(req, { engine }) {
      // API 1.42 made prune take anonymous volumes only, unless the `all` filter says otherwise
      return { json: engine.volumePrune({ all: versionBefore(req.version, "1.42"), filters: filtersParam(req) }) };
    },
  },
  {
    method: "GET",
    path: "/volumes/{name}",
    handler(req, { engine }) {
      return { json: engine.volumeInspect(req.params.name!) };
    },
  },
  {
    method: "DELETE",
    path: "/volumes/{name}",
    handler(req, { engine }) {
      try {
        engine.containers.volumes.remove(req.params.name!);
      } catch (e) {
        // docker: force ignores a volume that is not there (one in use is still refused)
        if (!(boolParam(req, "force") && e instanceof EngineError && e.kind === "not_found")) throw e;
      }
      return { status: 204, empty: true };
    },
  },
];
