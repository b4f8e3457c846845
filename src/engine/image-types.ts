/** What the container side of the engine needs from the image side (src/engine/images.ts). */
import type { Digest, ImageConfig } from "../oci/index.ts";

export interface ResolvedImage {
  /** image ID = digest of the config blob */
  id: Digest;
  config: ImageConfig;
  /** committed snapshot name of the top layer (the chain ID), undefined for an image without layers */
  topLayer?: string;
  /** familiar names pointing at the image, e.g. ["busybox:latest"] */
  names: string[];
}

export interface ImageResolver {
  /** name[:tag], name@digest, full or short ID → the image; EngineError not_found
   * "No such image: NAME" (exit 125, docker's "Unable to find image" path comes with pull) */
  resolve(ref: string): Promise<ResolvedImage>;
  /**
   * Hold the image-use lock until the returned handle is disposed: rmi and image prune cannot delete
   * an image between its resolve() and the container record that uses it. Optional for stand-ins.
   */
  holdImageRef?(): Promise<Disposable>;
}
