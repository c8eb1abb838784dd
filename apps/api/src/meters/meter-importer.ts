import { AuditLog, actorOf, canAccessSociety, roleIn, scopeToSocieties, type Principal } from '@hes/auth';
import { DEFAULT_METER_GROUP_ID, inTransaction } from '@hes/storage';
import type { Pool } from 'pg';
import type { MeterCsvColumn, MeterCsvRow, MeterImportError, ParsedMeterCsv } from './meter-csv';

export type MeterImportAction = 'created' | 'updated';

export interface MeterImportOutcome {
  row: number;
  meterId: string;
  action: MeterImportAction;
}

export interface MeterImportResult {
  dryRun: boolean;
  /** Data rows in the file. */
  rows: number;
  created: number;
  updated: number;
  failed: number;
  /** The rows imported (or, in a dry run, that would be), in file order. */
  imported: MeterImportOutcome[];
  /** Every problem, in file order; a row may have several. */
  errors: MeterImportError[];
}

/** Only those who administer a society import meters into it. */
const IMPORTERS = ['society_admin'] as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const GROUP_ID = /^\d{1,9}$/;

/** What one good row does, with every reference resolved to an id. */
interface PlannedRow {
  source: MeterCsvRow;
  action: MeterImportAction;
  societyId: string | null;
  /** The society the meter had when it was checked (updates only), to detect concurrent moves. */
  expectedSocietyId: string | null;
  groupId: number | undefined;
  flatId: string | null | undefined;
}

interface SocietyRef {
  id: string;
  name: string;
}
interface TowerRef {
  id: string;
  societyId: string;
  name: string;
}
interface FlatRef {
  id: string;
  societyId: string;
  towerId: string;
  name: string;
}

/** The references of a file, loaded in a few queries and looked up per row. */
interface References {
  groups: Map<string, number>;
  societies: Map<string, SocietyRef>;
  towersById: Map<string, TowerRef>;
  /** society id → tower name → tower */
  towersByName: Map<string, Map<string, TowerRef>>;
  flatsById: Map<string, FlatRef>;
  /** tower id → flat name → flat */
  flatsByName: Map<string, Map<string, FlatRef>>;
  existing: Map<string, { societyId: string | null }>;
}

/**
 * Imports meters from parsed CSV rows: new meter ids are created, meters already in the caller's societies are
 * updated (only the columns the row fills), and every row that cannot be imported is reported with its row,
 * column and reason while the good rows go in. References are resolved inside the caller's tenant, so a society,
 * tower or flat of another tenant is "not found" exactly like a missing one. All writes of one import commit
 * together with the audit entry; a dry run checks everything and writes nothing.
 */
export class MeterImporter {
  constructor(private readonly pool: Pool) {}

  async import(
    principal: Principal,
    parsed: ParsedMeterCsv,
    options: { dryRun: boolean; ip?: string },
  ): Promise<MeterImportResult> {
    const errors = [...parsed.errors];
    const references = await this.loadReferences(principal, parsed.rows);
    const planned: PlannedRow[] = [];
    for (const row of parsed.rows) {
      const rowErrors: MeterImportError[] = [];
      const plan = planRow(principal, row, references, (column, message) =>
        rowErrors.push({ row: row.row, column, message }),
      );
      if (plan && rowErrors.length === 0) planned.push(plan);
      else errors.push(...rowErrors);
    }
    const imported = options.dryRun
      ? planned
      : await this.write(principal, planned, errors, { rowCount: parsed.rowCount, ip: options.ip });
    errors.sort((a, b) => a.row - b.row);
    const outcomes = imported
      .map((plan) => ({ row: plan.source.row, meterId: plan.source.meterId, action: plan.action }))
      .sort((a, b) => a.row - b.row);
    return {
      dryRun: options.dryRun,
      rows: parsed.rowCount,
      created: outcomes.filter((outcome) => outcome.action === 'created').length,
      updated: outcomes.filter((outcome) => outcome.action === 'updated').length,
      failed: parsed.rowCount - outcomes.length,
      imported: outcomes,
      errors,
    };
  }

  private async loadReferences(principal: Principal, rows: readonly MeterCsvRow[]): Promise<References> {
    const groupRefs = distinct(rows.map((row) => row.group));
    const societyRefs = distinct(rows.map((row) => row.society));
    const [groups, societies, existing] = await Promise.all([
      this.pool.query<{ id: number; name: string }>(
        'SELECT id, name FROM meter_groups WHERE id = ANY($1::int[]) OR name = ANY($2::text[])',
        [groupRefs.filter((ref) => GROUP_ID.test(ref)).map(Number), groupRefs],
      ),
      this.societiesInTenant(principal, societyRefs),
      // Unscoped on purpose: a meter id is global, and one registered outside the tenant must not be created again.
      this.pool.query<{ meterId: string; societyId: string | null }>(
        'SELECT meter_id AS "meterId", society_id AS "societyId" FROM meters WHERE meter_id = ANY($1::text[])',
        [rows.map((row) => row.meterId)],
      ),
    ]);
    const groupMap = new Map<string, number>();
    for (const group of groups.rows) {
      groupMap.set(`name:${group.name}`, group.id);
      groupMap.set(`id:${group.id}`, group.id);
    }
    const societyIds = new Set<string>([...societies.values()].map((society) => society.id));
    for (const meter of existing.rows) {
      if (meter.societyId !== null && canAccessSociety(principal, meter.societyId))
        societyIds.add(meter.societyId);
    }
    const [towers, flats] = await Promise.all([
      this.pool.query<TowerRef>(
        'SELECT id, society_id AS "societyId", name FROM towers WHERE society_id = ANY($1::uuid[])',
        [[...societyIds]],
      ),
      this.pool.query<FlatRef>(
        'SELECT id, society_id AS "societyId", tower_id AS "towerId", name FROM flats WHERE society_id = ANY($1::uuid[])',
        [[...societyIds]],
      ),
    ]);
    return {
      groups: groupMap,
      societies,
      towersById: new Map(towers.rows.map((tower) => [tower.id, tower])),
      towersByName: indexByName(towers.rows, (tower) => tower.societyId),
      flatsById: new Map(flats.rows.map((flat) => [flat.id, flat])),
      flatsByName: indexByName(flats.rows, (flat) => flat.towerId),
      existing: new Map(existing.rows.map((meter) => [meter.meterId, { societyId: meter.societyId }])),
    };
  }

  /** The referenced societies the principal can see, keyed by the reference text (id or name). */
  private async societiesInTenant(
    principal: Principal,
    refs: readonly string[],
  ): Promise<Map<string, SocietyRef>> {
    if (refs.length === 0) return new Map();
    const scope = scopeToSocieties(principal, 'id', 3);
    const result = await this.pool.query<SocietyRef>(
      `SELECT id, name FROM societies WHERE (id = ANY($1::uuid[]) OR name = ANY($2::text[])) AND ${scope.sql}`,
      [refs.filter((ref) => UUID.test(ref)).map((ref) => ref.toLowerCase()), refs, ...scope.params],
    );
    const byRef = new Map<string, SocietyRef>();
    for (const ref of refs) {
      const society = result.rows.find((row) =>
        UUID.test(ref) ? row.id === ref.toLowerCase() : row.name === ref,
      );
      if (society) byRef.set(ref, society);
    }
    return byRef;
  }

  /**
   * Writes the planned rows in one transaction with the audit entry: one INSERT for the new meters and one UPDATE
   * for the changed ones. A meter created or moved by someone else since it was checked is reported as an error
   * for its row instead of being overwritten.
   */
  private async write(
    principal: Principal,
    planned: readonly PlannedRow[],
    errors: MeterImportError[],
    audit: { rowCount: number; ip?: string },
  ): Promise<PlannedRow[]> {
    const creates = planned.filter((plan) => plan.action === 'created');
    const updates = planned.filter((plan) => plan.action === 'updated');
    return inTransaction(this.pool, async (client) => {
      const created = creates.length === 0 ? new Set<string>() : await insertMeters(client, creates);
      const updated = updates.length === 0 ? new Set<string>() : await updateMeters(client, updates);
      const imported: PlannedRow[] = [];
      for (const plan of planned) {
        const done = plan.action === 'created' ? created : updated;
        if (done.has(plan.source.meterId)) imported.push(plan);
        else
          errors.push({
            row: plan.source.row,
            column: 'meter_id',
            message:
              plan.action === 'created'
                ? 'meter id was registered by someone else during the import'
                : 'meter was moved or deleted by someone else during the import; import the row again',
          });
      }
      const societies = distinct(imported.map((plan) => plan.societyId ?? undefined));
      await new AuditLog(client).write({
        actor: actorOf(principal),
        action: 'meter.import',
        societyId: societies.length === 1 ? societies[0] : null,
        details: {
          rows: audit.rowCount,
          created: created.size,
          updated: updated.size,
          failed: audit.rowCount - imported.length,
          societyIds: societies,
        },
        ip: audit.ip,
      });
      return imported;
    });
  }
}

/**
 * Checks one row against the references and the caller's roles; returns what it will do, or undefined after
 * reporting why it cannot be imported.
 */
function planRow(
  principal: Principal,
  row: MeterCsvRow,
  references: References,
  fail: (column: MeterCsvColumn | null, message: string) => void,
): PlannedRow | undefined {
  const existing = references.existing.get(row.meterId);
  if (existing && !canAccessSociety(principal, existing.societyId)) {
    // Ids are global, so the row cannot be imported; the message does not say where the meter is.
    fail('meter_id', 'is already registered outside your societies');
    return undefined;
  }
  if (existing && !mayImportInto(principal, existing.societyId)) {
    fail(
      'meter_id',
      `your role in the meter's society (${roleIn(principal, existing.societyId)}) may not change it`,
    );
    return undefined;
  }
  if (!existing) {
    for (const [column, value] of [
      ['manufacturer', row.manufacturer],
      ['device_type', row.deviceType],
      ['version', row.version],
    ] as const)
      if (value === undefined) fail(column, 'is required for a new meter');
  }

  let societyId = existing?.societyId ?? null;
  if (row.society !== undefined) {
    const society = references.societies.get(row.society);
    if (!society) fail('society', 'not found');
    else if (!mayImportInto(principal, society.id))
      fail('society', `your role there (${roleIn(principal, society.id)}) may not import meters`);
    else societyId = society.id;
  } else if (!existing && principal.societyIds !== 'all') {
    fail('society', 'is required: only platform admins may import meters without a society');
  }

  let groupId: number | undefined;
  if (row.group !== undefined) {
    groupId = references.groups.get(
      GROUP_ID.test(row.group) ? `id:${Number(row.group)}` : `name:${row.group}`,
    );
    if (groupId === undefined) fail('group', 'no meter group with this id or name');
  }

  let flatId: string | null | undefined;
  if (row.tower !== undefined && row.flat === undefined) {
    fail('tower', 'given without a flat: meters are placed in flats');
  } else if (row.flat !== undefined) {
    if (societyId === null) fail('flat', 'needs a society: name the society column');
    else flatId = resolveFlat(references, societyId, row, fail);
  } else if (existing && societyId !== existing.societyId) {
    // Moving to another society takes the meter out of its flat, which belongs to the old society.
    flatId = null;
  }
  return {
    source: row,
    action: existing ? 'updated' : 'created',
    societyId,
    expectedSocietyId: existing?.societyId ?? null,
    groupId: groupId ?? (existing ? undefined : DEFAULT_METER_GROUP_ID),
    flatId,
  };
}

function resolveFlat(
  references: References,
  societyId: string,
  row: MeterCsvRow,
  fail: (column: MeterCsvColumn | null, message: string) => void,
): string | undefined {
  const flatRef = row.flat ?? '';
  if (UUID.test(flatRef)) {
    const flat = references.flatsById.get(flatRef.toLowerCase());
    if (!flat || flat.societyId !== societyId) {
      fail('flat', "not found in the meter's society");
      return undefined;
    }
    return flat.id;
  }
  if (row.tower === undefined) {
    fail('tower', 'is required to find a flat by name (flat names are unique per tower)');
    return undefined;
  }
  const towerRef = row.tower;
  const tower = UUID.test(towerRef)
    ? references.towersById.get(towerRef.toLowerCase())
    : references.towersByName.get(societyId)?.get(towerRef);
  if (!tower || tower.societyId !== societyId) {
    fail('tower', "not found in the meter's society");
    return undefined;
  }
  const flat = references.flatsByName.get(tower.id)?.get(flatRef);
  if (!flat) {
    fail('flat', `not found in tower ${tower.name}`);
    return undefined;
  }
  return flat.id;
}

function mayImportInto(principal: Principal, societyId: string | null): boolean {
  if (principal.societyIds === 'all') return true;
  const role = roleIn(principal, societyId);
  return role !== undefined && (IMPORTERS as readonly string[]).includes(role);
}

type Client = Pick<Pool, 'query'>;

async function insertMeters(client: Client, plans: readonly PlannedRow[]): Promise<Set<string>> {
  const result = await client.query<{ meterId: string }>(
    `WITH created AS (
       INSERT INTO meters (meter_id, manufacturer, device_type, version, driver, group_id, status, installed_at,
                           location, society_id, flat_id)
       SELECT meter_id, manufacturer, device_type, version, driver, group_id, coalesce(status, 'active'),
              installed_at, location, society_id, flat_id
       FROM unnest($1::text[], $2::text[], $3::int2[], $4::int2[], $5::text[], $6::int[], $7::text[],
                   $8::timestamptz[], $9::text[], $10::uuid[], $11::uuid[])
         AS input(meter_id, manufacturer, device_type, version, driver, group_id, status, installed_at, location,
                  society_id, flat_id)
       ORDER BY meter_id
       ON CONFLICT (meter_id) DO NOTHING
       RETURNING meter_id),
     forgotten AS (DELETE FROM unknown_meters WHERE meter_id IN (SELECT meter_id FROM created))
     SELECT meter_id AS "meterId" FROM created`,
    [
      plans.map((plan) => plan.source.meterId),
      plans.map((plan) => plan.source.manufacturer),
      plans.map((plan) => plan.source.deviceType),
      plans.map((plan) => plan.source.version),
      plans.map((plan) => plan.source.driver ?? null),
      plans.map((plan) => plan.groupId ?? DEFAULT_METER_GROUP_ID),
      plans.map((plan) => plan.source.status ?? null),
      plans.map((plan) => plan.source.installedAt ?? null),
      plans.map((plan) => plan.source.location ?? null),
      plans.map((plan) => plan.societyId),
      plans.map((plan) => plan.flatId ?? null),
    ],
  );
  return new Set(result.rows.map((row) => row.meterId));
}

/**
 * Updates existing meters: a NULL in an input column means the row left that cell empty, so the stored value
 * stays. `clear_flat` unplaces a meter that moved to another society without a flat.
 */
async function updateMeters(client: Client, plans: readonly PlannedRow[]): Promise<Set<string>> {
  const result = await client.query<{ meterId: string }>(
    `UPDATE meters AS m SET
       manufacturer = coalesce(u.manufacturer, m.manufacturer),
       device_type = coalesce(u.device_type, m.device_type),
       version = coalesce(u.version, m.version),
       driver = coalesce(u.driver, m.driver),
       group_id = coalesce(u.group_id, m.group_id),
       status = coalesce(u.status, m.status),
       installed_at = coalesce(u.installed_at, m.installed_at),
       location = coalesce(u.location, m.location),
       society_id = u.society_id,
       flat_id = CASE WHEN u.flat_id IS NOT NULL THEN u.flat_id WHEN u.clear_flat THEN NULL ELSE m.flat_id END,
       updated_at = now()
     FROM unnest($1::text[], $2::text[], $3::int2[], $4::int2[], $5::text[], $6::int[], $7::text[],
                 $8::timestamptz[], $9::text[], $10::uuid[], $11::uuid[], $12::boolean[], $13::uuid[])
       AS u(meter_id, manufacturer, device_type, version, driver, group_id, status, installed_at, location,
            society_id, flat_id, clear_flat, expected_society_id)
     WHERE m.meter_id = u.meter_id AND m.society_id IS NOT DISTINCT FROM u.expected_society_id
     RETURNING m.meter_id AS "meterId"`,
    [
      plans.map((plan) => plan.source.meterId),
      plans.map((plan) => plan.source.manufacturer ?? null),
      plans.map((plan) => plan.source.deviceType ?? null),
      plans.map((plan) => plan.source.version ?? null),
      plans.map((plan) => plan.source.driver ?? null),
      plans.map((plan) => plan.groupId ?? null),
      plans.map((plan) => plan.source.status ?? null),
      plans.map((plan) => plan.source.installedAt ?? null),
      plans.map((plan) => plan.source.location ?? null),
      plans.map((plan) => plan.societyId),
      plans.map((plan) => plan.flatId ?? null),
      plans.map((plan) => plan.flatId === null),
      plans.map((plan) => plan.expectedSocietyId),
    ],
  );
  return new Set(result.rows.map((row) => row.meterId));
}

/** Rows by name within their parent (names are unique per parent). */
function indexByName<T extends { name: string }>(
  rows: readonly T[],
  parentOf: (row: T) => string,
): Map<string, Map<string, T>> {
  const index = new Map<string, Map<string, T>>();
  for (const row of rows) {
    let byName = index.get(parentOf(row));
    if (!byName) index.set(parentOf(row), (byName = new Map()));
    byName.set(row.name, row);
  }
  return index;
}

function distinct(values: readonly (string | undefined)[]): string[] {
  return [...new Set(values.filter((value): value is string => value !== undefined))];
}
