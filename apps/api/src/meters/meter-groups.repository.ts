import type { Pool } from 'pg';

export interface MeterGroupRecord {
  id: number;
  name: string;
  description: string | null;
  createdAt: Date;
}

const GROUP_COLUMNS = `id, name, description, created_at AS "createdAt"`;

/**
 * Meter groups: platform-wide (they decide the Kafka partition of a meter's telegrams), so every authenticated
 * caller may read them; no tenant data is attached to a group here.
 */
export class MeterGroupsRepository {
  constructor(private readonly pool: Pool) {}

  async list(): Promise<MeterGroupRecord[]> {
    return (await this.pool.query<MeterGroupRecord>(`SELECT ${GROUP_COLUMNS} FROM meter_groups ORDER BY id`))
      .rows;
  }

  /** Creates a group; undefined when the name is taken. */
  async create(name: string, description: string | null): Promise<MeterGroupRecord | undefined> {
    const result = await this.pool.query<MeterGroupRecord>(
      `INSERT INTO meter_groups (name, description) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING
       RETURNING ${GROUP_COLUMNS}`,
      [name, description],
    );
    return result.rows[0];
  }

  async exists(id: number): Promise<boolean> {
    return (await this.pool.query('SELECT 1 FROM meter_groups WHERE id = $1', [id])).rowCount === 1;
  }
}
