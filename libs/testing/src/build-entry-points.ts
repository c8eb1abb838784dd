import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repoRoot = resolve(__dirname, '../../..');

export interface EntryPointBuild {
  /** Private directory for the build's tsconfig; created when missing. */
  dir: string;
  /** Where the compiled tree goes: `<outDir>/apps/...`, `<outDir>/libs/...`. */
  outDir: string;
  /** Entry points relative to the repository root; what they import is compiled with them. */
  entryPoints: string[];
  /**
   * tsc exits non-zero on type errors but still emits; with this set such a build counts as done as long as
   * it emitted anything (type errors are then the typecheck step's business).
   */
  allowTypeErrors?: boolean;
}

/**
 * Compiles entry points with the production build settings (tsc + tsc-alias, as `npm run build` does) into a
 * private directory, so that tests of the built apps neither touch dist/ nor race parallel builds of it.
 */
export function buildEntryPoints(build: EntryPointBuild): void {
  mkdirSync(build.dir, { recursive: true });
  const tsconfig = join(build.dir, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(repoRoot, 'tsconfig.build.json'),
      compilerOptions: { outDir: build.outDir, rootDir: repoRoot, sourceMap: false },
      include: [],
      files: build.entryPoints.map((entry) => join(repoRoot, entry)),
    }),
  );
  const bin = (name: string) => join(repoRoot, 'node_modules/.bin', name);
  try {
    execFileSync(bin('tsc'), ['-p', tsconfig], { cwd: repoRoot, stdio: 'pipe' });
  } catch (error) {
    if (!build.allowTypeErrors || !existsSync(join(build.outDir, 'apps'))) {
      throw new Error(`tsc failed: ${(error as { stdout?: Buffer }).stdout?.toString() ?? ''}`, {
        cause: error,
      });
    }
  }
  execFileSync(bin('tsc-alias'), ['-p', tsconfig, '--dir', build.outDir], { cwd: repoRoot, stdio: 'pipe' });
}
