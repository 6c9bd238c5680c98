-- Modify "actions" table
ALTER TABLE "actions" ADD COLUMN "runner_name" character varying NOT NULL DEFAULT '';
-- Modify "sensors" table
ALTER TABLE "sensors" ADD COLUMN "runner_name" character varying NOT NULL DEFAULT '';
