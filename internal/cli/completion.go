package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// completeActions completes action refs from the server.
func (a *app) completeActions(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cl, err := a.gql()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	limit := 1000
	where := map[string]any{}
	if toComplete != "" {
		where["refHasPrefix"] = toComplete
	}
	res, err := Actions(c.Context(), cl, &where, &limit)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []string
	for _, e := range res.Actions.Edges {
		out = append(out, e.Node.Ref+"\t"+firstLine(e.Node.Description))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeRun completes the action ref, then its parameter names (name=).
func (a *app) completeRun(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return a.completeActions(c, args, toComplete)
	}
	cl, err := a.gql()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	act, err := Action(c.Context(), cl, args[0])
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	schema, err := actionSchema(act.Action.Parameters)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	given := map[string]bool{}
	for _, arg := range args[1:] {
		k, _, _ := strings.Cut(arg, "=")
		given[strings.TrimSuffix(k, ":")] = true
	}
	var out []string
	for name, s := range schema {
		if !given[name] && strings.HasPrefix(name, toComplete) {
			out = append(out, name+"=\t"+firstLine(s.Description))
		}
	}
	return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}

// completePacks completes pack refs from the server.
func (a *app) completePacks(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cl, err := a.gql()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	limit := 1000
	res, err := Packs(c.Context(), cl, &limit)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []string
	for _, e := range res.Packs.Edges {
		if strings.HasPrefix(e.Node.Ref, toComplete) {
			out = append(out, e.Node.Ref)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
