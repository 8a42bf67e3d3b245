/**
 * The lab's TF.js: @tensorflow/tfjs-core with what the umbrella package @tensorflow/tfjs used to add.
 *
 *     import * as tf from "../tf";   // everywhere in lib/, test/, bench/ (never "@tensorflow/tfjs")
 *
 * The umbrella also pulls in layers, the converter, tf.data and WebGL (≈ 220 MB installed, about
 * half of `require("flexolmo-lab")`'s time), none of which the lab uses. What it did that we need:
 *  - registered the `cpu` backend, the fallback every other route ends in and the backend TF.js
 *    uses for tensors made before `initBackend` (imported here, as the umbrella did on import);
 *  - registered tfjs-core's gradients and chained tensor methods (`x.reshape(…)`), which the
 *    CommonJS build of tfjs-core leaves out (lib/tf/generate.ts says why and how we add them).
 * The wasm, webgpu and tfjs-node backends stay where lib/backend.ts loads them, on demand.
 *
 * Everything is registered on the process-wide engine, so a notebook's
 * `import * as tf from "@tensorflow/tfjs-core"` sees the same gradients, methods and backend.
 */
import * as tf from "@tensorflow/tfjs-core";
// Registers the cpu backend. A require, not `import "…"`: a side-effect import is kept in our .d.ts,
// and the notebook kernel's TypeScript would then parse the cpu backend's ~60 declaration files for
// every `import ... from "flexolmo-lab"`, though no type of ours comes from it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
require("@tensorflow/tfjs-backend-cpu");
import { registerCoreGradientsAndChainedOps } from "./core-registrations.generated";
// Types only (erased from the JavaScript): tfjs-core's declarations of the chained methods, which
// the umbrella's typings brought along; the methods themselves are registered below.
export type {} from "@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops";

// Once per process even if two copies of this module load (e.g. dist/ and a linked checkout):
// registering again would put tfjs-core's BatchMatMul gradient back over ours (lib/ops/gradients.ts).
const FLAG = Symbol.for("flexolmo-lab.tfCoreRegistrations");
const g = globalThis as { [FLAG]?: boolean };
if (!g[FLAG]) {
  registerCoreGradientsAndChainedOps(tf);
  g[FLAG] = true;
}

export * from "@tensorflow/tfjs-core";
