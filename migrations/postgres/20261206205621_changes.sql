-- Modify "pack_installs" table
ALTER TABLE "pack_installs" ADD COLUMN "warnings" jsonb NULL;
