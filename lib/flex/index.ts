/**
 * The fluent FlexOlmo API. Start here:
 *
 *   import { flex } from "flexolmo-lab";
 *   const lab = await flex.lab({ preset: "cpu", seed: 0 });
 *   const pub = await lab.publicModel();                 // the shipped, pretrained one (cpu preset)
 *   const math = lab.owner("math", { from: pub });       await math.train({ steps: 200 });
 *   const code = lab.owner("code", { from: pub });       await code.train({ steps: 200 });
 *   const model = await flex.merge(pub, [math, code], { k: 2 });
 *   (await model.evaluate()).toString();
 *   await model.without("math").evaluate();              // opt-out: exact, no retraining
 */
import { lab } from "./lab";
import { merge } from "./merge";
import { tuneRouter, selectProxies } from "./tune";
import { tasks } from "./tasks";
import { compare } from "./compare";

export const flex = { lab, merge, tuneRouter, selectProxies, tasks, compare };

export { Lab, PublicModel, OwnerExpert, loadOwnerArtifact } from "./lab";
export type { LabOptions, TrainOptions, OwnerOptions, EmbedOptions, DomainEmbedding } from "./lab";
export { FlexModel } from "./model";
export type { EvaluateOptions, GenerateOptions } from "./model";
export type { FlexMergeOptions } from "./merge";
export type { TuneRouterOptions } from "./tune";
export { FLEX_RECIPES, PAPER_OWNER } from "./recipes";
export type { FlexRecipe, OwnerRecipe, RecipeName, RouterMargin } from "./recipes";
export { trainOwners } from "./train-owners";
export type { ScheduleRequest } from "../train/session";
export { EvalResult, GenerateResult, AttributionResult, ManifestResult } from "./results";
export { TrainRecord, InvariantReport } from "./records";
export { TaskResult } from "./tasks";
export type { TaskOptions, TaskScore } from "./tasks";
export type { DataCard, Provenance, OptOutGuarantee } from "./cards";
export type { BiasMode, ViewSpec } from "./view";
export { mergeParams, tensorHash, trunkHashes } from "./merge";
export { compare, ComparisonResult } from "./compare";
export type { Comparable, CompareOptions, ComparisonRow } from "./compare";
export { baselines } from "./baselines";
