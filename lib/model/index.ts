/** The model: config, parameters, forward pass. */
export * from "./config";
export * from "./params";
export * from "./model";
export { flopsPerToken } from "./flops";
export { Rng, hashString } from "./rng";
