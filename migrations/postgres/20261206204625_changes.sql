-- Modify "api_tokens" table
ALTER TABLE "api_tokens" ADD COLUMN "execution_id" bigint NULL;
