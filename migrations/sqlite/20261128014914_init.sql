-- Create "actions" table
CREATE TABLE `actions` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `ref` text NOT NULL, `pack_ref` text NOT NULL, `label` text NOT NULL DEFAULT (''), `description` text NOT NULL DEFAULT (''), `runner_type` text NOT NULL DEFAULT ('SHELL'), `entry_point` text NOT NULL DEFAULT (''), `parameters` json NULL, `output_schema` json NULL, `timeout_seconds` integer NOT NULL DEFAULT (0), `parameter_delivery` text NOT NULL DEFAULT ('STDIN'), `enabled` bool NOT NULL DEFAULT (true), `tags` json NULL, `pack_id` integer NOT NULL, CONSTRAINT `actions_packs_actions` FOREIGN KEY (`pack_id`) REFERENCES `packs` (`id`) ON DELETE CASCADE);
-- Create index "actions_ref_key" to table: "actions"
CREATE UNIQUE INDEX `actions_ref_key` ON `actions` (`ref`);
-- Create "enforcements" table
CREATE TABLE `enforcements` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `rule_ref` text NOT NULL, `event_ref` integer NOT NULL, `status` text NOT NULL DEFAULT ('CREATED'), `reason` text NOT NULL DEFAULT (''), `parameters` json NULL, `event_fk` integer NULL, `rule_id` integer NULL, CONSTRAINT `enforcements_events_enforcements` FOREIGN KEY (`event_fk`) REFERENCES `events` (`id`) ON DELETE SET NULL, CONSTRAINT `enforcements_rules_enforcements` FOREIGN KEY (`rule_id`) REFERENCES `rules` (`id`) ON DELETE SET NULL);
-- Set sequence for "enforcements" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("enforcements", 4294967296);
-- Create index "enforcement_rule_ref_event_ref" to table: "enforcements"
CREATE UNIQUE INDEX `enforcement_rule_ref_event_ref` ON `enforcements` (`rule_ref`, `event_ref`);
-- Create "events" table
CREATE TABLE `events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `trigger_ref` text NOT NULL, `source_ref` text NOT NULL DEFAULT (''), `payload` json NULL, `source_id` integer NULL, `trigger_id` integer NULL, CONSTRAINT `events_sensors_events` FOREIGN KEY (`source_id`) REFERENCES `sensors` (`id`) ON DELETE SET NULL, CONSTRAINT `events_triggers_events` FOREIGN KEY (`trigger_id`) REFERENCES `triggers` (`id`) ON DELETE SET NULL);
-- Set sequence for "events" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("events", 8589934592);
-- Create index "event_trigger_ref_created_at" to table: "events"
CREATE INDEX `event_trigger_ref_created_at` ON `events` (`trigger_ref`, `created_at`);
-- Create "executions" table
CREATE TABLE `executions` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `action_ref` text NOT NULL, `pack_ref` text NOT NULL DEFAULT (''), `status` text NOT NULL DEFAULT ('REQUESTED'), `parameters` json NULL, `result` json NULL, `stdout` text NOT NULL DEFAULT (''), `stderr` text NOT NULL DEFAULT (''), `stdout_truncated` bool NOT NULL DEFAULT (false), `stderr_truncated` bool NOT NULL DEFAULT (false), `exit_code` integer NULL, `error` text NOT NULL DEFAULT (''), `requested_at` datetime NOT NULL, `started_at` datetime NULL, `finished_at` datetime NULL, `timeout_seconds` integer NOT NULL DEFAULT (0), `attempt` integer NOT NULL DEFAULT (0), `worker` text NOT NULL DEFAULT (''), `action_id` integer NULL, `enforcement_id` integer NULL, `parent_id` integer NULL, CONSTRAINT `executions_actions_executions` FOREIGN KEY (`action_id`) REFERENCES `actions` (`id`) ON DELETE SET NULL, CONSTRAINT `executions_enforcements_executions` FOREIGN KEY (`enforcement_id`) REFERENCES `enforcements` (`id`) ON DELETE SET NULL, CONSTRAINT `executions_executions_children` FOREIGN KEY (`parent_id`) REFERENCES `executions` (`id`) ON DELETE SET NULL);
-- Set sequence for "executions" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("executions", 12884901888);
-- Create index "execution_status" to table: "executions"
CREATE INDEX `execution_status` ON `executions` (`status`);
-- Create index "execution_action_ref_requested_at" to table: "executions"
CREATE INDEX `execution_action_ref_requested_at` ON `executions` (`action_ref`, `requested_at`);
-- Create index "execution_requested_at" to table: "executions"
CREATE INDEX `execution_requested_at` ON `executions` (`requested_at`);
-- Create "packs" table
CREATE TABLE `packs` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `ref` text NOT NULL, `label` text NOT NULL DEFAULT (''), `description` text NOT NULL DEFAULT (''), `version` text NOT NULL DEFAULT ('0.0.0'), `author` text NOT NULL DEFAULT (''), `conf_schema` json NULL, `config` json NULL, `tags` json NULL, `system` bool NOT NULL DEFAULT (false), `source` text NOT NULL DEFAULT (''), `path` text NOT NULL DEFAULT (''), `checksum` text NOT NULL DEFAULT (''), `installed_at` datetime NULL, `env_status` text NOT NULL DEFAULT ('NONE'), `env_path` text NOT NULL DEFAULT (''), `env_error` text NOT NULL DEFAULT (''), `env_checksum` text NOT NULL DEFAULT (''));
-- Set sequence for "packs" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("packs", 17179869184);
-- Create index "packs_ref_key" to table: "packs"
CREATE UNIQUE INDEX `packs_ref_key` ON `packs` (`ref`);
-- Create "pack_installs" table
CREATE TABLE `pack_installs` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `source` text NOT NULL, `pack_ref` text NOT NULL DEFAULT (''), `version` text NOT NULL DEFAULT (''), `force` bool NOT NULL DEFAULT (false), `status` text NOT NULL DEFAULT ('PENDING'), `step` text NOT NULL DEFAULT (''), `steps` json NULL, `error` text NOT NULL DEFAULT (''), `started_at` datetime NOT NULL, `finished_at` datetime NULL);
-- Set sequence for "pack_installs" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("pack_installs", 21474836480);
-- Create "rules" table
CREATE TABLE `rules` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `ref` text NOT NULL, `pack_ref` text NOT NULL DEFAULT (''), `label` text NOT NULL DEFAULT (''), `description` text NOT NULL DEFAULT (''), `action_ref` text NOT NULL, `trigger_ref` text NOT NULL, `criteria` json NULL, `action_params` json NULL, `trigger_params` json NULL, `enabled` bool NOT NULL DEFAULT (true), `action_id` integer NULL, `pack_id` integer NULL, `trigger_id` integer NULL, CONSTRAINT `rules_actions_rules` FOREIGN KEY (`action_id`) REFERENCES `actions` (`id`) ON DELETE SET NULL, CONSTRAINT `rules_packs_rules` FOREIGN KEY (`pack_id`) REFERENCES `packs` (`id`) ON DELETE CASCADE, CONSTRAINT `rules_triggers_rules` FOREIGN KEY (`trigger_id`) REFERENCES `triggers` (`id`) ON DELETE SET NULL);
-- Set sequence for "rules" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("rules", 25769803776);
-- Create index "rules_ref_key" to table: "rules"
CREATE UNIQUE INDEX `rules_ref_key` ON `rules` (`ref`);
-- Create "sensors" table
CREATE TABLE `sensors` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `ref` text NOT NULL, `pack_ref` text NOT NULL, `label` text NOT NULL DEFAULT (''), `description` text NOT NULL DEFAULT (''), `runner_type` text NOT NULL DEFAULT ('PYTHON'), `entry_point` text NOT NULL DEFAULT (''), `trigger_types` json NULL, `parameters` json NULL, `config` json NULL, `enabled` bool NOT NULL DEFAULT (true), `status` text NOT NULL DEFAULT ('STOPPED'), `last_error` text NOT NULL DEFAULT (''), `restarts` integer NOT NULL DEFAULT (0), `pack_id` integer NOT NULL, CONSTRAINT `sensors_packs_sensors` FOREIGN KEY (`pack_id`) REFERENCES `packs` (`id`) ON DELETE CASCADE);
-- Set sequence for "sensors" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("sensors", 30064771072);
-- Create index "sensors_ref_key" to table: "sensors"
CREATE UNIQUE INDEX `sensors_ref_key` ON `sensors` (`ref`);
-- Create "triggers" table
CREATE TABLE `triggers` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `ref` text NOT NULL, `pack_ref` text NOT NULL, `label` text NOT NULL DEFAULT (''), `description` text NOT NULL DEFAULT (''), `type` text NOT NULL DEFAULT ('custom'), `parameters_schema` json NULL, `payload_schema` json NULL, `webhook_enabled` bool NOT NULL DEFAULT (false), `webhook_key` text NOT NULL DEFAULT (''), `enabled` bool NOT NULL DEFAULT (true), `pack_id` integer NOT NULL, CONSTRAINT `triggers_packs_triggers` FOREIGN KEY (`pack_id`) REFERENCES `packs` (`id`) ON DELETE CASCADE);
-- Set sequence for "triggers" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("triggers", 34359738368);
-- Create index "triggers_ref_key" to table: "triggers"
CREATE UNIQUE INDEX `triggers_ref_key` ON `triggers` (`ref`);
-- Create "workflow_definitions" table
CREATE TABLE `workflow_definitions` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `ref` text NOT NULL, `pack_ref` text NOT NULL, `label` text NOT NULL DEFAULT (''), `description` text NOT NULL DEFAULT (''), `definition` json NULL, `pack_id` integer NOT NULL, CONSTRAINT `workflow_definitions_packs_workflow_definitions` FOREIGN KEY (`pack_id`) REFERENCES `packs` (`id`) ON DELETE CASCADE);
-- Set sequence for "workflow_definitions" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("workflow_definitions", 38654705664);
-- Create index "workflow_definitions_ref_key" to table: "workflow_definitions"
CREATE UNIQUE INDEX `workflow_definitions_ref_key` ON `workflow_definitions` (`ref`);
-- Create "workflow_executions" table
CREATE TABLE `workflow_executions` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `state` json NULL, `status` text NOT NULL DEFAULT ('REQUESTED'), `execution_id` integer NULL, `workflow_definition_id` integer NOT NULL, CONSTRAINT `workflow_executions_executions_workflow_executions` FOREIGN KEY (`execution_id`) REFERENCES `executions` (`id`) ON DELETE CASCADE, CONSTRAINT `workflow_executions_workflow_definitions_workflow_executions` FOREIGN KEY (`workflow_definition_id`) REFERENCES `workflow_definitions` (`id`) ON DELETE CASCADE);
-- Set sequence for "workflow_executions" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("workflow_executions", 42949672960);
