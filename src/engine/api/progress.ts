/**
 * docker's JSON-message progress stream (moby pkg/jsonmessage `JSONMessage`): the lines `POST
 * /images/create` (pull), `/images/{name}/push`, `/images/load`, import and `/build` stream.
 */

/** `progressDetail`: bytes so far of a layer's download, upload or extraction */
export interface ProgressDetail {
  current?: number;
  total?: number;
}

/** `errorDetail` */
export interface JSONError {
  code?: number;
  message: string;
}

/** one message; a consumer keys its display line by `id` (a layer's short digest) */
export interface JSONMessage {
  /** "Pulling fs layer", "Downloading", "Pull complete", "Digest: sha256:…" */
  status?: string;
  id?: string;
  /** the pre-rendered bar, "[=====>   ] 1.2MB/3.4MB" */
  progress?: string;
  progressDetail?: ProgressDetail;
  /** build output */
  stream?: string;
  /** out-of-band results: {"ID": "sha256:…"} of a built image, a pushed tag's digest */
  aux?: Record<string, unknown>;
  errorDetail?: JSONError;
  /** deprecated: errorDetail.message */
  error?: string;
  /** unix seconds, optional */
  time?: number;
  timeNano?: number;
}
