/**
 * Registry authentication: the `WWW-Authenticate` challenge (RFC 7235 / RFC 6750 §3), the token
 * request of distribution's token spec (docs/spec/auth/token.md: GET realm?service=…&scope=…, with
 * basic credentials when we have them; `token` or `access_token`; `expires_in` defaults to 60 s), and
 * the docker CLI's credential file (`$DOCKER_CONFIG/config.json` or ~/.docker/config.json,
 * `auths.<server>.auth` = base64("user:password"), mode 0600), or the credential helper it names
 * (`credHelpers`, `credsStore`: cred-helpers.ts), as the docker CLI uses them.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { EngineError } from "../../lib/errors.ts";
import { atomicWriteFile } from "../../lib/atomic-write.ts";
import { authKey, DOCKER_HUB_AUTH_KEY } from "./endpoint.ts";
import { helperErase, helperFor, helperGet, helperStore, TOKEN_USERNAME } from "./cred-helpers.ts";

export interface Challenge {
  scheme: string; // lower-case: "bearer" | "basic"
  params: Record<string, string>;
}

/** parse `Bearer realm="…",service="…",scope="…"` (several challenges may be comma-joined) */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const s = header;
  const skipWs = () => {
    while (i < s.length && (s[i] === " " || s[i] === "\t")) i++;
  };
  const token = () => {
    const m = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/.exec(s.slice(i));
    if (!m) return "";
    i += m[0].length;
    return m[0];
  };
  while (i < s.length) {
    skipWs();
    while (s[i] === ",") {
      i++;
      skipWs();
    }
    const scheme = token();
    if (!scheme) break;
    const ch: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(ch);
    for (;;) {
      skipWs();
      const save = i;
      const key = token();
      skipWs();
      if (!key || s[i] !== "=") {
        i = save;
        break;
      }
      i++;
      skipWs();
      let value = "";
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === "\\" && i + 1 < s.length) i++;
          value += s[i++];
        }
        i++;
      } else {
        value = token();
      }
      ch.params[key.toLowerCase()] = value;
      skipWs();
      if (s[i] === ",") {
        i++;
        continue;
      }
      break;
    }
  }
  return out;
}

export interface Credentials {
  username?: string;
  password?: string;
  /** docker's identitytoken: an OAuth2 refresh token */
  identityToken?: string;
}

/** docker's config.json for an environment: $DOCKER_CONFIG/config.json or ~/.docker/config.json */
export { dockerConfigPath } from "./config-path.ts";

interface DockerConfigFile {
  credsStore?: string;
  credHelpers?: Record<string, string>;
  auths?: Record<string, { auth?: string; identitytoken?: string; username?: string; password?: string }>;
  [k: string]: unknown;
}

function readConfig(path: string): DockerConfigFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new EngineError("internal", `read ${path}: ${(e as Error).message}`);
  }
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text) as DockerConfigFile;
  } catch (e) {
    throw new EngineError("invalid_argument", `read ${path}: invalid json: ${(e as Error).message}`);
  }
}

/** the keys docker may have used for a server: exact, with scheme, with /v1/ (registry/auth.go) */
function candidateKeys(domain: string): string[] {
  const k = authKey(domain);
  if (k === DOCKER_HUB_AUTH_KEY) return [k, "index.docker.io", "docker.io", "registry-1.docker.io"];
  return [k, `https://${k}`, `http://${k}`, `https://${k}/v1/`, `https://${k}/v2/`];
}

export function loadCredentials(domain: string, path: string): Credentials | undefined {
  const cfg = readConfig(path);
  const helper = helperFor(cfg, candidateKeys(domain));
  if (helper) {
    const got = helperGet(helper, authKey(domain));
    if (!got) return undefined;
    return got.username === TOKEN_USERNAME ? { identityToken: got.secret } : { username: got.username, password: got.secret };
  }
  for (const key of candidateKeys(domain)) {
    const a = cfg.auths?.[key];
    if (!a) continue;
    const creds: Credentials = {};
    if (a.auth) {
      const dec = Buffer.from(a.auth, "base64").toString("utf8");
      const c = dec.indexOf(":");
      if (c < 0) throw new EngineError("invalid_argument", `${path}: auths.${key}.auth is not base64 of user:password`);
      creds.username = dec.slice(0, c);
      creds.password = dec.slice(c + 1);
    } else if (a.username !== undefined) {
      creds.username = a.username;
      creds.password = a.password;
    }
    if (a.identitytoken) creds.identityToken = a.identitytoken;
    if (creds.username !== undefined || creds.identityToken) return creds;
  }
  return undefined;
}

/** write the file like docker does: read-modify-write, tmp → fsync → rename, mode 0600 */
export function storeCredentials(domain: string, creds: { username: string; password: string }, path: string): string {
  const cfg = readConfig(path);
  const key = authKey(domain);
  const helper = helperFor(cfg, candidateKeys(domain));
  if (helper) {
    // docker keeps an empty entry in auths so `docker login` lists the server; the secret stays in the helper
    helperStore(helper, key, creds.username, creds.password);
    cfg.auths ??= {};
    cfg.auths[key] = {};
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    atomicWriteFile(path, JSON.stringify(cfg, null, "\t") + "\n", 0o600);
    return key;
  }
  cfg.auths ??= {};
  cfg.auths[key] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString("base64") };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  atomicWriteFile(path, JSON.stringify(cfg, null, "\t") + "\n", 0o600);
  return key;
}

/** returns false when there was nothing stored for the server */
export function removeCredentials(domain: string, path: string): boolean {
  const cfg = readConfig(path);
  let removed = false;
  const helper = helperFor(cfg, candidateKeys(domain));
  if (helper) removed = helperErase(helper, authKey(domain));
  for (const key of candidateKeys(domain)) {
    if (cfg.auths && key in cfg.auths) {
      delete cfg.auths[key];
      removed = true;
    }
  }
  if (removed) atomicWriteFile(path, JSON.stringify(cfg, null, "\t") + "\n", 0o600);
  return removed;
}

export function basicHeader(c: Credentials): string | undefined {
  if (c.username === undefined) return undefined;
  return `Basic ${Buffer.from(`${c.username}:${c.password ?? ""}`).toString("base64")}`;
}
