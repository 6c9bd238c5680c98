-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_sensors" table
CREATE TABLE `new_sensors` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `ref` text NOT NULL, `pack_ref` text NOT NULL, `label` text NOT NULL DEFAULT (''), `description` text NOT NULL DEFAULT (''), `runner_type` text NOT NULL DEFAULT ('PYTHON'), `runner_name` text NOT NULL DEFAULT (''), `entry_point` text NOT NULL DEFAULT (''), `class_name` text NOT NULL DEFAULT (''), `poll_interval` integer NOT NULL DEFAULT (0), `trigger_types` json NULL, `parameters` json NULL, `config` json NULL, `enabled` bool NOT NULL DEFAULT (true), `status` text NOT NULL DEFAULT ('STOPPED'), `last_error` text NOT NULL DEFAULT (''), `restarts` integer NOT NULL DEFAULT (0), `pack_id` integer NOT NULL, CONSTRAINT `sensors_packs_sensors` FOREIGN KEY (`pack_id`) REFERENCES `packs` (`id`) ON DELETE CASCADE);
-- Set sequence for "new_sensors" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_sensors", 30064771072);
-- Copy rows from old table "sensors" to new temporary table "new_sensors"
INSERT INTO `new_sensors` (`id`, `created_at`, `updated_at`, `ref`, `pack_ref`, `label`, `description`, `runner_type`, `runner_name`, `entry_point`, `trigger_types`, `parameters`, `config`, `enabled`, `status`, `last_error`, `restarts`, `pack_id`) SELECT `id`, `created_at`, `updated_at`, `ref`, `pack_ref`, `label`, `description`, `runner_type`, `runner_name`, `entry_point`, `trigger_types`, `parameters`, `config`, `enabled`, `status`, `last_error`, `restarts`, `pack_id` FROM `sensors`;
-- Drop "sensors" table after copying rows
DROP TABLE `sensors`;
-- Rename temporary table "new_sensors" to "sensors"
ALTER TABLE `new_sensors` RENAME TO `sensors`;
-- Create index "sensors_ref_key" to table: "sensors"
CREATE UNIQUE INDEX `sensors_ref_key` ON `sensors` (`ref`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
