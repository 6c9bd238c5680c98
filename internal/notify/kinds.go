package notify

// Event kinds of the event pipeline; ID is the row's id.
const (
	// EventCreated means an event was stored.
	EventCreated = "event"
	// EnforcementCreated means a rule's enforcement was stored.
	EnforcementCreated = "enforcement"
)

// TokenRevoked means an API token was revoked; ID is the token's id. Every
// node ends the live connections (subscriptions) of that token.
const TokenRevoked = "token-revoked"

// Inquiry kinds; ID is the inquiry's id.
const (
	// InquiryCreated means an execution asked a person.
	InquiryCreated = "inquiry"
	// InquiryUpdated means an inquiry was answered, timed out or canceled.
	InquiryUpdated = "inquiry-updated"
)
