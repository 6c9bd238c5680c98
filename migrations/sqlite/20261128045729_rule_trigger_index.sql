-- Create index "rule_trigger_ref_enabled" to table: "rules"
CREATE INDEX `rule_trigger_ref_enabled` ON `rules` (`trigger_ref`, `enabled`);
