import { scopeToSocieties, type Principal } from '@hes/auth';
import type { Pool } from 'pg';

export interface Society {
  id: string;
  societyId: string;
  name: string;
  address: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface Tower {
  id: string;
  societyId: string;
  name: string;
  createdAt: Date;
}

export interface Flat {
  id: string;
  societyId: string;
  towerId: string;
  name: string;
  createdAt: Date;
}

export interface MeterPlacement {
  meterId: string;
  societyId: string | null;
  towerId: string | null;
  flatId: string | null;
}

export interface SocietyStructure {
  id: string;
  name: string;
  meterCount: number;
  unplacedMeterCount: number;
  towers: {
    id: string;
    name: string;
    meterCount: number;
    flats: { id: string; name: string; meterCount: number }[];
  }[];
}

const SOCIETY = `id, id AS "societyId", name, address, created_at AS "createdAt", updated_at AS "updatedAt"`;
const TOWER = `id, society_id AS "societyId", name, created_at AS "createdAt"`;
const FLAT = `id, society_id AS "societyId", tower_id AS "towerId", name, created_at AS "createdAt"`;

/**
 * Societies, towers, flats and meter placement. Every read that takes a principal is scoped with
 * scopeToSocieties, so a row of another tenant is simply not found. Writes take ids the caller has already
 * resolved through a scoped read.
 */
export class StructureRepository {
  constructor(private readonly pool: Pool) {}

  async listSocieties(principal: Principal): Promise<Society[]> {
    const scope = scopeToSocieties(principal, 'id', 1);
    const result = await this.pool.query<Society>(
      `SELECT ${SOCIETY} FROM societies WHERE ${scope.sql} ORDER BY name`,
      scope.params,
    );
    return result.rows;
  }

  async findSociety(principal: Principal, id: string): Promise<Society | undefined> {
    const scope = scopeToSocieties(principal, 'id', 2);
    const result = await this.pool.query<Society>(
      `SELECT ${SOCIETY} FROM societies WHERE id = $1 AND ${scope.sql}`,
      [id, ...scope.params],
    );
    return result.rows[0];
  }

  async createSociety(society: { name: string; address?: string | null }): Promise<Society> {
    const result = await this.pool.query<Society>(
      `INSERT INTO societies (name, address) VALUES ($1, $2) RETURNING ${SOCIETY}`,
      [society.name, society.address ?? null],
    );
    return result.rows[0];
  }

  async updateSociety(id: string, changes: { name?: string; address?: string | null }): Promise<Society> {
    const result = await this.pool.query<Society>(
      `UPDATE societies SET name = COALESCE($2, name), address = CASE WHEN $3 THEN $4 ELSE address END,
         updated_at = now()
       WHERE id = $1 RETURNING ${SOCIETY}`,
      [id, changes.name ?? null, changes.address !== undefined, changes.address ?? null],
    );
    return result.rows[0];
  }

  /** Deletes a society with its towers, flats, memberships and API keys; refused while meters belong to it. */
  async deleteSociety(id: string): Promise<{ deleted: boolean; meterCount: number }> {
    const meters = await this.pool.query<{ count: string }>(
      `SELECT count(*) FROM meters WHERE society_id = $1`,
      [id],
    );
    const meterCount = Number(meters.rows[0].count);
    if (meterCount > 0) return { deleted: false, meterCount };
    const result = await this.pool.query(`DELETE FROM societies WHERE id = $1`, [id]);
    return { deleted: (result.rowCount ?? 0) > 0, meterCount: 0 };
  }

  async listTowers(societyId: string): Promise<Tower[]> {
    const result = await this.pool.query<Tower>(
      `SELECT ${TOWER} FROM towers WHERE society_id = $1 ORDER BY name`,
      [societyId],
    );
    return result.rows;
  }

  async findTower(principal: Principal, id: string): Promise<Tower | undefined> {
    const scope = scopeToSocieties(principal, 'society_id', 2);
    const result = await this.pool.query<Tower>(
      `SELECT ${TOWER} FROM towers WHERE id = $1 AND ${scope.sql}`,
      [id, ...scope.params],
    );
    return result.rows[0];
  }

  async createTower(societyId: string, name: string): Promise<Tower> {
    const result = await this.pool.query<Tower>(
      `INSERT INTO towers (society_id, name) VALUES ($1, $2) RETURNING ${TOWER}`,
      [societyId, name],
    );
    return result.rows[0];
  }

  async renameTower(id: string, name: string): Promise<Tower> {
    const result = await this.pool.query<Tower>(
      `UPDATE towers SET name = $2 WHERE id = $1 RETURNING ${TOWER}`,
      [id, name],
    );
    return result.rows[0];
  }

  async deleteTower(id: string): Promise<void> {
    await this.pool.query(`DELETE FROM towers WHERE id = $1`, [id]);
  }

  async listFlats(towerId: string): Promise<Flat[]> {
    const result = await this.pool.query<Flat>(
      `SELECT ${FLAT} FROM flats WHERE tower_id = $1 ORDER BY name`,
      [towerId],
    );
    return result.rows;
  }

  async findFlat(principal: Principal, id: string): Promise<Flat | undefined> {
    const scope = scopeToSocieties(principal, 'society_id', 2);
    const result = await this.pool.query<Flat>(`SELECT ${FLAT} FROM flats WHERE id = $1 AND ${scope.sql}`, [
      id,
      ...scope.params,
    ]);
    return result.rows[0];
  }

  async createFlat(tower: Tower, name: string): Promise<Flat> {
    const result = await this.pool.query<Flat>(
      `INSERT INTO flats (tower_id, society_id, name) VALUES ($1, $2, $3) RETURNING ${FLAT}`,
      [tower.id, tower.societyId, name],
    );
    return result.rows[0];
  }

  async renameFlat(id: string, name: string): Promise<Flat> {
    const result = await this.pool.query<Flat>(`UPDATE flats SET name = $2 WHERE id = $1 RETURNING ${FLAT}`, [
      id,
      name,
    ]);
    return result.rows[0];
  }

  async deleteFlat(id: string): Promise<void> {
    await this.pool.query(`DELETE FROM flats WHERE id = $1`, [id]);
  }

  /** The tree of a society with meter counts per flat, per tower (sum of its flats) and for the society. */
  async structure(society: Society): Promise<SocietyStructure> {
    const [flats, totals] = await Promise.all([
      this.pool.query<{
        towerId: string;
        towerName: string;
        flatId: string | null;
        flatName: string | null;
        meters: string;
      }>(
        `SELECT t.id AS "towerId", t.name AS "towerName", f.id AS "flatId", f.name AS "flatName",
           count(m.meter_id) AS meters
         FROM towers t
         LEFT JOIN flats f ON f.tower_id = t.id
         LEFT JOIN meters m ON m.flat_id = f.id
         WHERE t.society_id = $1
         GROUP BY t.id, t.name, f.id, f.name
         ORDER BY t.name, f.name`,
        [society.id],
      ),
      this.pool.query<{ total: string; unplaced: string }>(
        `SELECT count(*) AS total, count(*) FILTER (WHERE flat_id IS NULL) AS unplaced FROM meters WHERE society_id = $1`,
        [society.id],
      ),
    ]);
    const towers: SocietyStructure['towers'] = [];
    for (const row of flats.rows) {
      let tower = towers[towers.length - 1];
      if (!tower || tower.id !== row.towerId) {
        tower = { id: row.towerId, name: row.towerName, meterCount: 0, flats: [] };
        towers.push(tower);
      }
      if (row.flatId !== null && row.flatName !== null) {
        const meterCount = Number(row.meters);
        tower.flats.push({ id: row.flatId, name: row.flatName, meterCount });
        tower.meterCount += meterCount;
      }
    }
    return {
      id: society.id,
      name: society.name,
      meterCount: Number(totals.rows[0].total),
      unplacedMeterCount: Number(totals.rows[0].unplaced),
      towers,
    };
  }

  /** A meter's placement, if the principal may see the meter (meters without a society: platform admins only). */
  async findPlacement(principal: Principal, meterId: string): Promise<MeterPlacement | undefined> {
    const scope = scopeToSocieties(principal, 'm.society_id', 2);
    const result = await this.pool.query<MeterPlacement>(
      `SELECT m.meter_id AS "meterId", m.society_id AS "societyId", f.tower_id AS "towerId", m.flat_id AS "flatId"
       FROM meters m LEFT JOIN flats f ON f.id = m.flat_id
       WHERE m.meter_id = $1 AND ${scope.sql}`,
      [meterId, ...scope.params],
    );
    return result.rows[0];
  }

  async setPlacement(meterId: string, societyId: string, flat: Flat | null): Promise<MeterPlacement> {
    await this.pool.query(
      `UPDATE meters SET society_id = $2, flat_id = $3, updated_at = now() WHERE meter_id = $1`,
      [meterId, societyId, flat?.id ?? null],
    );
    return { meterId, societyId, towerId: flat?.towerId ?? null, flatId: flat?.id ?? null };
  }
}
