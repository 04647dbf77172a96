// Package app wires CareGate together: it opens and migrates the store,
// builds the domain services, the portal and the API, and wraps them in the
// middleware every request passes through (request IDs, logs, security
// headers, identification, metrics). The command line and the end-to-end
// tests both start servers through it, so they run the same code.
package app
