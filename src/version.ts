/** the release version, kept in one place (package.json is the source; scripts/build.ts checks they agree) */
export const VERSION = "0.1.0";
export const API_VERSION = "1.41";
