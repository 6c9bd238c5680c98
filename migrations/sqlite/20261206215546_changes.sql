-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_packs" table
CREATE TABLE `new_packs` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `ref` text NOT NULL, `label` text NOT NULL DEFAULT (''), `description` text NOT NULL DEFAULT (''), `version` text NOT NULL DEFAULT ('0.0.0'), `author` text NOT NULL DEFAULT (''), `conf_schema` json NULL, `config` json NULL, `config_secrets` text NOT NULL DEFAULT (''), `config_file_checksum` text NOT NULL DEFAULT (''), `tags` json NULL, `system` bool NOT NULL DEFAULT (false), `source` text NOT NULL DEFAULT (''), `path` text NOT NULL DEFAULT (''), `checksum` text NOT NULL DEFAULT (''), `installed_at` datetime NULL, `env_status` text NOT NULL DEFAULT ('NONE'), `env_path` text NOT NULL DEFAULT (''), `env_error` text NOT NULL DEFAULT (''), `env_checksum` text NOT NULL DEFAULT (''));
-- Set sequence for "new_packs" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_packs", 17179869184);
-- Copy rows from old table "packs" to new temporary table "new_packs"
INSERT INTO `new_packs` (`id`, `created_at`, `updated_at`, `ref`, `label`, `description`, `version`, `author`, `conf_schema`, `config`, `tags`, `system`, `source`, `path`, `checksum`, `installed_at`, `env_status`, `env_path`, `env_error`, `env_checksum`) SELECT `id`, `created_at`, `updated_at`, `ref`, `label`, `description`, `version`, `author`, `conf_schema`, `config`, `tags`, `system`, `source`, `path`, `checksum`, `installed_at`, `env_status`, `env_path`, `env_error`, `env_checksum` FROM `packs`;
-- Drop "packs" table after copying rows
DROP TABLE `packs`;
-- Rename temporary table "new_packs" to "packs"
ALTER TABLE `new_packs` RENAME TO `packs`;
-- Create index "packs_ref_key" to table: "packs"
CREATE UNIQUE INDEX `packs_ref_key` ON `packs` (`ref`);
-- Create "new_keys" table
CREATE TABLE `new_keys` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `pack_ref` text NOT NULL DEFAULT (''), `user` text NOT NULL DEFAULT (''), `secret` bool NOT NULL DEFAULT (false), `value` json NULL, `ciphertext` text NOT NULL DEFAULT (''), `expires_at` datetime NULL);
-- Set sequence for "new_keys" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_keys", 73014444032);
-- Copy rows from old table "keys" to new temporary table "new_keys"
INSERT INTO `new_keys` (`id`, `created_at`, `updated_at`, `name`, `pack_ref`, `secret`, `value`, `ciphertext`, `expires_at`) SELECT `id`, `created_at`, `updated_at`, `name`, `pack_ref`, `secret`, `value`, `ciphertext`, `expires_at` FROM `keys`;
-- Drop "keys" table after copying rows
DROP TABLE `keys`;
-- Rename temporary table "new_keys" to "keys"
ALTER TABLE `new_keys` RENAME TO `keys`;
-- Create index "key_user_pack_ref_name" to table: "keys"
CREATE UNIQUE INDEX `key_user_pack_ref_name` ON `keys` (`user`, `pack_ref`, `name`);
-- Create index "key_expires_at" to table: "keys"
CREATE INDEX `key_expires_at` ON `keys` (`expires_at`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
