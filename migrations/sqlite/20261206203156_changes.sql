-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_sensors" table
CREATE TABLE `new_sensors` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `ref` text NOT NULL, `pack_ref` text NOT NULL, `label` text NOT NULL DEFAULT (''), `description` text NOT NULL DEFAULT (''), `runner_type` text NOT NULL DEFAULT ('PYTHON'), `runner_name` text NOT NULL DEFAULT (''), `entry_point` text NOT NULL DEFAULT (''), `trigger_types` json NULL, `parameters` json NULL, `config` json NULL, `enabled` bool NOT NULL DEFAULT (true), `status` text NOT NULL DEFAULT ('STOPPED'), `last_error` text NOT NULL DEFAULT (''), `restarts` integer NOT NULL DEFAULT (0), `pack_id` integer NOT NULL, CONSTRAINT `sensors_packs_sensors` FOREIGN KEY (`pack_id`) REFERENCES `packs` (`id`) ON DELETE CASCADE);
-- Set sequence for "new_sensors" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_sensors", 30064771072);
-- Copy rows from old table "sensors" to new temporary table "new_sensors"
INSERT INTO `new_sensors` (`id`, `created_at`, `updated_at`, `ref`, `pack_ref`, `label`, `description`, `runner_type`, `entry_point`, `trigger_types`, `parameters`, `config`, `enabled`, `status`, `last_error`, `restarts`, `pack_id`) SELECT `id`, `created_at`, `updated_at`, `ref`, `pack_ref`, `label`, `description`, `runner_type`, `entry_point`, `trigger_types`, `parameters`, `config`, `enabled`, `status`, `last_error`, `restarts`, `pack_id` FROM `sensors`;
-- Drop "sensors" table after copying rows
DROP TABLE `sensors`;
-- Rename temporary table "new_sensors" to "sensors"
ALTER TABLE `new_sensors` RENAME TO `sensors`;
-- Create index "sensors_ref_key" to table: "sensors"
CREATE UNIQUE INDEX `sensors_ref_key` ON `sensors` (`ref`);
-- Create "new_actions" table
CREATE TABLE `new_actions` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `ref` text NOT NULL, `pack_ref` text NOT NULL, `label` text NOT NULL DEFAULT (''), `description` text NOT NULL DEFAULT (''), `runner_type` text NOT NULL DEFAULT ('SHELL'), `runner_name` text NOT NULL DEFAULT (''), `entry_point` text NOT NULL DEFAULT (''), `parameters` json NULL, `output_schema` json NULL, `timeout_seconds` integer NOT NULL DEFAULT (0), `parameter_delivery` text NOT NULL DEFAULT ('STDIN'), `enabled` bool NOT NULL DEFAULT (true), `tags` json NULL, `idempotent` bool NOT NULL DEFAULT (false), `pack_id` integer NOT NULL, CONSTRAINT `actions_packs_actions` FOREIGN KEY (`pack_id`) REFERENCES `packs` (`id`) ON DELETE CASCADE);
-- Copy rows from old table "actions" to new temporary table "new_actions"
INSERT INTO `new_actions` (`id`, `created_at`, `updated_at`, `ref`, `pack_ref`, `label`, `description`, `runner_type`, `entry_point`, `parameters`, `output_schema`, `timeout_seconds`, `parameter_delivery`, `enabled`, `tags`, `idempotent`, `pack_id`) SELECT `id`, `created_at`, `updated_at`, `ref`, `pack_ref`, `label`, `description`, `runner_type`, `entry_point`, `parameters`, `output_schema`, `timeout_seconds`, `parameter_delivery`, `enabled`, `tags`, `idempotent`, `pack_id` FROM `actions`;
-- Drop "actions" table after copying rows
DROP TABLE `actions`;
-- Rename temporary table "new_actions" to "actions"
ALTER TABLE `new_actions` RENAME TO `actions`;
-- Create index "actions_ref_key" to table: "actions"
CREATE UNIQUE INDEX `actions_ref_key` ON `actions` (`ref`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
