/**
 * Headless Chromium for the tests that check what a browser really draws (plotly.js figures in
 * test/display, the nbconvert HTML in test/kernel). Those tests skip when it is not installed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/**
 * Load a local HTML file and return the DOM after its scripts ran (`--dump-dom`), asserting that
 * Chromium exited cleanly. Its profile goes to `profileDir`, so no run touches the user's profile.
 */
export function dumpDom(file: string, profileDir: string, opts: { flags?: string[]; timeoutMs: number }): string {
  const r = spawnSync(
    CHROMIUM,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--user-data-dir=${profileDir}`,
      ...(opts.flags ?? []),
      "--dump-dom",
      `file://${file}`,
    ],
    { encoding: "utf8", timeout: opts.timeoutMs },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}
