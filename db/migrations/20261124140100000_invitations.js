// @ts-check
/**
 * Invitations into a society: a society admin invites an email with a role and passes the one-time token on; the
 * invitee accepts with it (proving the account when the email already has one, or creating the account). Only the
 * SHA-256 of the token is stored. An invitation is pending until it is accepted, revoked or past expires_at; the
 * row stays afterwards for the admins' list and the audit trail. Dialect-neutral.
 */

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.up = (pgm) => {
  pgm.sql(`
    CREATE TABLE invitations (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      society_id uuid NOT NULL REFERENCES societies (id) ON DELETE CASCADE,
      email text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
      role text NOT NULL CHECK (role IN ('society_admin', 'field_operator', 'viewer')),
      token_hash text NOT NULL UNIQUE,
      -- The audit actor of the inviter (user:<id>, api_key:<id>, oidc:<sub>), kept when that user is deleted.
      invited_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      accepted_at timestamptz,
      accepted_by uuid REFERENCES users (id) ON DELETE SET NULL,
      revoked_at timestamptz,
      CHECK (accepted_at IS NULL OR revoked_at IS NULL)
    );
    CREATE INDEX invitations_society_created_idx ON invitations (society_id, created_at);
  `);
};

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.down = (pgm) => {
  pgm.sql('DROP TABLE invitations');
};
