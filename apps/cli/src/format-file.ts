import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { CompactFormatStore } from '@hes/wmbus';
import { UsageError } from './cli-io';

/**
 * A compact-format store backed by a JSON file (CompactFormatStore.toJSON()). Builtin formats are
 * always present; the file adds what earlier runs learned. The file is written back only when this
 * run learned something or the file did not exist yet.
 */
export class FormatFile {
  private learned = 0;

  private constructor(
    readonly path: string,
    readonly store: CompactFormatStore,
    private readonly existed: boolean,
  ) {
    store.onLearned(() => {
      this.learned++;
    });
  }

  static load(path: string): FormatFile {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return new FormatFile(path, CompactFormatStore.withKnownFormats(), false);
      throw new UsageError(`cannot read formats file ${path}: ${code ?? 'error'}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`formats file ${path} is not valid JSON: ${(error as Error).message}`);
    }
    const store = CompactFormatStore.withKnownFormats();
    try {
      for (const entry of CompactFormatStore.fromJSON(json).entries()) store.add(entry);
    } catch (error) {
      throw new UsageError(`formats file ${path}: ${(error as Error).message}`);
    }
    return new FormatFile(path, store, true);
  }

  /** Number of formats learned since loading. */
  get learnedCount(): number {
    return this.learned;
  }

  /** Writes the store if needed; via a temporary file and rename so that a crash never leaves half a file. */
  save(): boolean {
    if (this.existed && this.learned === 0) return false;
    const temporary = `${this.path}.${process.pid}.tmp`;
    try {
      writeFileSync(temporary, `${JSON.stringify(this.store.toJSON(), null, 2)}\n`);
      renameSync(temporary, this.path);
    } catch (error) {
      throw new UsageError(
        `cannot write formats file ${this.path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    return true;
  }
}
