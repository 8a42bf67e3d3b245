/** Running the CLI in tests: as a child process (exit codes, real streams) or in process (fast). */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { main } from "../../lib/cli/main";

export const CLI = path.resolve(__dirname, "../../lib/cli/main.js");

export function cli(args: string[], input?: string | Buffer): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: "utf-8", env: { ...process.env, FLEXOLMO_BACKEND: "cpu" }, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}
