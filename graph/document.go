package graph

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/auth"
)

// Error codes of the document limits, each its own so a client knows
// which bound it met.
const (
	codeTooManyTokens     = "TOO_MANY_TOKENS"
	codeTooManyFields     = "TOO_MANY_FIELDS"
	codeTooManySpreads    = "TOO_MANY_FRAGMENT_SPREADS"
	codeTooManyDirectives = "TOO_MANY_DIRECTIVES"
	codeTooDeep           = "QUERY_TOO_DEEP"
	codeCanceled          = "REQUEST_CANCELED"
)

func init() {
	// Refused documents answer like parse and validation failures (HTTP
	// 422, or 400 for application/graphql-response+json): nothing ran.
	for _, c := range []string{codeTooManyTokens, codeTooManyFields, codeTooManySpreads,
		codeTooManyDirectives, codeTooDeep} {
		errcode.RegisterErrorType(c, errcode.KindProtocol)
	}
}

// DocumentLimits bound a GraphQL document before the server validates it.
// Validation is where hostile documents cost: its overlapping-fields rule
// compares fields pairwise across every fragment spread, so a kilobyte of
// nested fragments (each spreading the next twice) or a few thousand
// copies of one field keep a core busy for seconds to hours. Counts are
// taken as validation sees the document: a fragment's fields, spreads and
// directives count where it is defined and again wherever it is spread.
type DocumentLimits struct {
	// MaxTokens caps the lexical tokens (names, punctuation, values), counted
	// before the document is parsed.
	MaxTokens int
	// MaxFields caps field selections, fragments expanded.
	MaxFields int
	// MaxFragmentSpreads caps fragment spreads, fragments expanded: the
	// measure of a fan-out.
	MaxFragmentSpreads int
	// MaxDirectives caps directives, fragments expanded.
	MaxDirectives int
	// MaxDepth caps field nesting; introspection fields are exempt
	// (validation's own rule bounds them).
	MaxDepth int
}

// Defaults of DocumentLimits: several times what GraphiQL's introspection
// query and large Apollo or Relay operations use, and small enough that
// validating the worst document within them takes a small fraction of a
// second.
const (
	DefaultMaxTokens          = 15_000
	DefaultMaxFields          = 2_000
	DefaultMaxFragmentSpreads = 500
	DefaultMaxDirectives      = 500
	DefaultMaxDepth           = 12
)

// AnonymousMaxTokens caps the document of a request without a valid token
// when authentication is on: it may only introspect (GraphiQL's
// introspection query is about 200 tokens) or ask for __typename.
const AnonymousMaxTokens = 2_000

// MaxFieldRepeats caps how often one response name is selected in one
// selection set, counting the fields that inline fragments and spreads
// merge into it: validation compares those pairwise, so they cost the
// square of their number (a few hundred copies of one field took a second
// to validate). Fragment-heavy clients repeat id or __typename in a few
// dozen fragments at most.
const MaxFieldRepeats = 100

func (l DocumentLimits) withDefaults() DocumentLimits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxTokens, DefaultMaxTokens)
	def(&l.MaxFields, DefaultMaxFields)
	def(&l.MaxFragmentSpreads, DefaultMaxFragmentSpreads)
	def(&l.MaxDirectives, DefaultMaxDirectives)
	def(&l.MaxDepth, DefaultMaxDepth)
	return l
}

// documentGuard checks a request's document before gqlgen parses and
// validates it: the caller is authenticated (or asks only what anyone may
// ask), the document has few enough tokens to parse, and, parsed, few
// enough fields, spreads and directives and little enough depth to
// validate. It runs after the persisted-query extensions, which fill in
// the document. A document in the query cache has passed already (the
// limits do not change while the server runs); only the anonymous check
// runs again. The document is parsed here and again by gqlgen, a linear
// cost bounded by MaxTokens, so gqlgen's validation and its errors stay
// exactly its own.
type documentGuard struct {
	limits        DocumentLimits
	introspection bool
	cache         graphql.Cache[*ast.QueryDocument]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = documentGuard{}

func (documentGuard) ExtensionName() string                   { return "DocumentLimits" }
func (documentGuard) Validate(graphql.ExecutableSchema) error { return nil }

func (g documentGuard) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	if err := canceled(ctx); err != nil {
		return err
	}
	_, authenticated := auth.FromContext(ctx)
	if doc, ok := g.cache.Get(ctx, raw.Query); ok {
		if !authenticated && !g.anonymousMayRun(doc) {
			return unauthenticated(ctx)
		}
		return nil
	}
	maxTokens := g.limits.MaxTokens
	if !authenticated {
		maxTokens = min(maxTokens, AnonymousMaxTokens)
	}
	if err := countTokens(ctx, raw.Query, maxTokens); err != nil {
		if !authenticated && err.Extensions["code"] == codeTooManyTokens {
			return unauthenticated(ctx)
		}
		return err
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: raw.Query})
	if err != nil {
		var gqlErr *gqlerror.Error
		if !errors.As(err, &gqlErr) {
			gqlErr = gqlerror.Wrap(err)
		}
		errcode.Set(gqlErr, errcode.ParseFailed)
		return gqlErr
	}
	if !authenticated && !g.anonymousMayRun(doc) {
		return unauthenticated(ctx)
	}
	if err := canceled(ctx); err != nil {
		return err
	}
	return g.limits.check(doc)
}

// canceled is the error of a request whose client has gone: nobody reads
// it, but the work stops here.
func canceled(ctx context.Context) *gqlerror.Error {
	if ctx.Err() == nil {
		return nil
	}
	return &gqlerror.Error{Message: "request canceled", Extensions: map[string]any{"code": codeCanceled}}
}

// unauthenticated is the UNAUTHENTICATED error of a request without a
// valid token, with the reason the token was refused when there was one.
func unauthenticated(ctx context.Context) *gqlerror.Error {
	msg := "authentication required: send Authorization: Bearer <token>"
	if err, _ := ctx.Value(authErrKey{}).(error); err != nil {
		if e, ok := apperr.As(err); ok {
			msg = e.Message
		}
	}
	return &gqlerror.Error{
		Message:    msg + " (without a token only introspection and __typename are answered)",
		Extensions: map[string]any{"code": string(apperr.Unauthenticated)},
	}
}

// anonymousMayRun reports whether every operation of doc is a query asking
// only for __typename or, with introspection on, the schema.
func (g documentGuard) anonymousMayRun(doc *ast.QueryDocument) bool {
	frags := make(map[string]*ast.FragmentDefinition, len(doc.Fragments))
	for _, f := range doc.Fragments {
		frags[f.Name] = f
	}
	seen := map[string]bool{}
	var allowed func(ast.SelectionSet) bool
	allowed = func(set ast.SelectionSet) bool {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				switch s.Name {
				case "__typename":
				case "__schema", "__type":
					if !g.introspection {
						return false
					}
				default:
					return false
				}
			case *ast.InlineFragment:
				if !allowed(s.SelectionSet) {
					return false
				}
			case *ast.FragmentSpread:
				f := frags[s.Name]
				if seen[s.Name] || f == nil {
					continue // validation reports unknown fragments and cycles
				}
				seen[s.Name] = true
				if !allowed(f.SelectionSet) {
					return false
				}
			}
		}
		return true
	}
	for _, op := range doc.Operations {
		if op.Operation != ast.Query || !allowed(op.SelectionSet) {
			return false
		}
	}
	return true
}

// countTokens lexes query and refuses it past max tokens. A lexical error
// ends the count: the parser reports it.
func countTokens(ctx context.Context, query string, max int) *gqlerror.Error {
	lx := lexer.New(&ast.Source{Input: query})
	for n := 0; ; {
		tok, err := lx.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return nil
		}
		if tok.Kind == lexer.Comment {
			continue
		}
		if n++; n > max {
			return &gqlerror.Error{
				Message:    fmt.Sprintf("the document has more than %d tokens, the limit", max),
				Extensions: map[string]any{"code": codeTooManyTokens},
			}
		}
		if n%1024 == 0 {
			if err := canceled(ctx); err != nil {
				return err
			}
		}
	}
}

// docSize is what a selection set costs to validate and run.
type docSize struct {
	fields, spreads, directives, depth int
}

// saturation keeps counts of fan-outs (2^40 and beyond) from overflowing.
const saturation = 1 << 50

func satAdd(a, b int) int { return min(a+b, saturation) }

func (s *docSize) add(o docSize) {
	s.fields = satAdd(s.fields, o.fields)
	s.spreads = satAdd(s.spreads, o.spreads)
	s.directives = satAdd(s.directives, o.directives)
	s.depth = max(s.depth, o.depth)
}

// sizer measures selection sets, each fragment once (memoized), so it is
// linear in the document however far fragments fan out. It also finds
// the first response name selected more than MaxFieldRepeats times in
// one selection set (inline fragments and spreads merged into it), the
// shape validation compares pairwise.
type sizer struct {
	frags    map[string]*ast.FragmentDefinition
	memo     map[string]setInfo
	visiting map[string]bool
	cycle    string
	repeated string // a response name over MaxFieldRepeats, and its count
	repeats  int
}

// setInfo is a selection set's size and how often each response name is
// selected directly in it.
type setInfo struct {
	size  docSize
	names map[string]int
}

func (z *sizer) set(set ast.SelectionSet) setInfo {
	var size docSize
	names := map[string]int{}
	merge := func(sub map[string]int) {
		for k, n := range sub {
			names[k] = satAdd(names[k], n)
		}
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			sub := z.set(s.SelectionSet).size
			if s.Name == "__schema" || s.Name == "__type" {
				sub.depth = -1 // introspection is exempt from the depth limit
			}
			size.add(docSize{fields: satAdd(sub.fields, 1), spreads: sub.spreads,
				directives: satAdd(sub.directives, len(s.Directives)), depth: sub.depth + 1})
			names[cmp.Or(s.Alias, s.Name)]++
		case *ast.InlineFragment:
			sub := z.set(s.SelectionSet)
			sub.size.directives = satAdd(sub.size.directives, len(s.Directives))
			size.add(sub.size)
			merge(sub.names)
		case *ast.FragmentSpread:
			sub := z.fragment(s.Name)
			sub.size.spreads = satAdd(sub.size.spreads, 1)
			sub.size.directives = satAdd(sub.size.directives, len(s.Directives))
			size.add(sub.size)
			merge(sub.names)
		}
	}
	if z.repeated == "" {
		for k, n := range names {
			if n > MaxFieldRepeats {
				z.repeated, z.repeats = k, n
				break
			}
		}
	}
	return setInfo{size: size, names: names}
}

func (z *sizer) fragment(name string) setInfo {
	if info, ok := z.memo[name]; ok {
		return info
	}
	f := z.frags[name]
	if f == nil {
		return setInfo{} // validation reports the unknown fragment
	}
	if z.visiting[name] {
		z.cycle = name
		return setInfo{}
	}
	z.visiting[name] = true
	info := z.set(f.SelectionSet)
	info.size.directives = satAdd(info.size.directives, len(f.Directives))
	delete(z.visiting, name)
	z.memo[name] = info
	return info
}

func countText(n int) string {
	if n >= saturation {
		return "more than 2^50"
	}
	return fmt.Sprint(n)
}

// check measures every operation and fragment definition of doc (each is
// validated on its own) and refuses the document past a limit.
func (l DocumentLimits) check(doc *ast.QueryDocument) *gqlerror.Error {
	z := &sizer{
		frags:    make(map[string]*ast.FragmentDefinition, len(doc.Fragments)),
		memo:     make(map[string]setInfo, len(doc.Fragments)),
		visiting: map[string]bool{},
	}
	for _, f := range doc.Fragments {
		if _, dup := z.frags[f.Name]; !dup {
			z.frags[f.Name] = f
		}
	}
	var total docSize
	for _, op := range doc.Operations {
		size := z.set(op.SelectionSet).size
		size.directives = satAdd(size.directives, len(op.Directives))
		for _, v := range op.VariableDefinitions {
			size.directives = satAdd(size.directives, len(v.Directives))
		}
		total.add(size)
	}
	for _, f := range doc.Fragments {
		size := z.fragment(f.Name).size
		size.depth = 0 // a fragment's depth counts where it is spread
		total.add(size)
	}
	if z.cycle != "" {
		err := gqlerror.Errorf("cannot spread fragment %q within itself", z.cycle)
		errcode.Set(err, errcode.ValidationFailed)
		return err
	}
	limit := func(code, what string, got, max int) *gqlerror.Error {
		if got <= max {
			return nil
		}
		return &gqlerror.Error{
			Message:    fmt.Sprintf("the document has %s %s (fragments counted at each spread); the limit is %d", countText(got), what, max),
			Extensions: map[string]any{"code": code},
		}
	}
	if total.depth > l.MaxDepth {
		return &gqlerror.Error{
			Message:    fmt.Sprintf("operation is nested %d levels deep, which exceeds the limit of %d", total.depth, l.MaxDepth),
			Extensions: map[string]any{"code": codeTooDeep},
		}
	}
	if err := limit(codeTooManySpreads, "fragment spreads", total.spreads, l.MaxFragmentSpreads); err != nil {
		return err
	}
	if err := limit(codeTooManyFields, "fields", total.fields, l.MaxFields); err != nil {
		return err
	}
	if z.repeated != "" {
		return &gqlerror.Error{
			Message: fmt.Sprintf("%q is selected %s times in one selection set (fragments merged); the limit is %d",
				z.repeated, countText(z.repeats), MaxFieldRepeats),
			Extensions: map[string]any{"code": codeTooManyFields},
		}
	}
	return limit(codeTooManyDirectives, "directives", total.directives, l.MaxDirectives)
}
