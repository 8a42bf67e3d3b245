/**
 * flexolmo-lab: learn, teach and explore FlexOlmo in TypeScript.
 *
 *   import { flex, inspect } from "flexolmo-lab";
 *
 * `flex` is the fluent pipeline (lib/flex). The layers under it are exported for people who want
 * to take the model apart: the backend choice, the model math, training, data and checkpoints.
 */
export { flex } from "./flex";
export * from "./flex";
export { initBackend, backendReport, BACKEND_NAMES } from "./backend";
export type { BackendName, BackendReport } from "./backend";
export { MODEL_PRESETS, DEFAULT_MODEL, validateConfig } from "./model/config";
export type { ModelConfig, PresetName } from "./model/config";
export type { ModelParams, LayerParams, ExpertParams } from "./model/params";
export { forward, initParams, paramCount } from "./model/model";
export type { ForwardOptions, ForwardResult, RouterTelemetry } from "./model/model";
export { Trainer } from "./train/trainer";
export { TRAIN_PRESETS } from "./train/config";
export type { TrainConfig } from "./train/config";
export { loadTokenizer } from "./data/tokenizer";
export type { Tokenizer } from "./data/tokenizer";
export { trainDomainClassifier } from "./data/classifier";
export { TokenBatcher, tokenStreams, evalBatches } from "./data/batcher";
export { saveCheckpoint, loadCheckpoint, readCheckpointInfo } from "./io/checkpoint";
export * as display from "./display";
/** Router inspection, live training views, view comparison, tutorials (lib/inspect). */
export * as inspect from "./inspect";
export { show, LiveDisplay, kernelAbortSignal } from "./display";
