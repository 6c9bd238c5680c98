// Package gqltest is a small GraphQL-over-HTTP client for tests: it posts
// real requests to a real server and decodes data and errors. Test-only;
// not a stable API.
package gqltest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// Client posts GraphQL operations to URL.
type Client struct {
	URL    string
	Header http.Header
	HTTP   *http.Client
}

// New returns a client for the GraphQL endpoint at url.
func New(url string) *Client {
	return &Client{URL: url, Header: http.Header{}, HTTP: http.DefaultClient}
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is extensions.code.
func (e Error) Code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

// Response is a decoded GraphQL response.
type Response struct {
	Status int             `json:"-"`
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
}

// Do posts the operation and decodes the response.
func (c *Client) Do(tb testing.TB, query string, vars map[string]any) Response {
	tb.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range c.Header {
		req.Header[k] = v
	}
	return c.send(tb, req)
}

func (c *Client) send(tb testing.TB, req *http.Request) Response {
	tb.Helper()
	res, err := c.HTTP.Do(req)
	if err != nil {
		tb.Fatalf("POST %s: %v", c.URL, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	var r Response
	if err := json.Unmarshal(raw, &r); err != nil {
		tb.Fatalf("decoding response (HTTP %d): %v\n%s", res.StatusCode, err, raw)
	}
	r.Status = res.StatusCode
	return r
}

// Send posts a prepared request (multipart uploads, odd bodies).
func (c *Client) Send(tb testing.TB, req *http.Request) Response {
	tb.Helper()
	for k, v := range c.Header {
		req.Header[k] = v
	}
	return c.send(tb, req)
}

// Must runs the operation, fails the test on any error, and decodes data into out.
func (c *Client) Must(tb testing.TB, query string, vars map[string]any, out any) {
	tb.Helper()
	r := c.Do(tb, query, vars)
	if len(r.Errors) > 0 {
		tb.Fatalf("unexpected GraphQL errors: %+v", r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			tb.Fatalf("decoding data: %v\n%s", err, r.Data)
		}
	}
}

// Fail runs the operation, requires at least one error, and returns the first.
func (c *Client) Fail(tb testing.TB, query string, vars map[string]any) Error {
	tb.Helper()
	r := c.Do(tb, query, vars)
	if len(r.Errors) == 0 {
		tb.Fatalf("expected a GraphQL error, got data %s", r.Data)
	}
	return r.Errors[0]
}
