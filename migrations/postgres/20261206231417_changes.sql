-- Modify "executions" table
ALTER TABLE "executions" ADD COLUMN "task_name" character varying NOT NULL DEFAULT '', ADD COLUMN "task_item" bigint NULL, ADD COLUMN "task_run" bigint NOT NULL DEFAULT 0, ADD COLUMN "task_reported" boolean NOT NULL DEFAULT false;
-- Create index "execution_parent_id_task_reported" to table: "executions"
CREATE INDEX "execution_parent_id_task_reported" ON "executions" ("parent_id", "task_reported");
-- Modify "workflow_executions" table
ALTER TABLE "workflow_executions" ALTER COLUMN "workflow_definition_id" DROP NOT NULL, ADD COLUMN "language" character varying NOT NULL DEFAULT '', ADD COLUMN "file" character varying NOT NULL DEFAULT '', ADD COLUMN "source" text NOT NULL DEFAULT '';
-- Create index "workflowexecution_execution_id" to table: "workflow_executions"
CREATE UNIQUE INDEX "workflowexecution_execution_id" ON "workflow_executions" ("execution_id");
