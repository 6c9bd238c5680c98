-- Add column "expires_at" to table: "keys"
ALTER TABLE `keys` ADD COLUMN `expires_at` datetime NULL;
