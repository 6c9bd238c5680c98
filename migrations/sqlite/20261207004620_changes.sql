-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_workflow_executions" table
CREATE TABLE `new_workflow_executions` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `language` text NOT NULL DEFAULT (''), `file` text NOT NULL DEFAULT (''), `source` text NOT NULL DEFAULT (''), `state` json NULL, `status` text NOT NULL DEFAULT ('REQUESTED'), `execution_id` integer NULL, `workflow_definition_id` integer NULL, CONSTRAINT `workflow_executions_executions_workflow_executions` FOREIGN KEY (`execution_id`) REFERENCES `executions` (`id`) ON DELETE CASCADE, CONSTRAINT `workflow_executions_workflow_definitions_workflow_executions` FOREIGN KEY (`workflow_definition_id`) REFERENCES `workflow_definitions` (`id`) ON DELETE CASCADE);
-- Set sequence for "new_workflow_executions" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_workflow_executions", 42949672960);
-- Copy rows from old table "workflow_executions" to new temporary table "new_workflow_executions"
INSERT INTO `new_workflow_executions` (`id`, `created_at`, `updated_at`, `state`, `status`, `execution_id`, `workflow_definition_id`) SELECT `id`, `created_at`, `updated_at`, `state`, `status`, `execution_id`, `workflow_definition_id` FROM `workflow_executions`;
-- Drop "workflow_executions" table after copying rows
DROP TABLE `workflow_executions`;
-- Rename temporary table "new_workflow_executions" to "workflow_executions"
ALTER TABLE `new_workflow_executions` RENAME TO `workflow_executions`;
-- Create index "workflowexecution_execution_id" to table: "workflow_executions"
CREATE UNIQUE INDEX `workflowexecution_execution_id` ON `workflow_executions` (`execution_id`);
-- Create "new_executions" table
CREATE TABLE `new_executions` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `action_ref` text NOT NULL, `pack_ref` text NOT NULL DEFAULT (''), `status` text NOT NULL DEFAULT ('REQUESTED'), `parameters` json NULL, `result` json NULL, `stdout` text NOT NULL DEFAULT (''), `stderr` text NOT NULL DEFAULT (''), `stdout_truncated` bool NOT NULL DEFAULT (false), `stderr_truncated` bool NOT NULL DEFAULT (false), `stdout_dropped` integer NOT NULL DEFAULT (0), `stderr_dropped` integer NOT NULL DEFAULT (0), `exit_code` integer NULL, `error` text NOT NULL DEFAULT (''), `requested_at` datetime NOT NULL, `started_at` datetime NULL, `finished_at` datetime NULL, `timeout_seconds` integer NOT NULL DEFAULT (0), `attempt` integer NOT NULL DEFAULT (0), `worker` text NOT NULL DEFAULT (''), `task_name` text NOT NULL DEFAULT (''), `task_item` integer NULL, `task_run` integer NOT NULL DEFAULT (0), `task_reported` bool NOT NULL DEFAULT (false), `pack_checksum` text NOT NULL DEFAULT (''), `retry_attempt` integer NOT NULL DEFAULT (0), `action_id` integer NULL, `enforcement_id` integer NULL, `parent_id` integer NULL, `retry_of_id` integer NULL, `rerun_of_id` integer NULL, CONSTRAINT `executions_actions_executions` FOREIGN KEY (`action_id`) REFERENCES `actions` (`id`) ON DELETE SET NULL, CONSTRAINT `executions_enforcements_executions` FOREIGN KEY (`enforcement_id`) REFERENCES `enforcements` (`id`) ON DELETE SET NULL, CONSTRAINT `executions_executions_children` FOREIGN KEY (`parent_id`) REFERENCES `executions` (`id`) ON DELETE SET NULL, CONSTRAINT `executions_executions_retries` FOREIGN KEY (`retry_of_id`) REFERENCES `executions` (`id`) ON DELETE SET NULL, CONSTRAINT `executions_executions_reruns` FOREIGN KEY (`rerun_of_id`) REFERENCES `executions` (`id`) ON DELETE SET NULL);
-- Set sequence for "new_executions" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_executions", 12884901888);
-- Copy rows from old table "executions" to new temporary table "new_executions"
INSERT INTO `new_executions` (`id`, `created_at`, `updated_at`, `action_ref`, `pack_ref`, `status`, `parameters`, `result`, `stdout`, `stderr`, `stdout_truncated`, `stderr_truncated`, `stdout_dropped`, `stderr_dropped`, `exit_code`, `error`, `requested_at`, `started_at`, `finished_at`, `timeout_seconds`, `attempt`, `worker`, `action_id`, `enforcement_id`, `parent_id`) SELECT `id`, `created_at`, `updated_at`, `action_ref`, `pack_ref`, `status`, `parameters`, `result`, `stdout`, `stderr`, `stdout_truncated`, `stderr_truncated`, `stdout_dropped`, `stderr_dropped`, `exit_code`, `error`, `requested_at`, `started_at`, `finished_at`, `timeout_seconds`, `attempt`, `worker`, `action_id`, `enforcement_id`, `parent_id` FROM `executions`;
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
-- Create "new_actions" table
CREATE TABLE `new_actions` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `ref` text NOT NULL, `pack_ref` text NOT NULL, `label` text NOT NULL DEFAULT (''), `description` text NOT NULL DEFAULT (''), `runner_type` text NOT NULL DEFAULT ('SHELL'), `runner_name` text NOT NULL DEFAULT (''), `entry_point` text NOT NULL DEFAULT (''), `parameters` json NULL, `output_schema` json NULL, `timeout_seconds` integer NOT NULL DEFAULT (0), `parameter_delivery` text NOT NULL DEFAULT ('STDIN'), `enabled` bool NOT NULL DEFAULT (true), `tags` json NULL, `idempotent` bool NOT NULL DEFAULT (false), `notify` json NULL, `has_policies` bool NOT NULL DEFAULT (false), `pack_id` integer NOT NULL, CONSTRAINT `actions_packs_actions` FOREIGN KEY (`pack_id`) REFERENCES `packs` (`id`) ON DELETE CASCADE);
-- Copy rows from old table "actions" to new temporary table "new_actions"
INSERT INTO `new_actions` (`id`, `created_at`, `updated_at`, `ref`, `pack_ref`, `label`, `description`, `runner_type`, `runner_name`, `entry_point`, `parameters`, `output_schema`, `timeout_seconds`, `parameter_delivery`, `enabled`, `tags`, `idempotent`, `notify`, `pack_id`) SELECT `id`, `created_at`, `updated_at`, `ref`, `pack_ref`, `label`, `description`, `runner_type`, `runner_name`, `entry_point`, `parameters`, `output_schema`, `timeout_seconds`, `parameter_delivery`, `enabled`, `tags`, `idempotent`, `notify`, `pack_id` FROM `actions`;
-- Drop "actions" table after copying rows
DROP TABLE `actions`;
-- Rename temporary table "new_actions" to "actions"
ALTER TABLE `new_actions` RENAME TO `actions`;
-- Create index "actions_ref_key" to table: "actions"
CREATE UNIQUE INDEX `actions_ref_key` ON `actions` (`ref`);
-- Create "action_policies" table
CREATE TABLE `action_policies` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `ref` text NOT NULL, `pack_ref` text NOT NULL DEFAULT (''), `description` text NOT NULL DEFAULT (''), `action_ref` text NOT NULL, `policy_type` text NOT NULL DEFAULT (''), `enabled` bool NOT NULL DEFAULT (true), `concurrency_threshold` integer NOT NULL DEFAULT (0), `concurrency_action` text NOT NULL DEFAULT ('DELAY'), `concurrency_attributes` json NULL, `rate_limit_max` integer NOT NULL DEFAULT (0), `rate_limit_window_seconds` integer NOT NULL DEFAULT (0), `retry_on` json NULL, `retry_max_count` integer NOT NULL DEFAULT (0), `retry_delay_seconds` integer NOT NULL DEFAULT (0), `pack_id` integer NULL, CONSTRAINT `action_policies_packs_policies` FOREIGN KEY (`pack_id`) REFERENCES `packs` (`id`) ON DELETE CASCADE);
-- Set sequence for "action_policies" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("action_policies", 77309411328);
-- Create index "action_policies_ref_key" to table: "action_policies"
CREATE UNIQUE INDEX `action_policies_ref_key` ON `action_policies` (`ref`);
-- Create index "actionpolicy_action_ref_enabled" to table: "action_policies"
CREATE INDEX `actionpolicy_action_ref_enabled` ON `action_policies` (`action_ref`, `enabled`);
-- Create "pack_files" table
CREATE TABLE `pack_files` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `pack_ref` text NOT NULL, `checksum` text NOT NULL, `path` text NOT NULL, `mode` integer NOT NULL, `chunk` integer NOT NULL, `data` blob NULL);
-- Set sequence for "pack_files" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("pack_files", 85899345920);
-- Create index "packfile_checksum_path_chunk" to table: "pack_files"
CREATE UNIQUE INDEX `packfile_checksum_path_chunk` ON `pack_files` (`checksum`, `path`, `chunk`);
-- Create index "packfile_pack_ref" to table: "pack_files"
CREATE INDEX `packfile_pack_ref` ON `pack_files` (`pack_ref`);
-- Create "policy_events" table
CREATE TABLE `policy_events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `policy_ref` text NOT NULL, `kind` text NOT NULL, `message` text NOT NULL DEFAULT (''), `at` datetime NOT NULL, `execution_id` integer NOT NULL, CONSTRAINT `policy_events_executions_policy_events` FOREIGN KEY (`execution_id`) REFERENCES `executions` (`id`) ON DELETE CASCADE);
-- Set sequence for "policy_events" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("policy_events", 81604378624);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
