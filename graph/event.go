package graph

import (
	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/graph/model"
)

// rulePayload wraps a rule service result.
func rulePayload(ru *ent.Rule, err error) (*model.RulePayload, error) {
	if err != nil {
		return nil, err
	}
	return &model.RulePayload{Rule: ru}, nil
}
