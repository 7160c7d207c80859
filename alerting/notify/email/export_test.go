package email

import "github.com/opshub/opshub/alerting/notify"

// SpeakImplicitTLS makes n speak TLS from the first byte as it does on
// port 465, for a test server on another port.
func SpeakImplicitTLS(n notify.Notifier) { n.(*Notifier).implicitTLS = true }
