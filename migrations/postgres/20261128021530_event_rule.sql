-- Modify "events" table
ALTER TABLE "events" ADD COLUMN "rule_ref" character varying NOT NULL DEFAULT '';
