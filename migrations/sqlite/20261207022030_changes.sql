-- Create "inquiries" table
CREATE TABLE `inquiries` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `task_name` text NOT NULL DEFAULT (''), `pack_ref` text NOT NULL DEFAULT (''), `prompt` text NOT NULL DEFAULT (''), `response_schema` json NOT NULL, `assigned_users` json NULL, `assigned_roles` json NULL, `route` text NOT NULL DEFAULT (''), `ttl` real NOT NULL DEFAULT (1440), `timeout_at` datetime NOT NULL, `status` text NOT NULL DEFAULT ('PENDING'), `response` json NULL, `responded_by` text NULL, `responded_at` datetime NULL, `execution_id` integer NOT NULL, `workflow_id` integer NULL, CONSTRAINT `inquiries_executions_inquiry` FOREIGN KEY (`execution_id`) REFERENCES `executions` (`id`) ON DELETE CASCADE, CONSTRAINT `inquiries_executions_workflow_inquiries` FOREIGN KEY (`workflow_id`) REFERENCES `executions` (`id`) ON DELETE SET NULL);
-- Set sequence for "inquiries" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("inquiries", 90194313216);
-- Create index "inquiries_execution_id_key" to table: "inquiries"
CREATE UNIQUE INDEX `inquiries_execution_id_key` ON `inquiries` (`execution_id`);
-- Create index "inquiry_status_timeout_at" to table: "inquiries"
CREATE INDEX `inquiry_status_timeout_at` ON `inquiries` (`status`, `timeout_at`);
