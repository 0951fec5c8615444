package middleware

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync"
)

// ErrorBody is the one JSON shape of every error a client sees:
//
//	{"error": {"code": "not_found", "message": "widget not found", "request_id": "…"}}
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

// WriteJSON writes v as JSON with the given status and Content-Type
// application/json. A value that cannot be encoded becomes a 500 error body
// with the request ID, and under Logger the encoding error goes into the
// request's access line, as WriteError does with an internal error.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	buf := jsonBufPool.Get().(*bytes.Buffer)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		buf.Reset()
		detail := ErrorDetail{Code: "internal_error", Message: "response could not be encoded"}
		if st := stateOfWriter(w); st != nil {
			st.err = fmt.Errorf("middleware: WriteJSON: %w", err)
			detail.RequestID = st.requestID
			if st.debug {
				detail.Message = st.err.Error()
			}
		}
		_ = json.NewEncoder(buf).Encode(ErrorBody{Error: detail})
		status = http.StatusInternalServerError
	}
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	if buf.Cap() <= maxPooledJSONBuf {
		jsonBufPool.Put(buf)
	}
}

// jsonContentType is shared by every response; the full slice expression
// makes an append by anyone copy instead of writing into it.
var jsonContentType = []string{"application/json"}[:1:1]

// jsonBufPool holds encode buffers; big ones are dropped, not kept.
var jsonBufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledJSONBuf = 64 << 10

// WriteError writes err in the kernel's JSON error shape. The status comes
// from err (an *Error, or any error in the chain with an HTTPStatus() int
// method such as db.ErrNotFound); any other error is a 500. For a status of
// 500 or more the client sees only the message of the error that carries
// the status (see Classify), or "internal server error"; the whole text of
// err is shown only in debug mode and is attached to the request's log line.
// Below 500, when the client saw only an error's ClientMessage (a database
// conflict: its driver message names values and indexes), the whole text
// of err is attached to the request's log line too.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := Classify(err)
	st := stateFrom(r)
	if st != nil {
		switch {
		case status >= 500:
			st.err = err
			if st.debug {
				msg = err.Error()
			}
		case withheld(err):
			// The client saw the kernel's words; the driver's go to the
			// access line of the request.
			st.err = err
		}
	}
	writeErrorBody(w, r, status, code, msg)
}

// withheld reports whether err has text the client did not see: an error
// with a ClientMessage and no *Error choosing the message above it.
func withheld(err error) bool {
	var cm clientMessager
	return errors.As(err, &cm)
}

// WriteErrorCode writes an error response with an explicit status, code and message.
func WriteErrorCode(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	writeErrorBody(w, r, status, code, message)
}

func writeErrorBody(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	id, _ := RequestIDFrom(r.Context())
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg, RequestID: id}})
}

// DecodeJSON decodes the request body into dst. It refuses a missing
// Content-Type or one other than application/json (415), a body over the limit (413, see
// BodyLimit; 1 MiB when no BodyLimit runs), malformed JSON, unknown fields and
// trailing data (400). The returned error is an *Error ready for WriteError.
func DecodeJSON(r *http.Request, dst any) error {
	// A missing Content-Type is refused too: browsers send cross-origin
	// bodies without one (or as text/plain) without a CORS preflight.
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return NewError(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json")
	}
	body := r.Body
	if body == nil {
		return NewError(http.StatusBadRequest, "invalid_json", "request body is empty")
	}
	if !bodyLimited(r) {
		body = http.MaxBytesReader(nil, body, DefaultBodyLimit)
	}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err, dst)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return jsonError(err, nil)
			}
		}
		return NewError(http.StatusBadRequest, "invalid_json", "request body must contain a single JSON value")
	}
	return nil
}

// jsonError turns an error of decoding into dst into the client's message.
func jsonError(err error, dst any) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		ute *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large", Message: "request body is too large", Err: err}
	case errors.Is(err, io.EOF):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "request body is empty", Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &se):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "request body is not valid JSON", Err: err}
	case errors.As(err, &ute):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: typeErrorMessage(ute, dst), Err: err}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field "), Err: err}
	}
	return &Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "request body is not valid JSON", Err: err}
}

// typeErrorMessage says which JSON type a value must have, in JSON's words:
// Go's type names mean nothing to a client. encoding/json names the field
// (dotted, without array indexes or map keys); an empty name is the body
// itself, or an element of an array or object at its top.
func typeErrorMessage(ute *json.UnmarshalTypeError, dst any) string {
	want := jsonTypeOf(ute.Type)
	if t := reflect.TypeOf(dst); ute.Field == "" && t != nil && t.Kind() == reflect.Pointer && t.Elem() == ute.Type {
		return "request body must be a JSON " + want
	}
	if strings.HasPrefix(ute.Value, "number") && want == "number" {
		// A number that does not fit: a fraction or too big.
		want = "number within range"
		switch ute.Type.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			want = "whole number within range"
		}
	}
	article := "a "
	if strings.IndexByte("aeiou", want[0]) >= 0 {
		article = "an "
	}
	if ute.Field == "" {
		return "every value in the request body must be " + article + want
	}
	return "field " + ute.Field + " must be " + article + want
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// jsonTypeOf names the JSON type that decodes into t.
func jsonTypeOf(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return "string"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string" // []byte is base64 text
		}
		return "array"
	case reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return "value of another type"
}
