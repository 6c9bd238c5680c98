-- Modify "audit_events" table
ALTER TABLE "audit_events" ADD COLUMN "pack_ref" character varying NOT NULL DEFAULT '';
