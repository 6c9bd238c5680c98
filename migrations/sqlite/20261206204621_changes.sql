-- Add column "execution_id" to table: "api_tokens"
ALTER TABLE `api_tokens` ADD COLUMN `execution_id` integer NULL;
