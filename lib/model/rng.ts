/**
 * A small deterministic PRNG, independent of TF.js and of the backend, so that a seed means the
 * same weights and the same batches on cpu, wasm and tfjs-node, today and after a TF.js upgrade.
 *
 * Generator: mulberry32 (32-bit state, period 2^32; fine for initialising weights and drawing
 * batch offsets, not for cryptography). Normals: Box-Muller on two uniforms.
 */

/** FNV-1a hash of a string to 32 bits: used to give every named tensor its own stream. */
export { fnv1a32 as hashString } from "../util/hash";

export class Rng {
  /** Current 32-bit state; `new Rng(0).state` etc. is everything needed to resume the stream. */
  state: number;
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`Rng seed must be a finite number (got ${seed})`);
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller; the second value is discarded so the state advances by exactly 2 per call). */
  normal(): number {
    const u1 = 1 - this.next(); // (0, 1]: log is finite
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Truncated normal N(0, std²) restricted to ±`cut`·std by resampling (as torch.nn.init.trunc_normal_). */
  truncNormal(std: number, cut = 3): number {
    for (;;) {
      const z = this.normal();
      if (Math.abs(z) <= cut) return z * std;
    }
  }
}
