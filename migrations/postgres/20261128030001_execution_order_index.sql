-- Drop index "execution_requested_at" from table: "executions"
DROP INDEX "execution_requested_at";
-- Create index "execution_requested_at_id" to table: "executions"
CREATE INDEX "execution_requested_at_id" ON "executions" ("requested_at", "id");
