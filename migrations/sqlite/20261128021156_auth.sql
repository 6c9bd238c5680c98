-- Create "api_tokens" table
CREATE TABLE `api_tokens` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `token_hash` text NOT NULL, `prefix` text NOT NULL, `role` text NOT NULL, `packs` json NULL, `expires_at` datetime NULL, `revoked_at` datetime NULL, `last_used_at` datetime NULL);
-- Set sequence for "api_tokens" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("api_tokens", 64424509440);
-- Create index "api_tokens_token_hash_key" to table: "api_tokens"
CREATE UNIQUE INDEX `api_tokens_token_hash_key` ON `api_tokens` (`token_hash`);
-- Create "audit_events" table
CREATE TABLE `audit_events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `actor` text NOT NULL, `actor_token_id` integer NULL, `role` text NOT NULL DEFAULT (''), `operation` text NOT NULL, `operation_name` text NOT NULL DEFAULT (''), `variables` json NULL, `outcome` text NOT NULL, `error_code` text NOT NULL DEFAULT (''));
-- Set sequence for "audit_events" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("audit_events", 68719476736);
-- Create index "auditevent_created_at" to table: "audit_events"
CREATE INDEX `auditevent_created_at` ON `audit_events` (`created_at`);
-- Create index "auditevent_operation" to table: "audit_events"
CREATE INDEX `auditevent_operation` ON `audit_events` (`operation`);
-- Create "keys" table
CREATE TABLE `keys` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `pack_ref` text NOT NULL DEFAULT (''), `secret` bool NOT NULL DEFAULT (false), `value` json NULL, `ciphertext` text NOT NULL DEFAULT (''));
-- Set sequence for "keys" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("keys", 73014444032);
-- Create index "key_pack_ref_name" to table: "keys"
CREATE UNIQUE INDEX `key_pack_ref_name` ON `keys` (`pack_ref`, `name`);
