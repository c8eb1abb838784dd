import { readdirSync } from 'node:fs';
import { defaultMigrationsDir } from '../src/migrate';

/** Names of every migration in db/migrations, in the order node-pg-migrate applies them. */
export function migrationFileNames(): string[] {
  return readdirSync(defaultMigrationsDir())
    .filter((file) => /^\d{17}_.*\.js$/.test(file))
    .map((file) => file.replace(/\.js$/, ''))
    .sort();
}
