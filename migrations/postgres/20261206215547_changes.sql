-- Drop index "key_pack_ref_name" from table: "keys"
DROP INDEX "key_pack_ref_name";
-- Modify "keys" table
ALTER TABLE "keys" ADD COLUMN "user" character varying NOT NULL DEFAULT '';
-- Create index "key_expires_at" to table: "keys"
CREATE INDEX "key_expires_at" ON "keys" ("expires_at");
-- Create index "key_user_pack_ref_name" to table: "keys"
CREATE UNIQUE INDEX "key_user_pack_ref_name" ON "keys" ("user", "pack_ref", "name");
-- Modify "packs" table
ALTER TABLE "packs" ADD COLUMN "config_secrets" text NOT NULL DEFAULT '', ADD COLUMN "config_file_checksum" character varying NOT NULL DEFAULT '';
