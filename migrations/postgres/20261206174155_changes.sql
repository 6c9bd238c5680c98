-- Modify "actions" table
ALTER TABLE "actions" ADD COLUMN "idempotent" boolean NOT NULL DEFAULT false;
-- Modify "pack_installs" table
ALTER TABLE "pack_installs" ADD COLUMN "env_path" character varying NOT NULL DEFAULT '';
