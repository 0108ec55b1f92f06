package registry

// Redact is redact, for the tests of package registry_test.
var Redact = redact
