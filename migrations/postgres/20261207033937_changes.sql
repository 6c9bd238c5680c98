-- Modify "executions" table
ALTER TABLE "executions" ADD COLUMN "requested_by" character varying NOT NULL DEFAULT '';
