/**
 * Every route module of the Engine API, collected for the server. A module exports `routes: Route[]`;
 * add one import line and one spread per module.
 */
import type { Route } from "../types.ts";
import { routes as system } from "./system.ts";
import { routes as containers } from "./containers.ts";
import { routes as exec } from "./exec.ts";
import { routes as images } from "./images.ts";
import { routes as build } from "./build.ts";
import { routes as networks } from "./networks.ts";
import { routes as volumes } from "./volumes.ts";

export const routes: Route[] = [...system, ...containers, ...exec, ...images, ...build, ...networks, ...volumes];
