package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"
	"gopkg.in/yaml.v3"
)

// generic turns a typed response into plain JSON values (maps, lists,
// strings, float64s), the form every output format works on.
func generic(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	return out, d.Decode(&out)
}

// lookup follows a dotted path through maps.
func lookup(v any, path string) any {
	for _, part := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	return v
}

// selectFields keeps the given paths of an object, keyed by path.
func selectFields(v any, fields []string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		if strings.Contains(f, ".") {
			out[f] = lookup(m, f)
		} else if val, ok := m[f]; ok {
			out[f] = val
		} else {
			out[f] = nil
		}
	}
	return out
}

// fields returns -a's list, or def.
func (a *app) fields(def []string) []string {
	if a.attrs == "" {
		return def
	}
	var out []string
	for _, f := range strings.Split(a.attrs, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// printNodes prints the nodes of the connection at path in a typed
// response (a pointer, so genqlient's fragment marshalling applies).
func (a *app) printNodes(resp any, path string, columns []string) error {
	g, err := generic(resp)
	if err != nil {
		return err
	}
	edges, _ := lookup(g, path+".edges").([]any)
	nodes := make([]any, 0, len(edges))
	for _, e := range edges {
		nodes = append(nodes, lookup(e, "node"))
	}
	return a.printList(nodes, columns)
}

// printList prints a list of objects: a table of columns, or the objects
// as JSON or YAML (all their fields unless -a narrows them).
func (a *app) printList(items any, columns []string) error {
	g, err := generic(items)
	if err != nil {
		return err
	}
	list, _ := g.([]any)
	if list == nil {
		list = []any{}
	}
	if a.output != "table" {
		if a.attrs != "" {
			for i := range list {
				list[i] = selectFields(list[i], a.fields(nil))
			}
		}
		return a.encode(list)
	}
	cols := a.fields(columns)
	rows := make([][]string, len(list))
	for i, item := range list {
		rows[i] = make([]string, len(cols))
		for j, c := range cols {
			rows[i][j] = cell(lookup(item, c))
		}
	}
	return a.table(cols, rows)
}

// printObject prints one object: FIELD/VALUE rows in the given order
// (then any other field), or JSON/YAML.
func (a *app) printObject(obj any, order []string) error {
	g, err := generic(obj)
	if err != nil {
		return err
	}
	if a.output != "table" {
		if a.attrs != "" {
			g = selectFields(g, a.fields(nil))
		}
		return a.encode(g)
	}
	m, _ := g.(map[string]any)
	keys := a.fields(nil)
	if keys == nil {
		seen := map[string]bool{}
		for _, k := range order {
			if _, ok := m[k]; ok {
				keys = append(keys, k)
				seen[k] = true
			}
		}
		var rest []string
		for k := range m {
			if !seen[k] {
				rest = append(rest, k)
			}
		}
		sort.Strings(rest)
		keys = append(keys, rest...)
	}
	rows := make([][]string, len(keys))
	for i, k := range keys {
		rows[i] = []string{k, cell(lookup(m, k))}
	}
	return a.table([]string{"field", "value"}, rows)
}

// encode writes v as JSON or YAML.
func (a *app) encode(v any) error {
	if a.output == "yaml" {
		y, err := yaml.Marshal(yamlable(v))
		if err != nil {
			return err
		}
		_, err = a.stdout.Write(y)
		return err
	}
	e := json.NewEncoder(a.stdout)
	e.SetIndent("", "  ")
	e.SetEscapeHTML(false)
	return e.Encode(v)
}

// yamlable turns json.Numbers into ints or floats so YAML prints numbers.
func yamlable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = yamlable(x)
		}
	case []any:
		for i, x := range t {
			t[i] = yamlable(x)
		}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	}
	return v
}

// cell formats one value for a table: objects as compact JSON.
func cell(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return strings.ReplaceAll(t, "\n", "⏎")
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	}
	raw, _ := json.Marshal(v)
	return string(raw)
}

// width is stdout's terminal width, COLUMNS without one, 0 for unlimited.
func (a *app) width() int { return a.widthOf(a.stdout) }

// widthOf is w's terminal width, COLUMNS without one, 0 for unlimited.
func (a *app) widthOf(w io.Writer) int {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	if n, err := strconv.Atoi(a.env["COLUMNS"]); err == nil && n > 0 {
		return n
	}
	return 0
}

// table prints rows under upper-cased headers, columns two spaces apart.
// When the table is wider than the terminal, the widest columns are cut
// (with …) until it fits; the header is bold on a colour terminal.
func (a *app) table(headers []string, rows [][]string) error {
	widths := make([]int, len(headers))
	for i, h := range headers {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	if w := a.width(); w > 0 {
		total := func() int {
			n := 2 * (len(widths) - 1)
			for _, x := range widths {
				n += x
			}
			return n
		}
		for total() > w {
			widest := 0
			for i := range widths {
				if widths[i] > widths[widest] {
					widest = i
				}
			}
			if widths[widest] <= 8 {
				break
			}
			widths[widest]--
		}
	}
	bold := a.color(a.stdout)
	var b strings.Builder
	line := func(cells []string, header bool) {
		var l strings.Builder
		for i, c := range cells {
			c = fit(c, widths[i])
			if i < len(cells)-1 {
				c += strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2)
			}
			l.WriteString(c)
		}
		s := strings.TrimRight(l.String(), " ")
		if header && bold {
			s = "\x1b[1m" + s + "\x1b[0m"
		}
		b.WriteString(s + "\n")
	}
	up := make([]string, len(headers))
	for i, h := range headers {
		up[i] = strings.ToUpper(h)
	}
	line(up, true)
	for _, r := range rows {
		line(r, false)
	}
	_, err := io.WriteString(a.stdout, b.String())
	return err
}

// fit cuts s to n runes, ending with … when cut.
func fit(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// note prints a human message to stderr (never to stdout, which scripts read).
func (a *app) note(format string, args ...any) {
	fmt.Fprintf(a.stderr, format+"\n", args...)
}
