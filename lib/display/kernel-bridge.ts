/**
 * The seam between library code and the notebook kernel.
 *
 * Library code must not import tslab: tslab loads its own TypeScript compiler (tens of MB), and a
 * script or test has no kernel at all. Instead our kernel preload (kernel/preload.ts) installs a
 * tiny bridge object on a global symbol, and the display helpers look for it. No bridge ⇒ we are
 * not inside the FlexOlmo Lab kernel, and displays fall back to plain text on stdout.
 */
import type { MimeBundle } from "./mime";

export interface KernelBridge {
  /** Which kernel installed the bridge, e.g. "tslab 1.0.22 (flexolmo-lab preload)". */
  readonly name: string;
  /**
   * Send a bundle as `display_data`, or as `update_display_data` for an existing `displayId`
   * (the output with that id is replaced in place, wherever it is in the notebook).
   */
  display(bundle: MimeBundle, opts?: { displayId?: string; update?: boolean }): void;
}

const BRIDGE_KEY = Symbol.for("flexolmo-lab.kernelBridge");

type WithBridge = { [BRIDGE_KEY]?: KernelBridge };

/** The bridge installed by the kernel preload, or undefined outside the kernel. */
export function kernelBridge(): KernelBridge | undefined {
  return (globalThis as WithBridge)[BRIDGE_KEY];
}

/** Install (or, with undefined, remove) the bridge. Called by the kernel preload and by tests. */
export function setKernelBridge(bridge: KernelBridge | undefined): void {
  if (bridge) (globalThis as WithBridge)[BRIDGE_KEY] = bridge;
  else delete (globalThis as WithBridge)[BRIDGE_KEY];
}
