package api

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrorCode classifies an error so every layer (FSM, RPC, HTTP, CLI) can
// map it the same way.
type ErrorCode string

// Error codes and the HTTP statuses they map to.
const (
	CodeInvalid      ErrorCode = "invalid"      // 400
	CodeUnauthorized ErrorCode = "unauthorized" // 401
	CodeForbidden    ErrorCode = "forbidden"    // 403
	CodeNotFound     ErrorCode = "not_found"    // 404
	CodeConflict     ErrorCode = "conflict"     // 409
	CodeGone         ErrorCode = "gone"         // 410: no longer kept (event history)
	CodeTooLarge     ErrorCode = "too_large"    // 413
	// CodeUnsupportedMedia refuses a request body's Content-Type.
	CodeUnsupportedMedia ErrorCode = "unsupported_media_type" // 415
	CodeRateLimited      ErrorCode = "rate_limited"           // 429
	CodeNoLeader         ErrorCode = "no_leader"              // 503
	CodeUnavailable      ErrorCode = "unavailable"            // 503
	CodeInternal         ErrorCode = "internal"               // 500
)

// Error is an error with a code. Its JSON form is the body of every API
// error response: {"error": {"code": "...", "message": "..."}}.
type Error struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Errorf makes an *Error with code and a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns err's code, or CodeInternal for errors without one.
func CodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// HTTPStatus maps an error code to an HTTP status.
func HTTPStatus(code ErrorCode) int {
	switch code {
	case CodeInvalid:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict:
		return http.StatusConflict
	case CodeGone:
		return http.StatusGone
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeNoLeader, CodeUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// ErrorResponse is the JSON body of an API error.
type ErrorResponse struct {
	Error *Error `json:"error"`
}
