package param

// Check validates values that are already complete (rendered templates,
// defaults applied): every present, non-null value against its spec and
// every required parameter present. Unlike Validate it fills nothing in.
func (s Schema) Check(params map[string]any) error {
	var errs []FieldError
	for name, spec := range s {
		v, ok := params[name]
		switch {
		case (!ok || v == nil) && spec.Required:
			errs = append(errs, FieldError{Field: name, Message: "is required"})
		case ok && v != nil:
			errs = append(errs, spec.check(name, v)...)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return newError(errs)
}

// Relaxed returns s with the named parameters accepting any value: their
// values are templates, checked once rendered.
func (s Schema) Relaxed(names []string) Schema {
	out := make(Schema, len(s))
	for k, v := range s {
		out[k] = v
	}
	for _, n := range names {
		if spec, ok := out[n]; ok {
			spec.Type, spec.Enum, spec.Minimum, spec.Maximum, spec.Items = TypeAny, nil, nil, nil, nil
			out[n] = spec
		}
	}
	return out
}
