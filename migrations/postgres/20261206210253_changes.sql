-- Modify "sensors" table
ALTER TABLE "sensors" ADD COLUMN "class_name" character varying NOT NULL DEFAULT '', ADD COLUMN "poll_interval" bigint NOT NULL DEFAULT 0;
