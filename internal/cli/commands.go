package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Khan/genqlient/graphql"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

func (a *app) loginCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "login",
		Short: "Check a server and token, and store them in the user's config",
		Long: `Checks --url and the token (--token, --token-file or ATTUNE_TOKEN) against
the server, then stores both in $XDG_CONFIG_HOME/attune/config.yaml (mode
0600) for later commands. ATTUNE_URL, ATTUNE_TOKEN and the flags still win.`,
		Args: nArgs(0, 0),
		RunE: func(c *cobra.Command, _ []string) error {
			conn, err := a.connect()
			if err != nil {
				return err
			}
			v, err := Viewer(c.Context(), conn.gql)
			if err != nil {
				return err
			}
			path, err := a.writeConfig(fileConfig{URL: conn.url, Token: conn.token})
			if err != nil {
				return err
			}
			a.note("logged in to %s as %s (%s); saved to %s", conn.url, v.Viewer.Name, v.Viewer.Role, path)
			return nil
		},
	}
}

func (a *app) logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Forget the stored server and token",
		Args:  nArgs(0, 0),
		RunE: func(*cobra.Command, []string) error {
			path, err := a.configPath()
			if err != nil {
				return err
			}
			if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
				return err
			}
			return nil
		},
	}
}

func (a *app) whoamiCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show the server and the token's name and role",
		Args:  nArgs(0, 0),
		RunE: func(c *cobra.Command, _ []string) error {
			conn, err := a.connect()
			if err != nil {
				return err
			}
			v, err := Viewer(c.Context(), conn.gql)
			if err != nil {
				return err
			}
			out := map[string]any{"url": conn.url, "urlFrom": conn.urlFrom, "tokenFrom": conn.tokenFrom,
				"name": v.Viewer.Name, "role": v.Viewer.Role, "packs": v.Viewer.Packs}
			return a.printObject(out, []string{"url", "name", "role", "packs", "urlFrom", "tokenFrom"})
		},
	}
}

func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: nArgs(0, 0),
		RunE: func(c *cobra.Command, _ []string) error {
			return usageErr("%s: a subcommand is required\n%s", c.CommandPath(), c.UsageString())
		}}
	c.AddCommand(subs...)
	return c
}

var actionColumns = []string{"ref", "runnerName", "description"}

func (a *app) actionCommand() *cobra.Command {
	list := packList(a, "List actions", "only this pack's actions", Actions, "actions", actionColumns)
	get := &cobra.Command{
		Use: "get REF", Short: "Show an action and its parameters", Args: nArgs(1, 1),
		ValidArgsFunction: a.completeActions,
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			res, err := Action(c.Context(), cl, args[0])
			if err != nil {
				return err
			}
			if a.output != "table" || a.attrs != "" {
				return a.printObject(&res.Action, nil)
			}
			if err := a.printObject(&res.Action, []string{"ref", "description", "runnerName", "runnerType", "entryPoint", "timeoutSeconds", "enabled"}); err != nil {
				return err
			}
			schema, err := actionSchema(res.Action.Parameters)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "\nParameters:")
			return a.table([]string{"name", "type", "required", "default", "description"}, paramRows(schema))
		},
	}
	return group("action", "List and inspect actions", list, get)
}

var executionColumns = []string{"id", "actionRef", "status", "exitCode", "requestedAt", "duration"}

func (a *app) executionCommand() *cobra.Command {
	var action, status, since string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List executions, newest first", Args: nArgs(0, 0),
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			where := map[string]any{}
			if action != "" {
				where["actionRef"] = action
			}
			if status != "" {
				var in []string
				for _, s := range strings.Split(status, ",") {
					in = append(in, strings.ToUpper(strings.TrimSpace(s)))
				}
				where["statusIn"] = in
			}
			if since != "" {
				t, err := parseSince(since)
				if err != nil {
					return err
				}
				where["requestedAtGTE"] = t.UTC().Format(time.RFC3339Nano)
			}
			res, err := Executions(c.Context(), cl, &where, &limit)
			if err != nil {
				return err
			}
			return a.printNodes(res, "executions", executionColumns)
		},
	}
	list.Flags().StringVar(&action, "action", "", "only this action's executions")
	list.Flags().StringVar(&status, "status", "", "only these statuses (comma-separated, e.g. failed,timeout)")
	list.Flags().StringVar(&since, "since", "", "only those requested since a duration ago (1h) or an RFC 3339 time")
	list.Flags().IntVarP(&limit, "limit", "n", 50, "at most this many")
	_ = list.RegisterFlagCompletionFunc("action", a.completeActions)
	get := a.getExecutionCommand()
	var from int
	tail := &cobra.Command{
		Use: "tail ID", Short: "Follow an execution's output (a workflow's tasks and their output) until it finishes; exits with its exit code", Args: nArgs(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			if _, err := a.gql(); err != nil {
				return err
			}
			return a.followAny(c.Context(), args[0], from)
		},
	}
	tail.Flags().IntVar(&from, "from", 0, "start at this output line (resume with the last seen + 1; a workflow is followed from its start)")
	cancel := oneArg(a, "cancel ID", "Cancel an execution", CancelExecution, func(r *CancelExecutionResponse) any { return &r.CancelExecution }, executionOrder)
	subs := append([]*cobra.Command{list, get, tail, cancel, a.rerunCommand()}, a.pauseResumeCommands()...)
	return group("execution", "List, inspect, follow, cancel, pause and resume executions", subs...)
}

// parseSince reads a duration ago or an RFC 3339 time.
func parseSince(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageErr("--since %q: want a duration (90m, 24h) or a time (2006-01-02 or RFC 3339)", s)
}

var keyColumns = []string{"name", "packRef", "secret", "value", "updatedAt"}

func (a *app) keyCommand() *cobra.Command {
	var pack string
	var limit int
	var secret, decrypt bool
	var ttl int
	list := &cobra.Command{
		Use: "list", Short: "List keys (secret values stay hidden)", Args: nArgs(0, 0),
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			where := map[string]any{}
			if pack != "" {
				where["packRef"] = pack
			}
			res, err := Keys(c.Context(), cl, &where, &limit)
			if err != nil {
				return err
			}
			return a.printNodes(res, "keys", keyColumns)
		},
	}
	list.Flags().IntVarP(&limit, "limit", "n", 100, "at most this many")
	get := &cobra.Command{
		Use: "get NAME", Short: "Show a key; --decrypt shows a secret's value (admin)", Args: nArgs(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			res, err := Key(c.Context(), cl, args[0], optString(pack), &decrypt)
			if err != nil {
				return err
			}
			return a.printObject(&res.Key, keyColumns)
		},
	}
	get.Flags().BoolVar(&decrypt, "decrypt", false, "show a secret key's value (ADMIN)")
	set := &cobra.Command{
		Use: "set NAME VALUE", Short: "Create or replace a key; VALUE is JSON when it parses as JSON, else a string", Args: nArgs(2, 2),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			v := args[1]
			if strings.HasPrefix(v, "@") {
				raw, err := os.ReadFile(v[1:])
				if err != nil {
					return usageErr("%v", err)
				}
				v = string(raw)
			}
			var val json.RawMessage
			if json.Valid([]byte(v)) && !secret {
				val = json.RawMessage(v)
			} else {
				val, _ = json.Marshal(v)
			}
			in := SetKeyInput{Name: args[0], Value: val, Pack: optString(pack)}
			if secret {
				in.Secret = &secret
			}
			if ttl > 0 {
				in.Ttl = &ttl
			}
			res, err := SetKey(c.Context(), cl, in)
			if err != nil {
				return err
			}
			return a.printObject(&res.SetKey, keyColumns)
		},
	}
	set.Flags().BoolVar(&secret, "secret", false, "encrypt at rest; the value is a string")
	set.Flags().IntVar(&ttl, "ttl", 0, "expire the key after this many seconds")
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a key", Args: nArgs(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			res, err := DeleteKey(c.Context(), cl, args[0], optString(pack))
			if err != nil {
				return err
			}
			return a.printObject(&res.DeleteKey, nil)
		},
	}
	k := group("key", "Manage the key/value store", list, get, set, del)
	k.PersistentFlags().StringVarP(&pack, "pack", "p", "", "the pack scope (system-wide without)")
	return k
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

var tokenColumns = []string{"id", "name", "role", "prefix", "packs", "expiresAt", "revokedAt", "lastUsedAt"}

func (a *app) tokenCommand() *cobra.Command {
	var role string
	var packs []string
	var expires time.Duration
	var limit int
	create := &cobra.Command{
		Use: "create NAME", Short: "Create an API token; it is printed once", Args: nArgs(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			in := CreateApiTokenInput{Name: args[0], Role: APITokenRole(strings.ToUpper(role)), Packs: packs}
			if expires > 0 {
				t := time.Now().Add(expires)
				in.ExpiresAt = &t
			}
			res, err := CreateToken(c.Context(), cl, in)
			if err != nil {
				return err
			}
			if a.output == "table" && a.attrs == "" {
				fmt.Fprintln(a.stdout, res.CreateApiToken.Token)
				a.note("token %s (%s, id %s): shown only now", args[0], in.Role, res.CreateApiToken.ApiToken.Id)
				return nil
			}
			return a.printObject(&res.CreateApiToken, nil)
		},
	}
	create.Flags().StringVar(&role, "role", "VIEWER", "ADMIN, EDITOR, OPERATOR, VIEWER or METRICS (scrapes /metrics only)")
	create.Flags().StringSliceVar(&packs, "pack", nil, "limit the token to these packs")
	create.Flags().DurationVar(&expires, "expires-in", 0, "expire after this long (e.g. 720h)")
	_ = create.RegisterFlagCompletionFunc("role", cobra.FixedCompletions([]string{"ADMIN", "EDITOR", "OPERATOR", "VIEWER", "METRICS"}, cobra.ShellCompDirectiveNoFileComp))
	list := &cobra.Command{
		Use: "list", Short: "List API tokens", Args: nArgs(0, 0),
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			res, err := Tokens(c.Context(), cl, &limit)
			if err != nil {
				return err
			}
			return a.printNodes(res, "apiTokens", tokenColumns)
		},
	}
	list.Flags().IntVarP(&limit, "limit", "n", 100, "at most this many")
	revoke := oneArg(a, "revoke ID", "Revoke an API token at once", RevokeToken, func(r *RevokeTokenResponse) any { return &r.RevokeApiToken }, tokenColumns)
	return group("token", "Manage API tokens", create, list, revoke)
}

var ruleColumns = []string{"ref", "triggerRef", "actionRef", "enabled"}

func (a *app) ruleCommand() *cobra.Command {
	list := packList(a, "List rules", "only this pack's rules", Rules, "rules", ruleColumns)
	get := oneArg(a, "get REF", "Show a rule", Rule, func(r *RuleResponse) any { return &r.Rule }, ruleColumns)
	enable := oneArg(a, "enable REF", "Enable a rule", EnableRule, func(r *EnableRuleResponse) any { return &r.EnableRule.Rule }, ruleColumns)
	disable := oneArg(a, "disable REF", "Disable a rule", DisableRule, func(r *DisableRuleResponse) any { return &r.DisableRule.Rule }, ruleColumns)
	del := oneArg(a, "delete REF", "Delete a rule", DeleteRule, func(r *DeleteRuleResponse) any { return &r.DeleteRule }, nil)
	return group("rule", "Manage rules", list, get, a.ruleCreateCommand(), enable, disable, del)
}

func (a *app) triggerCommand() *cobra.Command {
	list := packList(a, "List triggers", "only this pack's triggers", Triggers, "triggers", []string{"ref", "type", "enabled", "webhookUrl", "description"})
	return group("trigger", "List triggers", list)
}

// readPayload reads JSON from a file, - for stdin, or @file; "" is null.
func (a *app) readPayload(arg string) (*json.RawMessage, error) {
	if arg == "" {
		return nil, nil
	}
	var raw []byte
	var err error
	switch {
	case arg == "-":
		raw, err = io.ReadAll(a.stdin)
	case strings.HasPrefix(arg, "@"):
		raw, err = os.ReadFile(arg[1:])
	case json.Valid([]byte(arg)):
		raw = []byte(arg)
	default:
		raw, err = os.ReadFile(arg)
	}
	if err != nil {
		return nil, usageErr("%v", err)
	}
	if !json.Valid(raw) {
		var v any
		if yerr := yaml.Unmarshal(raw, &v); yerr != nil || v == nil {
			return nil, usageErr("the payload is neither JSON nor YAML")
		}
		if raw, err = json.Marshal(v); err != nil {
			return nil, usageErr("the payload: %v", err)
		}
	}
	m := json.RawMessage(raw)
	return &m, nil
}

func (a *app) eventCommand() *cobra.Command {
	emit := &cobra.Command{
		Use: "emit TRIGGER [PAYLOAD]", Short: "Emit an event; PAYLOAD is JSON, a file, @file or - for stdin", Args: nArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			var p *json.RawMessage
			if len(args) == 2 {
				if p, err = a.readPayload(args[1]); err != nil {
					return err
				}
			}
			res, err := EmitEvent(c.Context(), cl, EmitEventInput{Trigger: args[0], Payload: p})
			if err != nil {
				return err
			}
			return a.printObject(&res.EmitEvent.Event, []string{"id", "triggerRef", "payload", "createdAt"})
		},
	}
	return group("event", "Emit events", emit)
}

func (a *app) webhookCommand() *cobra.Command {
	var data, key string
	post := &cobra.Command{
		Use: "post TRIGGER", Short: "POST a body to a trigger's webhook", Args: nArgs(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			conn, err := a.connect()
			if err != nil {
				return err
			}
			body := []byte("{}")
			if data != "" {
				p, err := a.readPayload(data)
				if err != nil {
					return err
				}
				body = *p
			}
			req, err := http.NewRequestWithContext(c.Context(), http.MethodPost, conn.url+"/webhooks/"+args[0], bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			if key != "" {
				req.Header.Set("X-Attune-Webhook-Key", key)
			}
			res, err := conn.http.Do(req)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			out, _ := io.ReadAll(res.Body)
			if res.StatusCode >= 300 {
				code := ExitServer
				switch res.StatusCode {
				case http.StatusBadRequest, http.StatusUnprocessableEntity:
					code = ExitUsage
				case http.StatusUnauthorized, http.StatusForbidden:
					code = ExitAuth
				case http.StatusNotFound:
					code = ExitNotFound
				case http.StatusConflict:
					code = ExitConflict
				}
				return &exitError{code: code, msg: fmt.Sprintf("webhook: HTTP %d: %s", res.StatusCode, strings.TrimSpace(string(out)))}
			}
			var v any
			if json.Unmarshal(out, &v) != nil {
				v = map[string]any{"response": string(out)}
			}
			return a.printObject(v, nil)
		},
	}
	post.Flags().StringVarP(&data, "data", "d", "", "the body: JSON, a file, @file or - for stdin")
	post.Flags().StringVar(&key, "key", "", "the webhook key (X-Attune-Webhook-Key)")
	return group("webhook", "Post to webhooks", post)
}

func (a *app) auditCommand() *cobra.Command {
	var limit int
	var op string
	list := &cobra.Command{
		Use: "list", Short: "List the audit trail of mutations, newest first", Args: nArgs(0, 0),
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			where := map[string]any{}
			if op != "" {
				where["operation"] = op
			}
			res, err := AuditEvents(c.Context(), cl, &where, &limit)
			if err != nil {
				return err
			}
			return a.printNodes(res, "auditEvents", []string{"id", "createdAt", "actor", "role", "operation", "outcome", "errorCode", "packRef"})
		},
	}
	list.Flags().IntVarP(&limit, "limit", "n", 50, "at most this many")
	list.Flags().StringVar(&op, "operation", "", "only this mutation (e.g. installPack)")
	return group("audit", "Read the audit trail", list)
}

// oneArg is a subcommand of one argument (a ref, an id, a name) that calls
// op with it and prints what pick takes from the answer, in columns.
func oneArg[T any](a *app, use, short string, op func(context.Context, graphql.Client, string) (*T, error),
	pick func(*T) any, columns []string) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Args: nArgs(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			res, err := op(c.Context(), cl, args[0])
			if err != nil {
				return err
			}
			return a.printObject(pick(res), columns)
		},
	}
}

// packList is a list subcommand with --pack (only that pack's rows) and
// --limit, printing the rows op returns under path in columns.
func packList[T any](a *app, short, packHelp string, op func(context.Context, graphql.Client, *map[string]any, *int) (*T, error),
	path string, columns []string) *cobra.Command {
	var pack string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: short, Args: nArgs(0, 0),
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			where := map[string]any{}
			if pack != "" {
				where["packRef"] = pack
			}
			res, err := op(c.Context(), cl, &where, &limit)
			if err != nil {
				return err
			}
			return a.printNodes(res, path, columns)
		},
	}
	list.Flags().StringVarP(&pack, "pack", "p", "", packHelp)
	list.Flags().IntVarP(&limit, "limit", "n", 100, "at most this many")
	return list
}
