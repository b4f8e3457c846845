/** the release version, kept in one place (package.json is the source; scripts/build.ts checks they agree) */
export const VERSION = "0.1.0";
/** the Engine API versions berth's engine serves (`berth daemon`; `version`'s Server part and `info`) */
export const ENGINE_MIN_API = "1.24";
export const ENGINE_MAX_API = "1.47";

// scripts/build.ts defines these for the compiled binary (`bun build --define`); run from source they are unset
declare const BERTH_GIT_COMMIT: string | undefined;
declare const BERTH_BUILD_TIME: string | undefined;
/** the commit the binary was built from (short hash, `-dirty` when the tree had changes), or "" from source */
export const GIT_COMMIT: string = typeof BERTH_GIT_COMMIT === "string" ? BERTH_GIT_COMMIT : "";
/** when the binary was built (RFC 3339), or "" from source */
export const BUILD_TIME: string = typeof BERTH_BUILD_TIME === "string" ? BERTH_BUILD_TIME : "";
