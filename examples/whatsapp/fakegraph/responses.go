package fakegraph

import (
	"net/http"
	"time"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// Response is a scripted answer: an HTTP status and a Graph error body.
type Response struct {
	Status  int    // HTTP status
	Code    int    // Graph error code; 0 leaves it out
	Message string // the error message
	Details string // error_data.details
	// RetryAfter sets a Retry-After header in whole seconds; 0 sends none.
	RetryAfter time.Duration
}

// ServerError is a 500 with Meta's "something went wrong" code.
func ServerError() Response {
	return Response{Status: http.StatusInternalServerError, Code: cloudapi.CodeSomethingWentWrong, Message: "(#131000) Something went wrong"}
}

// InvalidParameter is a 400 with Graph's generic invalid-parameter code
// 100: a request no retry can fix.
func InvalidParameter() Response {
	return Response{Status: http.StatusBadRequest, Code: 100, Message: "(#100) Invalid parameter"}
}

// Throughput is the 400 Meta answers when the business number's
// messages-per-second throughput is exceeded (code 130429, no Retry-After).
func Throughput() Response {
	return Response{
		Status: http.StatusBadRequest, Code: cloudapi.CodeThroughput, Message: "(#130429) Rate limit hit",
		Details: "Cloud API message throughput has been reached.",
	}
}

// TooManyRequests is an HTTP 429 without a Graph code, with a Retry-After
// header when retryAfter is positive.
func TooManyRequests(retryAfter time.Duration) Response {
	return Response{Status: http.StatusTooManyRequests, Message: "Too Many Requests", RetryAfter: retryAfter}
}

// PairRateLimit is the 429 Meta answers for too many messages to one user
// (code 131056).
func PairRateLimit() Response {
	return Response{
		Status: http.StatusTooManyRequests, Code: cloudapi.CodePairRateLimit,
		Message: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
	}
}

func (r Response) body() cloudapi.ErrorResponse {
	g := cloudapi.GraphError{Message: r.Message, Type: "OAuthException", Code: r.Code, FBTraceID: "fake"}
	if r.Details != "" {
		g.ErrorData = &cloudapi.ErrorData{MessagingProduct: "whatsapp", Details: r.Details}
	}
	return cloudapi.ErrorResponse{Error: g}
}
