-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_audit_events" table
CREATE TABLE `new_audit_events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `actor` text NOT NULL, `actor_token_id` integer NULL, `role` text NOT NULL DEFAULT (''), `operation` text NOT NULL, `operation_name` text NOT NULL DEFAULT (''), `variables` json NULL, `outcome` text NOT NULL, `error_code` text NOT NULL DEFAULT (''), `pack_ref` text NOT NULL DEFAULT (''));
-- Set sequence for "new_audit_events" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_audit_events", 68719476736);
-- Copy rows from old table "audit_events" to new temporary table "new_audit_events"
INSERT INTO `new_audit_events` (`id`, `created_at`, `actor`, `actor_token_id`, `role`, `operation`, `operation_name`, `variables`, `outcome`, `error_code`) SELECT `id`, `created_at`, `actor`, `actor_token_id`, `role`, `operation`, `operation_name`, `variables`, `outcome`, `error_code` FROM `audit_events`;
-- Drop "audit_events" table after copying rows
DROP TABLE `audit_events`;
-- Rename temporary table "new_audit_events" to "audit_events"
ALTER TABLE `new_audit_events` RENAME TO `audit_events`;
-- Create index "auditevent_created_at" to table: "audit_events"
CREATE INDEX `auditevent_created_at` ON `audit_events` (`created_at`);
-- Create index "auditevent_operation" to table: "audit_events"
CREATE INDEX `auditevent_operation` ON `audit_events` (`operation`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
