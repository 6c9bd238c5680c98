-- Add column "warnings" to table: "pack_installs"
ALTER TABLE `pack_installs` ADD COLUMN `warnings` json NULL;
