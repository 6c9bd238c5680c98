-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_executions" table
CREATE TABLE `new_executions` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `action_ref` text NOT NULL, `pack_ref` text NOT NULL DEFAULT (''), `status` text NOT NULL DEFAULT ('REQUESTED'), `parameters` json NULL, `result` json NULL, `stdout` text NOT NULL DEFAULT (''), `stderr` text NOT NULL DEFAULT (''), `stdout_truncated` bool NOT NULL DEFAULT (false), `stderr_truncated` bool NOT NULL DEFAULT (false), `stdout_dropped` integer NOT NULL DEFAULT (0), `stderr_dropped` integer NOT NULL DEFAULT (0), `exit_code` integer NULL, `error` text NOT NULL DEFAULT (''), `requested_at` datetime NOT NULL, `started_at` datetime NULL, `finished_at` datetime NULL, `timeout_seconds` integer NOT NULL DEFAULT (0), `attempt` integer NOT NULL DEFAULT (0), `worker` text NOT NULL DEFAULT (''), `task_name` text NOT NULL DEFAULT (''), `task_item` integer NULL, `task_run` integer NOT NULL DEFAULT (0), `task_reported` bool NOT NULL DEFAULT (false), `pack_checksum` text NOT NULL DEFAULT (''), `retry_attempt` integer NOT NULL DEFAULT (0), `requested_by` text NOT NULL DEFAULT (''), `action_id` integer NULL, `enforcement_id` integer NULL, `parent_id` integer NULL, `retry_of_id` integer NULL, `rerun_of_id` integer NULL, CONSTRAINT `executions_actions_executions` FOREIGN KEY (`action_id`) REFERENCES `actions` (`id`) ON DELETE SET NULL, CONSTRAINT `executions_enforcements_executions` FOREIGN KEY (`enforcement_id`) REFERENCES `enforcements` (`id`) ON DELETE SET NULL, CONSTRAINT `executions_executions_children` FOREIGN KEY (`parent_id`) REFERENCES `executions` (`id`) ON DELETE SET NULL, CONSTRAINT `executions_executions_retries` FOREIGN KEY (`retry_of_id`) REFERENCES `executions` (`id`) ON DELETE SET NULL, CONSTRAINT `executions_executions_reruns` FOREIGN KEY (`rerun_of_id`) REFERENCES `executions` (`id`) ON DELETE SET NULL);
-- Set sequence for "new_executions" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_executions", 12884901888);
-- Copy rows from old table "executions" to new temporary table "new_executions"
INSERT INTO `new_executions` (`id`, `created_at`, `updated_at`, `action_ref`, `pack_ref`, `status`, `parameters`, `result`, `stdout`, `stderr`, `stdout_truncated`, `stderr_truncated`, `stdout_dropped`, `stderr_dropped`, `exit_code`, `error`, `requested_at`, `started_at`, `finished_at`, `timeout_seconds`, `attempt`, `worker`, `task_name`, `task_item`, `task_run`, `task_reported`, `pack_checksum`, `retry_attempt`, `action_id`, `enforcement_id`, `parent_id`, `retry_of_id`, `rerun_of_id`) SELECT `id`, `created_at`, `updated_at`, `action_ref`, `pack_ref`, `status`, `parameters`, `result`, `stdout`, `stderr`, `stdout_truncated`, `stderr_truncated`, `stdout_dropped`, `stderr_dropped`, `exit_code`, `error`, `requested_at`, `started_at`, `finished_at`, `timeout_seconds`, `attempt`, `worker`, `task_name`, `task_item`, `task_run`, `task_reported`, `pack_checksum`, `retry_attempt`, `action_id`, `enforcement_id`, `parent_id`, `retry_of_id`, `rerun_of_id` FROM `executions`;
-- Drop "executions" table after copying rows
DROP TABLE `executions`;
-- Rename temporary table "new_executions" to "executions"
ALTER TABLE `new_executions` RENAME TO `executions`;
-- Create index "execution_status" to table: "executions"
CREATE INDEX `execution_status` ON `executions` (`status`);
-- Create index "execution_action_ref_requested_at" to table: "executions"
CREATE INDEX `execution_action_ref_requested_at` ON `executions` (`action_ref`, `requested_at`);
-- Create index "execution_requested_at_id" to table: "executions"
CREATE INDEX `execution_requested_at_id` ON `executions` (`requested_at`, `id`);
-- Create index "execution_worker_status" to table: "executions"
CREATE INDEX `execution_worker_status` ON `executions` (`worker`, `status`);
-- Create index "execution_parent_id_task_reported" to table: "executions"
CREATE INDEX `execution_parent_id_task_reported` ON `executions` (`parent_id`, `task_reported`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
