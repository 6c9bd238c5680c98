-- Modify "actions" table
ALTER TABLE "actions" ADD COLUMN "notify" jsonb NULL;
