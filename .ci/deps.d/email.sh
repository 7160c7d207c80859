# Email: the real SMTP server (Python aiosmtpd) that the email integration
# tests (alerting/notify/email, alerting) start through internal/sinktest.
apt_install python3-aiosmtpd
