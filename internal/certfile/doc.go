// Package certfile serves TLS from certificate and key files that may change
// on disk: a Store reads a listener's tls: section (cert_file, key_file and
// optionally client_ca_file), hands out the current certificate to every new
// handshake through tls.Config.GetCertificate, and reads the files again when
// they change (filewatch). A reload that fails keeps the certificate in
// force; one that finds the same bytes changes nothing and logs no reload.
package certfile
