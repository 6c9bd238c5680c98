package rule

import (
	"fmt"
	"sort"
	"strings"
)

// SecretFlowError says which parameter would receive a secret it is not
// declared to hold.
type SecretFlowError struct {
	Param, Secret string
}

// Error implements error.
func (e *SecretFlowError) Error() string {
	return fmt.Sprintf("secret %s may only flow into a parameter declared secret, and %s is not", e.Secret, e.Param)
}

// CheckSecretFlow refuses templates that would put a secret (a context path
// in secretRoots, such as "keystore.db_password") into a parameter that
// isSecretParam does not confirm, so a secret never lands in stored,
// unredacted parameters. paramRefs is Templates.ParamReferences.
func CheckSecretFlow(paramRefs map[string][]string, secretRoots []string, isSecretParam func(string) bool) error {
	params := make([]string, 0, len(paramRefs))
	for p := range paramRefs {
		params = append(params, p)
	}
	sort.Strings(params)
	for _, p := range params {
		if isSecretParam(p) {
			continue
		}
		for _, ref := range paramRefs[p] {
			for _, root := range secretRoots {
				if ref == root || strings.HasPrefix(ref, root+".") || strings.HasPrefix(root, ref+".") {
					return &SecretFlowError{Param: p, Secret: root}
				}
			}
		}
	}
	return nil
}
