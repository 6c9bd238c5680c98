-- Add column "notify" to table: "actions"
ALTER TABLE `actions` ADD COLUMN `notify` json NULL;
