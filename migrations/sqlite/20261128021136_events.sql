-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_events" table
CREATE TABLE `new_events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `trigger_ref` text NOT NULL, `source_ref` text NOT NULL DEFAULT (''), `payload` json NULL, `dedupe_key` text NULL, `source_id` integer NULL, `trigger_id` integer NULL, CONSTRAINT `events_sensors_events` FOREIGN KEY (`source_id`) REFERENCES `sensors` (`id`) ON DELETE SET NULL, CONSTRAINT `events_triggers_events` FOREIGN KEY (`trigger_id`) REFERENCES `triggers` (`id`) ON DELETE SET NULL);
-- Set sequence for "new_events" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_events", 8589934592);
-- Copy rows from old table "events" to new temporary table "new_events"
INSERT INTO `new_events` (`id`, `created_at`, `updated_at`, `trigger_ref`, `source_ref`, `payload`, `source_id`, `trigger_id`) SELECT `id`, `created_at`, `updated_at`, `trigger_ref`, `source_ref`, `payload`, `source_id`, `trigger_id` FROM `events`;
-- Drop "events" table after copying rows
DROP TABLE `events`;
-- Rename temporary table "new_events" to "events"
ALTER TABLE `new_events` RENAME TO `events`;
-- Create index "events_dedupe_key_key" to table: "events"
CREATE UNIQUE INDEX `events_dedupe_key_key` ON `events` (`dedupe_key`);
-- Create index "event_trigger_ref_created_at" to table: "events"
CREATE INDEX `event_trigger_ref_created_at` ON `events` (`trigger_ref`, `created_at`);
-- Create "leases" table
CREATE TABLE `leases` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `holder` text NOT NULL, `expires_at` datetime NOT NULL);
-- Set sequence for "leases" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("leases", 60129542144);
-- Create index "leases_name_key" to table: "leases"
CREATE UNIQUE INDEX `leases_name_key` ON `leases` (`name`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
