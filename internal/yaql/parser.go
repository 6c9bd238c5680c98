package yaql

import "fmt"

// node is a parsed expression.
type node interface{ position() int }

type (
	constNode struct {
		pos int
		val any
	}
	// keywordNode is a bare name: a string where a value is expected, a key
	// after ".", a parameter name before "=>".
	keywordNode struct {
		pos  int
		name string
	}
	varNode struct {
		pos  int
		name string // "" for $
	}
	// callNode is name(args) or, with recv set, recv.name(args).
	callNode struct {
		pos  int
		name string
		recv node
		safe bool // recv?.name(args)
		args []arg
	}
	memberNode struct {
		pos  int
		recv node
		key  string
		safe bool
	}
	indexNode struct {
		pos  int
		recv node
		args []arg
	}
	listNode struct {
		pos   int
		items []arg
	}
	mapNode struct {
		pos   int
		items []arg
	}
	binaryNode struct {
		pos  int
		op   string
		l, r node
	}
	unaryNode struct {
		pos int
		op  string
		x   node
	}
)

// arg is one argument: a value, or a mapping key => value.
type arg struct {
	key   node // nil for a positional argument
	value node
}

func (n *constNode) position() int   { return n.pos }
func (n *keywordNode) position() int { return n.pos }
func (n *varNode) position() int     { return n.pos }
func (n *callNode) position() int    { return n.pos }
func (n *memberNode) position() int  { return n.pos }
func (n *indexNode) position() int   { return n.pos }
func (n *listNode) position() int    { return n.pos }
func (n *mapNode) position() int     { return n.pos }
func (n *binaryNode) position() int  { return n.pos }
func (n *unaryNode) position() int   { return n.pos }

// Binding powers, from YAQL's operator table (yaql/language/factory.py):
// "." and "?." bind tightest, then indexing, unary + and -, =~ and !~,
// * / mod, + -, comparisons and in, not, and, or, and -> loosest.
const (
	bpSend    = 10
	bpOr      = 20
	bpAnd     = 30
	bpNot     = 40
	bpCompare = 50
	bpAdd     = 60
	bpMul     = 70
	bpMatch   = 80
	bpUnary   = 90
	bpIndex   = 100
	bpDot     = 110
)

var binaryBP = map[string]int{
	"->": bpSend, "or": bpOr, "and": bpAnd,
	">": bpCompare, "<": bpCompare, ">=": bpCompare, "<=": bpCompare, "!=": bpCompare, "=": bpCompare, "in": bpCompare,
	"+": bpAdd, "-": bpAdd, "*": bpMul, "/": bpMul, "mod": bpMul, "=~": bpMatch, "!~": bpMatch,
	"[": bpIndex, ".": bpDot, "?.": bpDot,
}

type parser struct {
	src      string
	toks     []token
	i        int
	depth    int
	maxDepth int
}

// Parse checks the syntax of an expression and returns it ready to evaluate.
func Parse(expr string) (*Expression, error) {
	return parseWith(expr, DefaultLimits())
}

func parseWith(expr string, lim Limits) (*Expression, error) {
	if lim.MaxExprLen > 0 && len(expr) > lim.MaxExprLen {
		return nil, &Error{Expr: truncate(expr, 80), Pos: lim.MaxExprLen, Msg: fmt.Sprintf("expression longer than %d bytes", lim.MaxExprLen)}
	}
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{src: expr, toks: toks, maxDepth: lim.MaxDepth}
	if toks[0].kind == tEOF {
		return nil, p.errorf(toks[0], "empty expression")
	}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errorf(t, "unexpected %s", describe(t))
	}
	return &Expression{src: expr, root: n}, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isOp(text string) bool {
	t := p.peek()
	return t.kind == tOp && t.text == text
}

func (p *parser) expect(text string) error {
	t := p.next()
	if t.kind != tOp || t.text != text {
		return p.errorf(t, "expected %q, found %s", text, describe(t))
	}
	return nil
}

func (p *parser) errorf(t token, format string, a ...any) error {
	return &Error{Expr: p.src, Pos: t.pos, Msg: fmt.Sprintf(format, a...)}
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return fmt.Sprintf("string %q", t.val)
	case tFunc:
		return fmt.Sprintf("%q", t.text+"(")
	case tDollar:
		return fmt.Sprintf("%q", "$"+t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

// expr parses an expression whose operators bind tighter than minBP.
func (p *parser) expr(minBP int) (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.maxDepth > 0 && p.depth > p.maxDepth {
		return nil, p.errorf(p.peek(), "expression nested deeper than %d", p.maxDepth)
	}
	left, err := p.prefix()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tOp {
			return left, nil
		}
		bp, ok := binaryBP[t.text]
		if !ok || bp <= minBP {
			return left, nil
		}
		p.next()
		switch t.text {
		case ".", "?.":
			left, err = p.dot(left, t)
		case "[":
			var args []arg
			args, err = p.args("]")
			left = &indexNode{pos: t.pos, recv: left, args: args}
		case "->":
			// right associative
			var r node
			r, err = p.expr(bp - 1)
			left = &binaryNode{pos: t.pos, op: t.text, l: left, r: r}
		default:
			var r node
			r, err = p.expr(bp)
			left = &binaryNode{pos: t.pos, op: t.text, l: left, r: r}
		}
		if err != nil {
			return nil, err
		}
	}
}

// dot parses what follows "." or "?.": a key name or a method call.
func (p *parser) dot(left node, op token) (node, error) {
	t := p.next()
	safe := op.text == "?."
	switch t.kind {
	case tIdent:
		return &memberNode{pos: op.pos, recv: left, key: t.text, safe: safe}, nil
	case tFunc:
		args, err := p.args(")")
		if err != nil {
			return nil, err
		}
		return &callNode{pos: t.pos, name: t.text, recv: left, safe: safe, args: args}, nil
	}
	return nil, p.errorf(t, "expected a name or a method call after %q, found %s", op.text, describe(t))
}

func (p *parser) prefix() (node, error) {
	t := p.next()
	switch t.kind {
	case tNumber, tString, tTrue, tFalse:
		return &constNode{pos: t.pos, val: t.val}, nil
	case tNull:
		return &constNode{pos: t.pos}, nil
	case tIdent:
		return &keywordNode{pos: t.pos, name: t.text}, nil
	case tDollar:
		return &varNode{pos: t.pos, name: t.text}, nil
	case tFunc:
		args, err := p.args(")")
		if err != nil {
			return nil, err
		}
		return &callNode{pos: t.pos, name: t.text, args: args}, nil
	case tOp:
		switch t.text {
		case "(":
			n, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			return n, nil
		case "[":
			items, err := p.args("]")
			if err != nil {
				return nil, err
			}
			for _, a := range items {
				if a.key != nil {
					return nil, p.errorf(t, "a list cannot hold a mapping (=>)")
				}
			}
			return &listNode{pos: t.pos, items: items}, nil
		case "{":
			items, err := p.args("}")
			if err != nil {
				return nil, err
			}
			for _, a := range items {
				if a.key == nil {
					return nil, p.errorf(t, "a dictionary entry needs key => value")
				}
			}
			return &mapNode{pos: t.pos, items: items}, nil
		case "-", "+":
			x, err := p.expr(bpUnary)
			if err != nil {
				return nil, err
			}
			return &unaryNode{pos: t.pos, op: t.text, x: x}, nil
		case "not":
			x, err := p.expr(bpNot)
			if err != nil {
				return nil, err
			}
			return &unaryNode{pos: t.pos, op: t.text, x: x}, nil
		}
	}
	return nil, p.errorf(t, "unexpected %s", describe(t))
}

// args parses a comma separated argument list up to the closing token.
// Positional arguments come first, then key => value mappings.
func (p *parser) args(closing string) ([]arg, error) {
	var out []arg
	if p.isOp(closing) {
		p.next()
		return out, nil
	}
	named := false
	for {
		start := p.peek()
		v, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		if p.isOp("=>") {
			p.next()
			val, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			out = append(out, arg{key: v, value: val})
			named = true
		} else {
			if named {
				return nil, p.errorf(start, "a positional argument cannot follow a key => value argument")
			}
			out = append(out, arg{value: v})
		}
		t := p.next()
		if t.kind == tOp && t.text == closing {
			return out, nil
		}
		if t.kind != tOp || t.text != "," {
			return nil, p.errorf(t, "expected \",\" or %q, found %s", closing, describe(t))
		}
	}
}
