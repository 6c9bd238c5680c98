-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_actions" table
CREATE TABLE `new_actions` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `ref` text NOT NULL, `pack_ref` text NOT NULL, `label` text NOT NULL DEFAULT (''), `description` text NOT NULL DEFAULT (''), `runner_type` text NOT NULL DEFAULT ('SHELL'), `entry_point` text NOT NULL DEFAULT (''), `parameters` json NULL, `output_schema` json NULL, `timeout_seconds` integer NOT NULL DEFAULT (0), `parameter_delivery` text NOT NULL DEFAULT ('STDIN'), `enabled` bool NOT NULL DEFAULT (true), `tags` json NULL, `idempotent` bool NOT NULL DEFAULT (false), `pack_id` integer NOT NULL, CONSTRAINT `actions_packs_actions` FOREIGN KEY (`pack_id`) REFERENCES `packs` (`id`) ON DELETE CASCADE);
-- Copy rows from old table "actions" to new temporary table "new_actions"
INSERT INTO `new_actions` (`id`, `created_at`, `updated_at`, `ref`, `pack_ref`, `label`, `description`, `runner_type`, `entry_point`, `parameters`, `output_schema`, `timeout_seconds`, `parameter_delivery`, `enabled`, `tags`, `pack_id`) SELECT `id`, `created_at`, `updated_at`, `ref`, `pack_ref`, `label`, `description`, `runner_type`, `entry_point`, `parameters`, `output_schema`, `timeout_seconds`, `parameter_delivery`, `enabled`, `tags`, `pack_id` FROM `actions`;
-- Drop "actions" table after copying rows
DROP TABLE `actions`;
-- Rename temporary table "new_actions" to "actions"
ALTER TABLE `new_actions` RENAME TO `actions`;
-- Create index "actions_ref_key" to table: "actions"
CREATE UNIQUE INDEX `actions_ref_key` ON `actions` (`ref`);
-- Create "new_pack_installs" table
CREATE TABLE `new_pack_installs` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `source` text NOT NULL, `pack_ref` text NOT NULL DEFAULT (''), `version` text NOT NULL DEFAULT (''), `force` bool NOT NULL DEFAULT (false), `status` text NOT NULL DEFAULT ('PENDING'), `step` text NOT NULL DEFAULT (''), `steps` json NULL, `error` text NOT NULL DEFAULT (''), `started_at` datetime NOT NULL, `finished_at` datetime NULL, `env_path` text NOT NULL DEFAULT (''));
-- Set sequence for "new_pack_installs" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_pack_installs", 21474836480);
-- Copy rows from old table "pack_installs" to new temporary table "new_pack_installs"
INSERT INTO `new_pack_installs` (`id`, `created_at`, `updated_at`, `source`, `pack_ref`, `version`, `force`, `status`, `step`, `steps`, `error`, `started_at`, `finished_at`) SELECT `id`, `created_at`, `updated_at`, `source`, `pack_ref`, `version`, `force`, `status`, `step`, `steps`, `error`, `started_at`, `finished_at` FROM `pack_installs`;
-- Drop "pack_installs" table after copying rows
DROP TABLE `pack_installs`;
-- Rename temporary table "new_pack_installs" to "pack_installs"
ALTER TABLE `new_pack_installs` RENAME TO `pack_installs`;
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
