# Packages the sink destination tests need: rsyslog receives the syslog
# sink's RFC 5424 stream over TCP, and over TLS through rsyslog-gnutls.
apt_install rsyslog rsyslog-gnutls
