package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/attune-io/attune/internal/param"
)

// inquiryColumns are the columns of inquiry tables and the first rows of
// an inquiry's view.
var inquiryColumns = []string{"id", "status", "prompt", "taskName", "workflowID", "executionID", "timeoutAt"}

var inquiryOrder = []string{"id", "status", "prompt", "packRef", "workflowID", "taskName", "executionID",
	"assignedTo", "route", "ttl", "timeoutAt", "responseSchema", "response", "respondedBy", "respondedAt", "createdAt"}

var inquiryStatuses = []string{"PENDING", "RESPONDED", "TIMEOUT", "CANCELED"}

func (a *app) inquiryCommand() *cobra.Command {
	var status string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List inquiries, newest first", Args: nArgs(0, 0),
		RunE: func(c *cobra.Command, _ []string) error {
			where := map[string]any{}
			if status != "" {
				s := strings.ToUpper(status)
				if !slices.Contains(inquiryStatuses, s) {
					return usageErr("--status must be one of %s, not %q", strings.Join(inquiryStatuses, ", "), status)
				}
				where["status"] = s
			}
			cl, err := a.gql()
			if err != nil {
				return err
			}
			res, err := Inquiries(c.Context(), cl, &where, &limit)
			if err != nil {
				return err
			}
			return a.printNodes(res, "inquiries", inquiryColumns)
		},
	}
	list.Flags().StringVarP(&status, "status", "s", "", "only inquiries in this status: "+strings.Join(inquiryStatuses, ", "))
	list.Flags().IntVarP(&limit, "limit", "n", 100, "at most this many")
	_ = list.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(inquiryStatuses, cobra.ShellCompDirectiveNoFileComp))

	get := &cobra.Command{
		Use: "get ID", Short: "Show an inquiry: its question, who may answer and the fields of its response", Args: nArgs(1, 1),
		ValidArgsFunction: a.completeInquiries,
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			res, err := Inquiry(c.Context(), cl, args[0])
			if err != nil {
				return err
			}
			if err := a.printInquiry(&res.Inquiry); err != nil || a.output != "table" || a.attrs != "" {
				return err
			}
			schema, err := actionSchema(&res.Inquiry.ResponseSchema)
			if err != nil || len(schema) == 0 {
				// A schema the client cannot read is shown above as it is.
				return nil
			}
			fmt.Fprintf(a.stdout, "\nResponse fields (attune inquiry respond %s name=value ...):\n", res.Inquiry.Id)
			return a.table([]string{"name", "type", "required", "default", "description"}, paramRows(schema))
		},
	}

	var data string
	respond := &cobra.Command{
		Use:   "respond ID [name=value | name=@file | name:=json]... | respond ID -d JSON",
		Short: "Answer a pending inquiry",
		Long: `Answers a pending inquiry. The response is name=value arguments, typed by the
inquiry's response schema like 'attune run' types an action's parameters
(name=@file reads a file, name:=JSON gives any JSON value, a dotted name sets a
nested field), or the whole response with -d: JSON, @file, or - for stdin.
The asking execution then succeeds with the response, and its workflow goes on.
Exits 2 when the server refuses the response (each field's problem is
printed), 3 when this token may not answer, 5 when the inquiry is no longer
pending (answered, timed out or canceled).`,
		Args:              nArgs(1, -1),
		ValidArgsFunction: a.completeInquiries,
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			cl, err := a.gql()
			if err != nil {
				return err
			}
			var response json.RawMessage
			switch {
			case data != "" && len(args) > 1:
				return usageErr("give the response as name=value arguments or with --data, not both")
			case data != "":
				raw, err := a.readPayload(data)
				if err != nil {
					return err
				}
				response = *raw
			case len(args) == 1:
				return usageErr("no response: give name=value arguments or --data JSON (see attune inquiry get %s)", args[0])
			default:
				inq, err := Inquiry(ctx, cl, args[0])
				if err != nil {
					return err
				}
				schema, err := actionSchema(&inq.Inquiry.ResponseSchema)
				if err != nil {
					schema = param.Schema{} // the server judges the response
				}
				m := map[string]any{}
				for _, arg := range args[1:] {
					k, v, err := parseAssign(arg, func(k string) param.Spec { return specAt(schema, k) })
					if err != nil {
						return err
					}
					putPath(m, strings.Split(k, "."), v)
				}
				if response, err = json.Marshal(m); err != nil {
					return err
				}
			}
			res, err := RespondInquiry(ctx, cl, RespondInquiryInput{Id: args[0], Response: response})
			if err != nil {
				return err
			}
			return a.printInquiry(&res.RespondInquiry)
		},
	}
	respond.Flags().StringVarP(&data, "data", "d", "", "the whole response: JSON, @file, or - for stdin")

	cancel := &cobra.Command{
		Use: "cancel ID", Short: "Cancel a pending inquiry (its execution ends CANCELED)", Args: nArgs(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			res, err := CancelInquiry(c.Context(), cl, args[0])
			if err != nil {
				return err
			}
			return a.printInquiry(&res.CancelInquiry)
		},
	}
	cancel.ValidArgsFunction = a.completeInquiries
	return group("inquiry", "List, show and answer inquiries (questions executions ask people)", list, get, respond, cancel)
}

// printInquiry prints inq; a table shows who may answer as a sentence
// ("users: a, b; roles: OPERATOR", "anyone with OPERATOR") rather than
// its JSON, unless --attrs picks inside assignedTo.
func (a *app) printInquiry(inq any) error {
	if a.output != "table" || strings.Contains(a.attrs, "assignedTo.") {
		return a.printObject(inq, inquiryOrder)
	}
	g, err := generic(inq)
	if err != nil {
		return err
	}
	if m, ok := g.(map[string]any); ok {
		if to, ok := m["assignedTo"].(map[string]any); ok {
			m["assignedTo"] = assignedText(to)
		}
	}
	return a.printObject(g, inquiryOrder)
}

// assignedText says who may answer an inquiry assigned to (its users and
// roles); with neither, the server wants the OPERATOR role.
func assignedText(to map[string]any) string {
	list := func(k string) string {
		var names []string
		l, _ := to[k].([]any)
		for _, v := range l {
			names = append(names, fmt.Sprint(v))
		}
		return strings.Join(names, ", ")
	}
	var parts []string
	if users := list("users"); users != "" {
		parts = append(parts, "users: "+users)
	}
	if roles := list("roles"); roles != "" {
		parts = append(parts, "roles: "+roles)
	}
	if len(parts) == 0 {
		return "anyone with OPERATOR"
	}
	return strings.Join(parts, "; ")
}

// completeInquiries completes the ids of pending inquiries, with their prompts.
func (a *app) completeInquiries(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cl, err := a.gql()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	where, limit := map[string]any{"status": "PENDING"}, 1000
	res, err := Inquiries(c.Context(), cl, &where, &limit)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []string
	for _, e := range res.Inquiries.Edges {
		if strings.HasPrefix(e.Node.Id, toComplete) {
			out = append(out, e.Node.Id+"\t"+firstLine(e.Node.Prompt))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
