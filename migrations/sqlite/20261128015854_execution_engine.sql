-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_executions" table
CREATE TABLE `new_executions` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `action_ref` text NOT NULL, `pack_ref` text NOT NULL DEFAULT (''), `status` text NOT NULL DEFAULT ('REQUESTED'), `parameters` json NULL, `result` json NULL, `stdout` text NOT NULL DEFAULT (''), `stderr` text NOT NULL DEFAULT (''), `stdout_truncated` bool NOT NULL DEFAULT (false), `stderr_truncated` bool NOT NULL DEFAULT (false), `stdout_dropped` integer NOT NULL DEFAULT (0), `stderr_dropped` integer NOT NULL DEFAULT (0), `exit_code` integer NULL, `error` text NOT NULL DEFAULT (''), `requested_at` datetime NOT NULL, `started_at` datetime NULL, `finished_at` datetime NULL, `timeout_seconds` integer NOT NULL DEFAULT (0), `attempt` integer NOT NULL DEFAULT (0), `worker` text NOT NULL DEFAULT (''), `action_id` integer NULL, `enforcement_id` integer NULL, `parent_id` integer NULL, CONSTRAINT `executions_actions_executions` FOREIGN KEY (`action_id`) REFERENCES `actions` (`id`) ON DELETE SET NULL, CONSTRAINT `executions_enforcements_executions` FOREIGN KEY (`enforcement_id`) REFERENCES `enforcements` (`id`) ON DELETE SET NULL, CONSTRAINT `executions_executions_children` FOREIGN KEY (`parent_id`) REFERENCES `executions` (`id`) ON DELETE SET NULL);
-- Set sequence for "new_executions" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_executions", 12884901888);
-- Copy rows from old table "executions" to new temporary table "new_executions"
INSERT INTO `new_executions` (`id`, `created_at`, `updated_at`, `action_ref`, `pack_ref`, `status`, `parameters`, `result`, `stdout`, `stderr`, `stdout_truncated`, `stderr_truncated`, `exit_code`, `error`, `requested_at`, `started_at`, `finished_at`, `timeout_seconds`, `attempt`, `worker`, `action_id`, `enforcement_id`, `parent_id`) SELECT `id`, `created_at`, `updated_at`, `action_ref`, `pack_ref`, `status`, `parameters`, `result`, `stdout`, `stderr`, `stdout_truncated`, `stderr_truncated`, `exit_code`, `error`, `requested_at`, `started_at`, `finished_at`, `timeout_seconds`, `attempt`, `worker`, `action_id`, `enforcement_id`, `parent_id` FROM `executions`;
-- Drop "executions" table after copying rows
DROP TABLE `executions`;
-- Rename temporary table "new_executions" to "executions"
ALTER TABLE `new_executions` RENAME TO `executions`;
-- Create index "execution_status" to table: "executions"
CREATE INDEX `execution_status` ON `executions` (`status`);
-- Create index "execution_action_ref_requested_at" to table: "executions"
CREATE INDEX `execution_action_ref_requested_at` ON `executions` (`action_ref`, `requested_at`);
-- Create index "execution_requested_at" to table: "executions"
CREATE INDEX `execution_requested_at` ON `executions` (`requested_at`);
-- Create index "execution_worker_status" to table: "executions"
CREATE INDEX `execution_worker_status` ON `executions` (`worker`, `status`);
-- Create "execution_outputs" table
CREATE TABLE `execution_outputs` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `seq` integer NOT NULL, `stream` text NOT NULL, `line` text NOT NULL, `created_at` datetime NOT NULL, `execution_id` integer NOT NULL, CONSTRAINT `execution_outputs_executions_output` FOREIGN KEY (`execution_id`) REFERENCES `executions` (`id`) ON DELETE CASCADE);
-- Set sequence for "execution_outputs" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("execution_outputs", 47244640256);
-- Create index "executionoutput_execution_id_seq" to table: "execution_outputs"
CREATE UNIQUE INDEX `executionoutput_execution_id_seq` ON `execution_outputs` (`execution_id`, `seq`);
-- Create "execution_secrets" table
CREATE TABLE `execution_secrets` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `sealed` blob NOT NULL, `execution_id` integer NOT NULL, CONSTRAINT `execution_secrets_executions_secret` FOREIGN KEY (`execution_id`) REFERENCES `executions` (`id`) ON DELETE CASCADE);
-- Set sequence for "execution_secrets" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("execution_secrets", 51539607552);
-- Create index "execution_secrets_execution_id_key" to table: "execution_secrets"
CREATE UNIQUE INDEX `execution_secrets_execution_id_key` ON `execution_secrets` (`execution_id`);
-- Create "workers" table
CREATE TABLE `workers` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `hostname` text NOT NULL DEFAULT (''), `pid` integer NOT NULL DEFAULT (0), `concurrency` integer NOT NULL DEFAULT (0), `started_at` datetime NOT NULL, `heartbeat_at` datetime NOT NULL);
-- Set sequence for "workers" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("workers", 55834574848);
-- Create index "workers_name_key" to table: "workers"
CREATE UNIQUE INDEX `workers_name_key` ON `workers` (`name`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
