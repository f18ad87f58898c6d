package verify

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3 document of the API, served at PathOpenAPI.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3 document of the API (a copy).
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

// Route is one operation the server answers.
type Route struct {
	Method, Path string
}

// Routes lists every operation the server answers; the OpenAPI document
// describes exactly these (TestOpenAPIMatchesRoutes).
func Routes() []Route {
	return []Route{{http.MethodPost, PathVerify}, {http.MethodPost, PathMatch}, {http.MethodGet, PathOpenAPI}}
}

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(openAPI)
}
