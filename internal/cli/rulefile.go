package cli

import (
	"encoding/json"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// ruleFile is a rule as StackStorm writes it (rules/*.yaml): name and pack
// make the ref (or ref directly), trigger.type and action.ref name the
// trigger and action, with their parameters beside them.
type ruleFile struct {
	Ref         string `yaml:"ref"`
	Name        string `yaml:"name"`
	Pack        string `yaml:"pack"`
	Label       string `yaml:"label"`
	Description string `yaml:"description"`
	Enabled     *bool  `yaml:"enabled"`
	Trigger     struct {
		Type       string         `yaml:"type"`
		Ref        string         `yaml:"ref"`
		Parameters map[string]any `yaml:"parameters"`
	} `yaml:"trigger"`
	Criteria map[string]any `yaml:"criteria"`
	Action   struct {
		Ref        string         `yaml:"ref"`
		Parameters map[string]any `yaml:"parameters"`
	} `yaml:"action"`
}

// input turns the file into createRule's input.
func (r ruleFile) input() (CreateRuleInput, error) {
	in := CreateRuleInput{Enabled: r.Enabled, Trigger: r.Trigger.Type, Action: r.Action.Ref, Ref: r.Ref}
	if in.Trigger == "" {
		in.Trigger = r.Trigger.Ref
	}
	if in.Ref == "" {
		in.Ref = r.Name
		if r.Pack != "" && !strings.HasPrefix(r.Name, r.Pack+".") {
			in.Ref = r.Pack + "." + r.Name
		}
	}
	if in.Ref == "" || in.Trigger == "" || in.Action == "" {
		return in, usageErr("a rule file needs name (or ref), trigger.type and action.ref")
	}
	in.Pack = optString(r.Pack)
	in.Label = optString(r.Label)
	in.Description = optString(r.Description)
	for _, f := range []struct {
		v   map[string]any
		dst **json.RawMessage
	}{{r.Criteria, &in.Criteria}, {r.Action.Parameters, &in.ActionParams}, {r.Trigger.Parameters, &in.TriggerParams}} {
		if f.v == nil {
			continue
		}
		raw, err := json.Marshal(f.v)
		if err != nil {
			return in, usageErr("%v", err)
		}
		m := json.RawMessage(raw)
		*f.dst = &m
	}
	return in, nil
}

func (a *app) ruleCreateCommand() *cobra.Command {
	var file string
	c := &cobra.Command{
		Use:   "create -f RULE.yaml",
		Short: "Create a rule from a StackStorm-style rule file",
		Args:  nArgs(0, 0),
		RunE: func(c *cobra.Command, _ []string) error {
			if file == "" {
				return usageErr("rule create: -f RULE.yaml is required")
			}
			raw, err := os.ReadFile(file)
			if err != nil {
				return usageErr("%v", err)
			}
			var rf ruleFile
			if err := yaml.Unmarshal(raw, &rf); err != nil {
				return usageErr("%s: %v", file, err)
			}
			in, err := rf.input()
			if err != nil {
				return err
			}
			cl, err := a.gql()
			if err != nil {
				return err
			}
			res, err := CreateRule(c.Context(), cl, in)
			if err != nil {
				return err
			}
			return a.printObject(&res.CreateRule.Rule, ruleColumns)
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "the rule file (YAML or JSON)")
	return c
}
