/**
 * Learning-rate schedule: linear warmup, then cosine decay to minLrRatio × peak
 * (OLMo-core `CosWithWarmup`, which FlexOlmo uses with alpha_f = 0.1).
 *
 * `step` counts optimizer updates from 0. The first update uses lr·1/warmup (never 0: a zero-LR
 * step would waste a batch). After `steps` the LR stays at the floor.
 */
import type { TrainConfig } from "./config";

export function lrAt(step: number, tc: Pick<TrainConfig, "lr" | "warmupSteps" | "steps" | "minLrRatio">): number {
  const peak = tc.lr, floor = tc.lr * tc.minLrRatio;
  if (step < tc.warmupSteps) return (peak * (step + 1)) / tc.warmupSteps;
  const span = Math.max(1, tc.steps - tc.warmupSteps);
  const p = Math.min(1, (step - tc.warmupSteps) / span);
  return floor + (peak - floor) * 0.5 * (1 + Math.cos(Math.PI * p));
}

/**
 * Where a run's schedule sits on the trainer's step counter: updates `start` … `start + steps − 1`
 * follow warm-up (`warmupSteps`) then cosine to the floor; later updates stay at the floor.
 */
export interface LrSchedule {
  start: number;
  steps: number;
  warmupSteps: number;
}
