package inproc

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// httpUserAgent is sent unless the action sets its own User-Agent.
const httpUserAgent = "attune-http-request"

// runHTTP is StackStorm's http-request runner: one request, the result
// {status_code, body, parsed, headers}, SUCCEEDED for statuses 200 to 206
// and FAILED for any other, TIMEOUT when the request's timeout passes.
func runHTTP(ctx context.Context, o Options, req Request) (Outcome, error) {
	p := req.Parameters
	target := str(p, "url")
	if target == "" {
		return Outcome{}, prepErr("the url parameter is required")
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Outcome{}, prepErr("url %q is not an absolute http or https URL", target)
	}
	black, white := stringList(p["url_hosts_blacklist"]), stringList(p["url_hosts_whitelist"])
	if len(black) > 0 && len(white) > 0 {
		return failed(`"url_hosts_blacklist" and "url_hosts_whitelist" parameters are mutually exclusive. Only one should be provided.`), nil
	}
	host := strings.Trim(u.Hostname(), "[]")
	if slices.Contains(black, host) {
		return failed(fmt.Sprintf("URL %q is blacklisted", target)), nil
	}
	if len(white) > 0 && !slices.Contains(white, host) {
		return failed(fmt.Sprintf("URL %q is not whitelisted", target)), nil
	}
	if q, ok := p["params"].(map[string]any); ok && len(q) > 0 {
		values := u.Query()
		for _, k := range sortedKeys(q) {
			if list, ok := q[k].([]any); ok {
				for _, v := range list {
					values.Add(k, text(v))
				}
				continue
			}
			values.Set(k, text(q[k]))
		}
		u.RawQuery = values.Encode()
	}

	headers := stringMap(p["headers"])
	body, contentType, err := httpBody(p, headers)
	if err != nil {
		return failed(err.Error()), nil
	}
	method := strings.ToUpper(str(p, "method"))
	if method == "" {
		method = http.MethodGet
		if body != nil {
			method = http.MethodPost
		}
	}
	timeout := seconds(p["timeout"], 60*time.Second)
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(rctx, method, u.String(), rd)
	if err != nil {
		return Outcome{}, prepErr("building the request: %v", err)
	}
	for k, v := range headers {
		hr.Header.Set(k, v)
	}
	if contentType != "" {
		hr.Header.Set("Content-Type", contentType)
	}
	if hr.Header.Get("User-Agent") == "" {
		hr.Header.Set("User-Agent", httpUserAgent)
	}
	if cookies, ok := p["cookies"].(map[string]any); ok {
		for _, k := range sortedKeys(cookies) {
			hr.AddCookie(&http.Cookie{Name: k, Value: text(cookies[k])})
		}
	}
	setAuth(hr, p)

	client, err := httpClient(p)
	if err != nil {
		return Outcome{}, err
	}
	resp, err := client.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return Outcome{Status: Failed, Error: ctx.Err().Error()}, nil // Run reports the context's end
		}
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			msg := fmt.Sprintf("request to %s timed out after %s", target, timeout)
			return Outcome{Status: TimedOut, ExitCode: 1, Result: map[string]any{"error": msg}, Error: msg}, nil
		}
		return failed(fmt.Sprintf("request to %s failed: %v", target, err)), nil
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, int64(o.MaxBody)+1))
	if err != nil {
		return failed(fmt.Sprintf("reading the response of %s: %v", target, err)), nil
	}
	var stderr string
	if len(raw) > o.MaxBody {
		raw = raw[:o.MaxBody]
		stderr = fmt.Sprintf("response body truncated at %d bytes (worker.max_output_bytes)", o.MaxBody)
	}
	respHeaders := map[string]any{}
	for k, v := range resp.Header {
		respHeaders[k] = strings.Join(v, ", ")
	}
	result := map[string]any{"status_code": resp.StatusCode, "headers": respHeaders}
	result["body"], result["parsed"] = parseBody(resp.Header.Get("Content-Type"), raw)
	out := Outcome{Status: Succeeded, Result: result, Stderr: stderr}
	if resp.StatusCode < 200 || resp.StatusCode > 206 {
		out.Status, out.ExitCode = Failed, 1
		out.Error = fmt.Sprintf("%s %s answered %s", method, target, resp.Status)
	}
	return out, nil
}

// failed is an outcome that failed before or without a response.
func failed(msg string) Outcome {
	return Outcome{Status: Failed, ExitCode: 1, Result: map[string]any{"error": msg}, Error: msg}
}

// httpBody is the request body: a file upload (file_name and file_content,
// as multipart form data), else body, which is re-encoded as JSON when the
// Content-Type header says application/json (a string body must then hold
// JSON). It returns the content type to set, if it chose one.
func httpBody(p map[string]any, headers map[string]string) ([]byte, string, error) {
	if name, content := str(p, "file_name"), str(p, "file_content"); name != "" && content != "" {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		var part io.Writer
		var err error
		if ct := str(p, "file_content_type"); ct != "" {
			h := make(map[string][]string)
			h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name=%q; filename=%q`, name, name)}
			h["Content-Type"] = []string{ct}
			part, err = w.CreatePart(h)
		} else {
			part, err = w.CreateFormFile(name, name)
		}
		if err != nil {
			return nil, "", err
		}
		_, _ = io.WriteString(part, content)
		if err := w.Close(); err != nil {
			return nil, "", err
		}
		return buf.Bytes(), w.FormDataContentType(), nil
	}
	body, ok := p["body"]
	if !ok || body == nil || body == "" {
		return nil, "", nil
	}
	isJSON := false
	for k, v := range headers {
		if strings.EqualFold(k, "Content-Type") && v == "application/json" {
			isJSON = true
		}
	}
	if isJSON {
		if s, ok := body.(string); ok {
			var v any
			if err := json.Unmarshal([]byte(s), &v); err != nil {
				return nil, "", fmt.Errorf("Request body (%s) can't be parsed as JSON", s) //nolint:staticcheck // StackStorm's message
			}
			body = v
		}
		b, err := json.Marshal(body)
		return b, "", err
	}
	if s, ok := body.(string); ok {
		return []byte(s), "", nil
	}
	b, err := json.Marshal(body)
	return b, "", err
}

// setAuth applies basic authentication from username and password, or the
// auth parameter: "user:password" (basic), or "name=value" (a header, as in
// StackStorm's "x-auth-token=XYZ" example).
func setAuth(hr *http.Request, p map[string]any) {
	if user, pass := str(p, "username"), str(p, "password"); user != "" || pass != "" {
		hr.SetBasicAuth(user, pass)
		return
	}
	switch a := p["auth"].(type) {
	case string:
		if name, value, ok := strings.Cut(a, "="); ok && !strings.Contains(name, ":") {
			hr.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
		} else if user, pass, ok := strings.Cut(a, ":"); ok {
			hr.SetBasicAuth(user, pass)
		} else if a != "" {
			hr.Header.Set("Authorization", a)
		}
	case []any:
		if len(a) == 2 {
			hr.SetBasicAuth(text(a[0]), text(a[1]))
		}
	case map[string]any:
		if u, ok := a["username"]; ok {
			hr.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(text(u)+":"+text(a["password"]))))
		}
	}
}

// httpClient is a client for one request: its own transport, so the
// proxy and certificate settings of one action never reach another's.
func httpClient(p map[string]any) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if !boolean(p, "verify_ssl_cert", true) {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the action asked for it (verify_ssl_cert: false)
	}
	httpProxy, httpsProxy := str(p, "http_proxy"), str(p, "https_proxy")
	if httpProxy != "" || httpsProxy != "" {
		proxies := map[string]*url.URL{}
		for scheme, raw := range map[string]string{"http": httpProxy, "https": httpsProxy} {
			if raw == "" {
				continue
			}
			pu, err := url.Parse(raw)
			if err != nil || pu.Host == "" {
				return nil, prepErr("%s_proxy %q is not a URL", scheme, raw)
			}
			proxies[scheme] = pu
		}
		tr.Proxy = func(r *http.Request) (*url.URL, error) {
			if pu, ok := proxies[r.URL.Scheme]; ok {
				return pu, nil
			}
			return http.ProxyFromEnvironment(r)
		}
	}
	c := &http.Client{Transport: tr}
	if !boolean(p, "allow_redirects", false) {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c, nil
}

// parseBody is StackStorm's response parsing: a body whose content type
// (without parameters) is application/json becomes its JSON value and
// parsed is true; any other body, or JSON that does not parse, stays text.
func parseBody(contentType string, raw []byte) (any, bool) {
	text := string(raw)
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return text, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return text, false
	}
	return v, true
}
