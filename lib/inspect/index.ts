/**
 * Inspecting FlexOlmo models in a notebook: live training views, router inspection, live masking,
 * and the helpers the tutorials share.
 *
 *   import { inspect } from "flexolmo-lab";
 *   const view = inspect.liveTraining("math owner", { totalSteps: 100 });
 *   const rec = await math.train({ steps: 100, onProgress: view.onProgress }); view.done(rec);
 *   await inspect.routeTokens(model, "Solve 3x + 2 = 11.");
 *   (await inspect.routing(model)).byDomain();
 *   await inspect.compareViews(model, model.without("math"), { prompt: "Solve", domains: ["math", "public"] });
 *
 * Every function takes a FlexModel with any view (`without`, `only`, `withTopK`, `withBias`) and
 * returns a plain record that renders itself (text/plain, plus plotly and an offline SVG/HTML).
 */
export { liveTraining, LiveTraining, formatDuration } from "./live";
export type { LiveTrainingOptions, LiveTrainingState } from "./live";
export { routing, routingByDomain, routeTokens, RoutingReport, DomainShares, Coactivation, Vocabulary, TokenRouting } from "./routing";
export type { LayerSpec } from "./routing";
export { qualityVsK, QualityVsK, optOutMatrix, OptOutMatrix } from "./quality";
export { routerGeometry, RouterGeometry } from "./geometry";
export type { LayerGeometry } from "./geometry";
export { biasEffect, BiasEffect } from "./bias";
export type { BiasSetting } from "./bias";
export { compareViews, ViewComparison, nextTokenProbs } from "./compare";
export type { CompareOptions, NextToken } from "./compare";
export { extractionTest, ExtractionResult } from "./privacy";
export type { ExtractionOptions, ExtractionCase, ModelExtraction } from "./privacy";
export { sampleRouting, telemetryOf, pickLayers } from "./collect";
export type { RoutingSample, DomainRouting, SampleOptions } from "./collect";
export * from "./aggregate";
export * as charts from "./charts";
export { expertColor, expertColors } from "./charts";
export * as tutorial from "./tutorial";
export { TUTORIAL_RECIPES, Tutorial } from "./tutorial";
export type { TutorialRecipe } from "./tutorial";
