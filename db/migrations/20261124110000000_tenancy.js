// @ts-check
/**
 * Tenancy and access: societies (the tenants) with towers and flats, meter placement, users and their
 * memberships (role per society, or platform-wide), API keys, rotating refresh tokens and the audit log.
 * Dialect-neutral: plain tables on both TimescaleDB and PostgreSQL.
 */

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.up = (pgm) => {
  pgm.sql(`
    CREATE TABLE societies (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
      address text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE towers (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      society_id uuid NOT NULL REFERENCES societies (id) ON DELETE CASCADE,
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (society_id, name),
      -- Target of the flats' composite key, so a flat's society is always its tower's society.
      UNIQUE (id, society_id)
    );

    CREATE TABLE flats (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tower_id uuid NOT NULL,
      society_id uuid NOT NULL,
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (tower_id, name),
      UNIQUE (id, society_id),
      FOREIGN KEY (tower_id, society_id) REFERENCES towers (id, society_id) ON DELETE CASCADE
    );
    CREATE INDEX flats_society_id_idx ON flats (society_id);

    -- A meter belongs to at most one society and may be placed in one of that society's flats. A society that
    -- still has meters cannot be deleted (they are moved first); deleting a flat or tower unplaces its meters.
    ALTER TABLE meters
      ADD COLUMN society_id uuid REFERENCES societies (id) ON DELETE RESTRICT,
      ADD COLUMN flat_id uuid,
      ADD CONSTRAINT meters_flat_in_society FOREIGN KEY (flat_id, society_id)
        REFERENCES flats (id, society_id) ON DELETE SET NULL (flat_id),
      ADD CONSTRAINT meters_flat_needs_society CHECK (flat_id IS NULL OR society_id IS NOT NULL);
    CREATE INDEX meters_society_id_idx ON meters (society_id);
    CREATE INDEX meters_flat_id_idx ON meters (flat_id);

    CREATE TABLE users (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      email text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
      -- NULL: the user cannot log in with a password (e.g. only through the external identity provider).
      password_hash text,
      display_name text NOT NULL,
      disabled boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX users_email_key ON users (email);

    -- One role per user per society; society_id NULL is the platform-wide membership, only for platform admins.
    CREATE TABLE memberships (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      society_id uuid REFERENCES societies (id) ON DELETE CASCADE,
      role text NOT NULL CHECK (role IN ('platform_admin', 'society_admin', 'field_operator', 'viewer')),
      created_at timestamptz NOT NULL DEFAULT now(),
      CHECK ((society_id IS NULL) = (role = 'platform_admin'))
    );
    CREATE UNIQUE INDEX memberships_user_society_key ON memberships (user_id, society_id);
    CREATE UNIQUE INDEX memberships_user_platform_key ON memberships (user_id) WHERE society_id IS NULL;
    CREATE INDEX memberships_society_id_idx ON memberships (society_id);

    CREATE TABLE api_keys (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      society_id uuid NOT NULL REFERENCES societies (id) ON DELETE CASCADE,
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      key_hash text NOT NULL UNIQUE,
      scope text NOT NULL CHECK (scope IN ('ingest', 'read')),
      created_by uuid REFERENCES users (id) ON DELETE SET NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_used_at timestamptz,
      revoked_at timestamptz
    );
    CREATE INDEX api_keys_society_id_idx ON api_keys (society_id);

    -- Rotating refresh tokens: each use replaces the token with a new one in the same family; presenting a
    -- used token again means it was stolen, and the whole family is revoked.
    CREATE TABLE refresh_tokens (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      family_id uuid NOT NULL,
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      token_hash text NOT NULL UNIQUE,
      issued_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      revoked_at timestamptz
    );
    CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);
    CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);

    -- Kept when the actor or the society is deleted: no foreign keys.
    CREATE TABLE audit_log (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      ts timestamptz NOT NULL DEFAULT clock_timestamp(),
      actor text NOT NULL,
      action text NOT NULL,
      target text,
      society_id uuid,
      details jsonb NOT NULL DEFAULT '{}',
      ip text
    );
    CREATE INDEX audit_log_ts_idx ON audit_log (ts);
    CREATE INDEX audit_log_society_ts_idx ON audit_log (society_id, ts);
  `);
};

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.down = (pgm) => {
  pgm.sql(`
    DROP TABLE audit_log, refresh_tokens, api_keys, memberships, users;
    ALTER TABLE meters DROP CONSTRAINT meters_flat_in_society, DROP CONSTRAINT meters_flat_needs_society,
      DROP COLUMN flat_id, DROP COLUMN society_id;
    DROP TABLE flats, towers, societies;
  `);
};
