-- Modify "keys" table
ALTER TABLE "keys" ADD COLUMN "expires_at" timestamptz NULL;
